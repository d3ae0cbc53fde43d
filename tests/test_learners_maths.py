"""The learning maths: mixers, IGM, decomposition consistency, targets, QTRAN and MHA losses."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from xr_codec_marl.learners.adaptive import AdaptiveWeights, importance_weights
from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.learners.learner import (
    Dims,
    Learner,
    epsilon_at,
    masked_greedy,
    qtran_losses,
    td_targets,
)
from xr_codec_marl.learners.mixers import (
    DecomposedQMixer,
    MultiHeadQMixer,
    QMixer,
    VDNMixer,
)
from xr_codec_marl.learners.registry import ALGO_NAMES, ALGOS, get_algo

N, S, C, A = 3, 7, 3, 4


def _qmix_variants() -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [
        DecomposedQMixer(N, S, 1, embed=8, hyper_hidden=16),
        DecomposedQMixer(N, S, C, embed=8, hyper_hidden=16),
        MultiHeadQMixer(N, S, C, embed=8, hyper_hidden=16),
    ]


@pytest.mark.parametrize("mixer", _qmix_variants(), ids=["qmix", "dqmix", "mh-qmix"])
def test_qmix_monotonic_per_component(mixer: torch.nn.Module) -> None:
    """dQ_tot,c / dQ_i,c >= 0 everywhere, and components do not leak into each other."""
    torch.manual_seed(1)
    k = len(mixer.mixers) if isinstance(mixer, DecomposedQMixer) else mixer.n_components
    state = torch.randn(256, S) * 3
    q = (torch.randn(256, k, N) * 5).requires_grad_(True)
    out = mixer(q, state)
    assert out.shape == (256, k)
    for c in range(k):
        (grad,) = torch.autograd.grad(out[:, c].sum(), q, retain_graph=True)
        assert (grad[:, c] >= 0).all()
        assert grad[:, c].abs().sum() > 0
        others = [j for j in range(k) if j != c]
        assert torch.all(grad[:, others] == 0)


def test_qmix_without_abs_would_not_be_monotonic() -> None:
    """Sanity check of the test above: the same hypernetworks without abs() give negative slopes."""
    torch.manual_seed(0)
    mixer = QMixer(N, S, embed=8, hyper_hidden=16)
    state = torch.randn(256, S) * 3
    q = torch.randn(256, N, requires_grad=True)
    w1 = mixer.hyper_w1(state).view(256, N, -1)
    hidden = torch.nn.functional.elu(torch.bmm(q.unsqueeze(1), w1).squeeze(1) + mixer.hyper_b1(state))
    raw = (hidden * mixer.hyper_wf(state)).sum(-1)
    (grad,) = torch.autograd.grad(raw.sum(), q)
    assert (grad < 0).any()


def test_vdn_is_the_sum() -> None:
    q = torch.randn(10, C, N)
    assert torch.equal(VDNMixer()(q, torch.zeros(10, S)), q.sum(-1))


@pytest.mark.parametrize("name", ["vdn", "qmix", "mh-qmix"])
def test_igm_greedy_joint_action_is_tuple_of_individual_greedy(name: str) -> None:
    """argmax over all A^N joint actions of Q_tot equals the per-agent argmaxes."""
    torch.manual_seed(3)
    mixer = {"vdn": VDNMixer(), "qmix": QMixer(N, S, 8, 16), "mh-qmix": MultiHeadQMixer(N, S, 1, 8, 16)}[name]
    joint = torch.tensor(list(itertools.product(range(A), repeat=N)))  # [A^N, N]
    for _ in range(20):
        utilities = torch.randn(N, A) * 4
        state = torch.randn(1, S) * 3
        chosen = utilities[torch.arange(N), joint]  # [A^N, N]
        if name == "qmix":
            q_tot = mixer(chosen, state.expand(len(joint), S))
        else:
            q_tot = mixer(chosen.unsqueeze(1), state.expand(len(joint), S))[:, 0]
        best = joint[q_tot.argmax()]
        assert torch.equal(best, utilities.argmax(dim=1))


def _batch(b: int = 4, t: int = 5, c: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    filled = torch.ones(b, t, dtype=torch.bool)
    filled[0, 3:] = False  # one shorter episode
    term = torch.zeros(b, t, dtype=torch.bool)
    term[0, 2] = True
    avail = torch.ones(b, t + 1, N, A, dtype=torch.bool)
    avail[:, :, 0, 3] = False
    return {
        "obs": torch.randn(b, t + 1, N, 5, generator=g),
        "state": torch.randn(b, t + 1, S, generator=g),
        "avail": avail,
        "actions": torch.randint(0, 3, (b, t, N), generator=g),
        "rewards": torch.randn(b, t, c, generator=g),
        "terminated": term,
        "filled": filled,
    }


@pytest.mark.parametrize("decomposed,vanilla", [("dvdn", "vdn"), ("dqmix", "qmix"), ("dqtran", "qtran")])
def test_one_component_decomposed_equals_vanilla(decomposed: str, vanilla: str) -> None:
    """With C = 1 and the same seed the D learner *is* the vanilla one: same loss, same step."""
    dims = Dims(N, 5, A, S, 1)
    cfg = LearnerConfig(td_lambda=0.5)
    batch = _batch()
    learners = []
    for name in (decomposed, vanilla):
        torch.manual_seed(42)
        learners.append(Learner(get_algo(name), cfg, dims))
    ld, lv = (lrn.losses(batch)[0] for lrn in learners)
    assert ld.shape == lv.shape == (1,)
    assert torch.equal(ld, lv)
    sd, sv = (lrn.train(batch) for lrn in learners)
    assert sd["loss"] == sv["loss"]
    assert torch.equal(learners[0].losses(batch)[0], learners[1].losses(batch)[0])


@pytest.mark.parametrize("td_lambda", [0.0, 0.6])
def test_vdn_component_targets_sum_to_summed_reward_target(td_lambda: float) -> None:
    """Sum over c of VDN targets y_c equals the target of the summed reward with summed utilities."""
    torch.manual_seed(5)
    b, t = 3, 6
    batch = _batch(b, t, C)
    target_q = torch.randn(b, t, N, C, A)  # target utilities at s_{t+1}, per component
    online_q = torch.randn(b, t, N, C, A)
    u_star = masked_greedy(online_q, batch["avail"][:, 1:])  # greedy on the summed utilities
    picked = target_q.gather(-1, u_star[..., None, None].expand(b, t, N, C, 1)).squeeze(-1)
    per_c = VDNMixer()(picked.reshape(b * t, N, C).transpose(1, 2), None).view(b, t, C)
    y_c = td_targets(batch["rewards"], batch["terminated"], batch["filled"], per_c, 0.9, td_lambda)
    summed_q = target_q.sum(dim=3, keepdim=True)  # the vanilla learner's utilities
    u_star_sum = masked_greedy(online_q.sum(3, keepdim=True), batch["avail"][:, 1:])
    assert torch.equal(u_star, u_star_sum)
    picked_sum = summed_q.gather(-1, u_star_sum[..., None, None].expand(b, t, N, 1, 1)).squeeze(-1)
    total = VDNMixer()(picked_sum.reshape(b * t, N, 1).transpose(1, 2), None).view(b, t, 1)
    y = td_targets(batch["rewards"].sum(-1, keepdim=True), batch["terminated"], batch["filled"], total,
                   0.9, td_lambda)
    torch.testing.assert_close(y_c.sum(-1, keepdim=True), y, rtol=1e-5, atol=1e-5)


def test_td_lambda_targets_by_hand() -> None:
    r = torch.tensor([[[1.0], [1.0]]])
    nxt = torch.tensor([[[10.0], [20.0]]])
    filled = torch.ones(1, 2, dtype=torch.bool)
    term = torch.zeros(1, 2, dtype=torch.bool)
    y = td_targets(r, term, filled, nxt, 0.5, 0.5)
    assert y.flatten().tolist() == [6.25, 11.0]  # G1 = 1 + .5*20; G0 = 1 + .5*(.5*10 + .5*11)
    term[0, 1] = True
    assert td_targets(r, term, filled, nxt, 0.5, 0.5).flatten().tolist() == [3.75, 1.0]
    assert td_targets(r, term, filled, nxt, 0.5, 0.0).flatten().tolist() == [6.0, 1.0]
    filled[0, 1] = False  # episode ends after step 0: bootstrap from V'_0 only
    assert td_targets(r, torch.zeros_like(term), filled, nxt, 0.5, 0.5)[0, 0, 0].item() == 6.0


def test_qtran_losses_by_hand() -> None:
    """Two filled steps (and a padded third with huge values that must not count)."""
    col = lambda *v: torch.tensor(v).view(1, 3, 1)
    q_jt = col(1.0, 2.0, 99.0).requires_grad_(True)
    y = col(2.0, 2.0, -99.0)
    greedy_sum = col(3.0, 1.0, 99.0)
    q_jt_greedy = col(2.5, 1.0, 99.0).requires_grad_(True)
    v = col(0.5, -1.0, 99.0).requires_grad_(True)
    chosen_sum = col(0.0, 2.0, -99.0)
    mask = torch.tensor([[True, True, False]])
    out = qtran_losses(q_jt, y, chosen_sum, greedy_sum, q_jt_greedy, v, mask)
    assert out["td"].item() == pytest.approx(0.5)  # ((1-2)^2 + 0) / 2
    assert out["opt"].item() == pytest.approx(1.0)  # ((3-2.5+.5)^2 + (1-1-1)^2) / 2
    assert out["nopt"].item() == pytest.approx(0.625)  # (min(0,-.5)^2 + min(0,-1)^2) / 2
    # Q_jt is held fixed in the opt/nopt terms (pymarl's qtran_base): only V gets their gradient
    g_jt_bar, g_v = torch.autograd.grad(out["opt"] + out["nopt"], [q_jt_greedy, v], allow_unused=True)
    assert g_jt_bar is None or torch.all(g_jt_bar == 0)
    assert g_v[0, :2, 0].tolist() == pytest.approx([1.0 - 0.5, -1.0 - 1.0])


def test_importance_weights_eq35_and_eq36_by_hand() -> None:
    rewards = np.array([[[1.0, 0.0, 0.2], [1.0, 1.0, 0.4], [1.0, 0.5, 0.9], [7.0, 7.0, 7.0]]])
    filled = np.array([[True, True, True, False]])  # the 7s are padding
    mean = np.array([1.0, 0.5, 0.5])
    std = np.array([0.0, 0.5, np.std([0.2, 0.4, 0.9], ddof=1)])
    expect35 = np.exp(mean + np.sinh(std)) / np.exp(mean + np.sinh(std)).sum()
    expect36 = np.exp(mean) / np.exp(mean).sum()
    np.testing.assert_allclose(importance_weights(rewards, filled, True)[0], expect35, rtol=1e-6)
    np.testing.assert_allclose(importance_weights(rewards, filled, False)[0], expect36, rtol=1e-6)
    # same means: eq. 36 cannot tell components 1 and 2 apart; eq. 35 favours the more variable (1)
    l36 = importance_weights(rewards, filled, False)[0]
    l35 = importance_weights(rewards, filled, True)[0]
    assert l36[1] == pytest.approx(l36[2]) and l35[1] > l35[2]


def test_gradnorm_raises_weight_of_lagging_component_and_renormalises() -> None:
    w_param = torch.nn.Parameter(torch.tensor([0.3, -0.2, 0.5]))
    ad = AdaptiveWeights(3, alpha=1.5, lr=0.05, with_variance=True)

    def losses(scale: list[float]) -> torch.Tensor:
        return torch.stack([s * (w_param**2).sum() for s in scale])

    ad.step(losses([1.0, 1.0, 1.0]), [w_param])  # records L(0); balanced -> no change
    assert torch.allclose(ad.w.detach(), torch.ones(3))
    for _ in range(3):
        ad.step(losses([2.0, 1.0, 1.0]), [w_param])  # component 0 now trains slowest
    w = ad.w.detach()
    assert w[0] > 1.0 > w[1] and w.sum().item() == pytest.approx(3.0)


def test_masked_greedy_respects_availability_and_weights() -> None:
    q = torch.tensor([[[5.0, 1.0, 0.0], [0.0, 0.0, 3.0]]])  # [1, K=2, A=3]
    avail = torch.tensor([[True, True, True]])
    assert masked_greedy(q, avail).item() == 0  # sums: 5, 1, 3
    assert masked_greedy(q, avail, torch.tensor([0.1, 0.9])).item() == 2
    assert masked_greedy(q, torch.tensor([[False, True, True]])).item() == 2


def test_epsilon_schedule_table2() -> None:
    cfg = LearnerConfig()
    assert epsilon_at(0, cfg) == 1.0
    assert epsilon_at(12_500, cfg) == pytest.approx(0.525)
    assert epsilon_at(25_000, cfg) == pytest.approx(0.05)
    assert epsilon_at(300_000, cfg) == pytest.approx(0.05)


def test_registry_has_the_twelve_learners() -> None:
    assert set(ALGO_NAMES) == set(ALGOS) and len(ALGOS) == 12
    assert get_algo("MHA-DQMIX").adaptive and get_algo("mha-dqmix").structure == "mh"
    assert not get_algo("qtran").decomposed and get_algo("dqtran").structure == "d"


@pytest.mark.parametrize("name", ALGO_NAMES)
def test_every_learner_trains_one_step_with_finite_losses(name: str) -> None:
    torch.manual_seed(0)
    learner = Learner(get_algo(name), LearnerConfig(), Dims(N, 5, A, S, C))
    stats = learner.train(_batch(c=C))
    k = C if get_algo(name).decomposed else 1
    assert len(stats["losses"]) == k and np.isfinite(stats["loss"]) and stats["grad_norm"] > 0
