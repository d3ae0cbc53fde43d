"""The policy-gradient learners' maths against hand computations: the hybrid distribution's
log-probabilities and entropies, GAE against a plain reference loop, the PPO loss on a tiny
batch, advantage normalisation, and the mapping from policy heads to env actions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from xr_codec_marl.core.api import AgentSpec, EnvSpec, HybridActions
from xr_codec_marl.core.spaces import ContinuousDim, DiscreteSpace, HybridSpace
from xr_codec_marl.errors import UsageError
from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.learners.pg.distributions import HybridDistribution
from xr_codec_marl.learners.pg.layout import ActionLayout
from xr_codec_marl.learners.pg.ppo import gae, normalise_advantages, ppo_loss

LOG_2PI = math.log(2 * math.pi)


def test_hybrid_log_prob_and_entropy_match_hand_values() -> None:
    # head 0: logits (1, 2, 3) with category 2 masked -> p = (1, e) / (1 + e)
    # head 1: logits (0, 0) -> p = (1/2, 1/2); Gaussian: mean 0.5, sigma 2
    logits = [torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[0.0, 0.0]])]
    masks = [torch.tensor([[True, True, False]]), torch.tensor([[True, True]])]
    dist = HybridDistribution(logits, torch.tensor([[0.5]]), torch.tensor([math.log(2.0)]), masks)
    heads, x = torch.tensor([[1, 0]]), torch.tensor([[1.5]])
    e = math.e
    p0 = [1 / (1 + e), e / (1 + e)]
    want_lp = [math.log(p0[1]), math.log(0.5), -(1.0 ** 2) / (2 * 4) - math.log(2.0) - LOG_2PI / 2]
    np.testing.assert_allclose(dist.log_prob_parts(heads, x)[0].numpy(), want_lp, rtol=1e-6)
    assert dist.log_prob(heads, x).item() == pytest.approx(sum(want_lp), rel=1e-6)
    want_h = [-sum(p * math.log(p) for p in p0), math.log(2.0), 0.5 + LOG_2PI / 2 + math.log(2.0)]
    np.testing.assert_allclose(dist.entropy_parts()[0].numpy(), want_h, rtol=1e-6)
    assert dist.entropy().item() == pytest.approx(sum(want_h), rel=1e-6)
    # the masked category has probability 0, so log-prob -inf, and is never drawn
    assert dist.log_prob_parts(torch.tensor([[2, 0]]), x)[0, 0].item() == float("-inf")
    torch.manual_seed(0)
    big = HybridDistribution([logits[0].expand(2000, 3)], masks=[masks[0].expand(2000, 3)])
    drawn = big.sample()[0][:, 0]
    assert set(drawn.tolist()) == {0, 1}
    assert (drawn == 1).float().mean().item() == pytest.approx(p0[1], abs=0.04)
    mode_heads, mode_x = dist.mode()
    assert mode_heads.tolist() == [[1, 0]] and mode_x.tolist() == [[0.5]]


def test_entropy_gradient_is_finite_with_masked_categories() -> None:
    logits = torch.tensor([[0.3, -0.2, 1.0]], requires_grad=True)
    dist = HybridDistribution([logits], masks=[torch.tensor([[True, False, True]])])
    (dist.entropy().sum() + dist.log_prob(torch.tensor([[0]])).sum()).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad[0, 1].item() == 0.0


def _reference_gae(r: list[float], v: list[float], term: list[bool], filled: list[bool],
                   gamma: float, lam: float) -> list[float]:
    """A plain scalar loop, step by step from the end."""
    adv = [0.0] * len(r)
    nxt = 0.0
    for t in reversed(range(len(r))):
        if not filled[t]:
            adv[t], nxt = 0.0, 0.0
            continue
        nd = 0.0 if term[t] else 1.0
        delta = r[t] + gamma * nd * v[t + 1] - v[t]
        later = nxt if t + 1 < len(r) and filled[t + 1] else 0.0
        adv[t] = delta + gamma * lam * nd * later
        nxt = adv[t]
    return adv


def test_gae_matches_a_reference_loop() -> None:
    rng = np.random.default_rng(0)
    b, steps = 3, 6
    r = rng.normal(size=(b, steps)).astype(np.float32)
    v = rng.normal(size=(b, steps + 1)).astype(np.float32)
    term = np.zeros((b, steps), bool)
    term[0, 5] = True  # copy 0 terminates at the end; copy 1 is cut by the time limit
    filled = np.ones((b, steps), bool)
    filled[2, 4:] = False  # copy 2's last two windows were not measured
    adv, ret = gae(torch.tensor(r), torch.tensor(v), torch.tensor(term), torch.tensor(filled),
                   0.9, 0.8)
    for i in range(b):
        want = _reference_gae(r[i].tolist(), v[i].tolist(), term[i].tolist(),
                              filled[i].tolist(), 0.9, 0.8)
        np.testing.assert_allclose(adv[i].numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ret.numpy(), adv.numpy() + v[:, :steps], rtol=1e-6)
    # by hand: the last step of the time-limited copy bootstraps, the terminated one does not
    assert adv[1, 5].item() == pytest.approx(r[1, 5] + 0.9 * v[1, 6] - v[1, 5], rel=1e-5)
    assert adv[0, 5].item() == pytest.approx(r[0, 5] - v[0, 5], rel=1e-5)


def test_ppo_loss_on_a_tiny_batch_matches_a_hand_computation() -> None:
    logp = torch.tensor([math.log(0.6), math.log(0.2)])
    logp_old = torch.tensor([math.log(0.4), math.log(0.4)])  # ratios 1.5 and 0.5
    adv = torch.tensor([2.0, -1.0])
    v = torch.tensor([[1.0], [0.0]])
    v_old = torch.tensor([[0.5], [0.5]])
    ret = torch.tensor([[2.0], [1.0]])
    ent = torch.tensor([[0.7, 1.2], [0.5, 1.0]])
    coefs = torch.tensor([0.01, 0.001])
    out = ppo_loss(logp, logp_old, adv, v, v_old, ret, ent, coefs, torch.ones(2, dtype=torch.bool),
                   clip=0.2, value_clip=0.2, value_coef=0.5)
    # surrogate: min(1.5*2, 1.2*2) = 2.4; min(0.5*-1, 0.8*-1) = -0.8 -> -(2.4 - 0.8)/2 = -0.8
    assert out.policy.item() == pytest.approx(-0.8, rel=1e-6)
    # value: sample 1: (1-2)^2 = 1 vs clipped 0.7 -> (0.7-2)^2 = 1.69 -> 1.69
    #        sample 2: (0-1)^2 = 1 vs clipped 0.3 -> (0.3-1)^2 = 0.49 -> 1.0; 0.5 * mean = 0.6725
    assert out.value.item() == pytest.approx(0.6725, rel=1e-6)
    np.testing.assert_allclose(out.entropy.numpy(), [0.6, 1.1], rtol=1e-6)
    want = -0.8 + 0.5 * 0.6725 - (0.01 * 0.6 + 0.001 * 1.1)
    assert out.total.item() == pytest.approx(want, rel=1e-6)
    assert out.clip_fraction.item() == pytest.approx(1.0)
    # without value clipping: 0.5 * mean(1, 1) = 0.5
    plain = ppo_loss(logp, logp_old, adv, v, v_old, ret, ent, coefs, torch.ones(2, dtype=torch.bool),
                     clip=0.2, value_clip=0.0, value_coef=0.5)
    assert plain.value.item() == pytest.approx(0.5, rel=1e-6)


def test_advantages_normalised_per_agent_or_across_agents() -> None:
    adv = torch.tensor([[[1.0, 10.0], [3.0, 30.0]]])  # [B=1, T=2, N=2]
    mask = torch.ones(1, 2, dtype=torch.bool)
    per_agent = normalise_advantages(adv, mask, "agent")
    s = math.sqrt(2.0)  # unbiased std of (1, 3)
    np.testing.assert_allclose(per_agent[0, :, 0].numpy(), [-1 / s, 1 / s], rtol=1e-5)
    np.testing.assert_allclose(per_agent[0, :, 1].numpy(), [-1 / s, 1 / s], rtol=1e-5)
    joint = normalise_advantages(adv, mask, "joint")
    flat = np.array([1.0, 10.0, 3.0, 30.0])
    want = (flat - flat.mean()) / flat.std(ddof=1)
    np.testing.assert_allclose(joint.reshape(-1).numpy(), want, rtol=1e-5)
    assert torch.equal(normalise_advantages(adv, mask, "none"), adv)


def _hybrid_spec(heads: tuple[int, ...] = (3,), low: float = -2.0, high: float = 3.0) -> EnvSpec:
    space = HybridSpace(tuple(DiscreteSpace(n, name=f"h{i}") for i, n in enumerate(heads)),
                        (ContinuousDim("level", low, high),))
    agents = tuple(AgentSpec(f"a{i}", "toy", 1, space.n_joint, action_space=space) for i in range(2))
    return EnvSpec("toy", agents, 1, ("r",), (), 1.0, 1)


def test_layout_maps_heads_and_clipped_gaussians_to_env_actions() -> None:
    layout = ActionLayout.from_spec(_hybrid_spec())
    assert layout.head_sizes == (3,) and layout.n_gaussian == 1
    assert layout.names == ("h0", "level")
    act = layout.to_env(np.array([[[2], [0]]]), np.array([[[0.0], [7.0]]]))
    assert isinstance(act, HybridActions)
    assert act.discrete.tolist() == [[2, 0]]
    np.testing.assert_allclose(act.continuous, [[[0.5], [3.0]]])  # middle; clipped to high
    # two heads: joint index row-major, marginal masks
    two = ActionLayout.from_spec(_hybrid_spec((2, 3)))
    assert two.to_env(np.array([[[1, 2], [0, 1]]]), np.zeros((1, 2, 1))).discrete.tolist() == [[5, 1]]
    avail = np.ones((1, 2, 6), bool)
    avail[0, 0, 3:] = False  # agent 0: first head's category 1 impossible
    m = two.head_masks(avail)
    assert m[0][0, 0].tolist() == [True, False] and m[1][0, 0].tolist() == [True, True, True]


def test_flat_heads_discretise_the_continuous_dimensions() -> None:
    layout = ActionLayout.from_spec(_hybrid_spec(), heads="flat", bins=3)
    assert layout.head_sizes == (9,) and layout.n_gaussian == 0 and layout.names == ("flat",)
    act = layout.to_env(np.array([[[0], [7]]]), np.zeros((1, 2, 0)))
    assert act.discrete.tolist() == [[0, 2]]  # 7 = joint 2, level 1
    np.testing.assert_allclose(act.continuous, [[[-2.0], [0.5]]])
    avail = np.array([[[True, False, True]] * 2])
    assert layout.head_masks(avail)[0][0, 0].tolist() == [True] * 3 + [False] * 3 + [True] * 3


def test_mixed_discrete_and_hybrid_agents_are_refused() -> None:
    hybrid = _hybrid_spec()
    plain = AgentSpec("d", "toy", 1, 3)
    spec = EnvSpec("mixed", (hybrid.agents[0], plain), 1, ("r",), (), 1.0, 1)
    with pytest.raises(UsageError, match="every agent's action space discrete"):
        ActionLayout.from_spec(spec)


def test_pg_settings_are_validated() -> None:
    for bad in ({"critic": "global"}, {"adv_norm": "batch"}, {"action_heads": "tanh"},
                {"continuous_bins": 1}, {"clip_coef": 0}, {"gae_lambda": 1.5},
                {"pg_baseline": "coma"}, {"cf_samples": 0}, {"cf_exact_max": 0}):
        with pytest.raises(UsageError):
            LearnerConfig.from_dict(bad)


def test_gae_is_additive_over_reward_components() -> None:
    """What a decomposed critic relies on: GAE of summed rewards and values is the sum of the
    components' GAE, so summing per-component advantages loses nothing."""
    g = torch.Generator().manual_seed(1)
    r, v = torch.randn(2, 5, 3, generator=g), torch.randn(2, 6, 3, generator=g)
    term = torch.zeros(2, 5, dtype=torch.bool)
    term[1, 2] = True
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1, 3:] = False
    per_c, _ = gae(r, v, term, mask, 0.95, 0.9)
    total, _ = gae(r.sum(-1, keepdim=True), v.sum(-1, keepdim=True), term, mask, 0.95, 0.9)
    np.testing.assert_allclose(per_c.sum(-1, keepdim=True).numpy(), total.numpy(), atol=1e-5)


def test_value_norm_keeps_the_exact_running_mean_and_variance() -> None:
    from xr_codec_marl.learners.pg.value_norm import ValueNorm

    g = torch.Generator().manual_seed(2)
    parts = [torch.randn(n, 2, generator=g) * 50 + 300 for n in (7, 1, 30)]
    norm = ValueNorm(2)
    for p in parts:
        norm.update(p)
    every = torch.cat(parts).double()
    np.testing.assert_allclose(norm.mean.numpy(), every.mean(0).numpy(), rtol=1e-10)
    np.testing.assert_allclose(norm.var.numpy(), every.var(0, unbiased=False).numpy(), rtol=1e-10)
    x = torch.tensor([[250.0, 350.0]])
    assert torch.allclose(norm.denormalise(norm.normalise(x)), x, rtol=1e-6)
    z = norm.normalise(every.float())
    np.testing.assert_allclose(z.mean(0).numpy(), [0.0, 0.0], atol=1e-4)


@pytest.mark.parametrize("kind", ["state", "obs", "aggregated"])
def test_critic_values_equal_the_per_agent_critic_and_run_a_state_critic_once(kind: str) -> None:
    """MAPPO's state critic sees the same input for every agent: critic_values runs it once
    per step and broadcasts, with the values (and shape) the per-agent inputs give."""
    from xr_codec_marl.learners.pg.networks import (
        Critic, critic_input_size, critic_inputs, critic_values,
    )

    torch.manual_seed(0)
    b, t, n, o, s = 2, 3, 4, 5, 6
    obs, state = torch.randn(b, t, n, o), torch.randn(b, t, s)
    critic = Critic(critic_input_size(o, s, n, kind), 2, 16)
    rows: list[int] = []
    critic.register_forward_hook(lambda m, inp, out: rows.append(inp[0][..., 0].numel()))
    fast = critic_values(critic, obs, state, kind)
    old = critic(critic_inputs(obs, state, kind))
    assert fast.shape == old.shape == (b, t, n, 2)
    torch.testing.assert_close(fast, old, rtol=0.0, atol=1e-6)
    assert rows[0] == (b * t if kind == "state" else b * t * n)


def _tiny_q(n_agents: int = 2, k: int = 2) -> tuple[object, tuple[int, ...], int]:
    from xr_codec_marl.learners.pg.networks import QCritic

    torch.manual_seed(3)
    head_sizes, g = (3,), 1
    return QCritic(4, n_agents, sum(head_sizes) + g, k, 8), head_sizes, g


def test_counterfactual_baseline_marginalises_agent_i_exactly() -> None:
    """b_i = sum_u pi_i(u) Q(c_i, a_-i, (u, mu_i)) against a loop over agents and options
    (one head of 3 options, option 2 unavailable to agent 0; continuous at the mean)."""
    from xr_codec_marl.learners.pg.counterfactual import alternatives, counterfactual_baseline
    from xr_codec_marl.learners.pg.networks import encode_actions

    q, head_sizes, _ = _tiny_q()
    b, n = 5, 2
    c = torch.randn(b, n, 4)
    logits = torch.randn(b, n, 3)
    mask = torch.ones(b, n, 3, dtype=torch.bool)
    mask[:, 0, 2] = False
    mean = torch.tensor([[[0.3], [1.7]]]).expand(b, n, 1)  # agent 1's mean clipped to 1
    dist = HybridDistribution([logits], mean, torch.zeros(1), [mask])
    heads = torch.tensor([[[0], [2]]]).expand(b, n, 1)
    x = torch.tensor([[[-0.5], [0.9]]]).expand(b, n, 1)
    joint = encode_actions(heads, x, head_sizes).reshape(b, -1)
    alts, w = alternatives(dist, head_sizes, exact_max=64, samples=4)
    assert alts.shape == (b, n, 3, 4) and torch.allclose(w[:, 0, 2], torch.zeros(b))
    got = counterfactual_baseline(q, c, joint, alts, w)  # type: ignore[arg-type]
    probs = torch.softmax(logits.masked_fill(~mask, float("-inf")), -1)
    want = torch.zeros(b, n, 2)
    for i in range(n):
        for u in range(3):
            h, xx = heads.clone(), x.clone()
            h[:, i, 0], xx[:, i, 0] = u, mean[:, i, 0].clamp(-1, 1)
            value = q(c[:, i], encode_actions(h, xx, head_sizes).reshape(b, -1))  # type: ignore[operator]
            want[:, i] += probs[:, i, u, None] * value
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    # Monte-Carlo with many draws of a_i' ~ pi_i approaches it (draws differ in x too, so
    # only roughly: the Q critic is smooth in its continuous input)
    torch.manual_seed(0)
    alts_mc, w_mc = alternatives(dist, head_sizes, exact_max=1, samples=2000)
    assert alts_mc.shape == (b, n, 2000, 4)
    mc = counterfactual_baseline(q, c, joint, alts_mc, w_mc)  # type: ignore[arg-type]
    assert (mc - got).abs().max() < 0.1


def test_a_q_blind_to_agent_i_gives_the_advantage_r_minus_q() -> None:
    """With Q ignoring agent i's action, b_i = Q(s, a): A_i = R - Q(s, a_taken)."""
    from xr_codec_marl.learners.pg.counterfactual import alternatives, counterfactual_baseline
    from xr_codec_marl.learners.pg.networks import encode_actions

    q, head_sizes, g = _tiny_q(n_agents=3)
    per = sum(head_sizes) + g
    with torch.no_grad():
        q.act.weight[:, per : 2 * per] = 0.0  # type: ignore[attr-defined, index]  # agent 1
    b = 4
    c, logits = torch.randn(b, 3, 4), torch.randn(b, 3, 3)
    dist = HybridDistribution([logits], torch.randn(b, 3, 1), torch.zeros(1))
    joint = encode_actions(torch.randint(0, 3, (b, 3, 1)), torch.randn(b, 3, 1),
                           head_sizes).reshape(b, -1)
    alts, w = alternatives(dist, head_sizes, 64, 4)
    base = counterfactual_baseline(q, c, joint, alts, w)  # type: ignore[arg-type]
    taken = q.taken(c, joint)  # type: ignore[attr-defined]
    returns = torch.randn(b, 3, 2)
    torch.testing.assert_close(returns[:, 1] - base[:, 1], returns[:, 1] - taken[:, 1])
    assert not torch.allclose(base[:, 0], taken[:, 0])  # agent 0's action does count
