"""multi-mec with hybrid actions (`--actions hybrid`): a target head plus the offloaded
fraction and the transmit power as continuous values, on the analytic twin; rules act in it
exactly as in the discrete space, and the policy-gradient learners train on it. The same on
ns-3: tests/test_mec_ns3_hybrid.py."""

from __future__ import annotations

import numpy as np
import pytest

from xr_codec_marl.baselines import make_policy
from xr_codec_marl.core.api import HybridActions
from xr_codec_marl.env.factory import make_env
from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.learners.registry import get_algo
from xr_codec_marl.learners.trainer import make_trainer
from xr_codec_marl.scenarios.mec.actions import LOCAL, decode_hybrid
from xr_codec_marl.scenarios.mec.models import dbm_to_w
from xr_codec_marl.scenarios.mec.ns3_args import scenario_arguments, unsupported
from xr_codec_marl.scenarios.mec.settings import preset


def _env(actions: str, b: int = 2):  # type: ignore[no-untyped-def]
    return make_env("mec", "analytic", b, 0, devices=6, servers=3, actions=actions,
                    episode_limit=30, arrival_rate_hz=3.0)


def test_hybrid_spec_is_a_target_head_and_two_bounded_values() -> None:
    spec = _env("hybrid").spec
    space = spec.agents[0].space
    assert not spec.is_discrete and spec.n_actions == 4 and spec.n_continuous == 2
    assert space.heads[0].labels == ("local", "s0", "s1", "s2")
    assert [(c.name, c.low, c.high) for c in space.continuous] == \
        [("alpha", 0.0, 1.0), ("power_dbm", 10.0, 23.0)]
    with pytest.raises(ValueError, match="aiot's are discrete"):
        preset("aiot", actions="hybrid")
    # the mec-offload simulator takes them too (--actions=hybrid: tests/test_mec_ns3_hybrid.py)
    hybrid = preset("multi-mec", actions="hybrid")
    assert unsupported(hybrid) == [] and "--actions=hybrid" in scenario_arguments(hybrid)
    assert "--actions=discrete" in scenario_arguments(preset("multi-mec"))


def test_decode_hybrid_by_hand() -> None:
    s = preset("multi-mec", servers=3)
    head = np.array([[0, 1, 3, 2]])
    values = np.array([[[0.7, 15.0], [0.5, 30.0], [0.0, 12.0], [0.25, 10.0]]])
    full = np.array([[False, False, False, True]])
    target, alpha, power = decode_hybrid(s, head, values, full)
    assert target.tolist() == [[LOCAL, 0, LOCAL, 1]]  # fraction 0 runs locally
    assert alpha.tolist() == [[0.0, 0.5, 0.0, 1.0]]  # CPU queue full: the whole task goes
    np.testing.assert_allclose(power, [[0.0, dbm_to_w(23.0), 0.0, dbm_to_w(10.0)]])  # clipped


@pytest.mark.parametrize("rule", ["least-loaded", "greedy", "balanced"])
def test_rules_do_the_same_in_the_hybrid_space(rule: str) -> None:
    envs = {a: _env(a) for a in ("discrete", "hybrid")}
    pols = {a: make_policy(rule, e.spec) for a, e in envs.items()}
    steps = {a: e.reset(seed=3) for a, e in envs.items()}
    for p in pols.values():
        p.reset(2, seed=3)
    # every global KPI but the policy's wall-clock decision time
    keep = [i for i, k in enumerate(envs["hybrid"].spec.global_kpi_names) if k != "decision_ms"]
    assert len(keep) == len(envs["hybrid"].spec.global_kpi_names) - 1
    for _ in range(30):
        acts = {a: pols[a].act(steps[a]) for a in envs}
        assert isinstance(acts["hybrid"], HybridActions)
        steps = {a: envs[a].step(acts[a]) for a in envs}
        np.testing.assert_allclose(steps["hybrid"].rewards, steps["discrete"].rewards,
                                   rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(steps["hybrid"].info["global_kpis"][:, keep],
                                   steps["discrete"].info["global_kpis"][:, keep], rtol=1e-5,
                                   atol=1e-6)


def test_imappo_trains_on_the_hybrid_space() -> None:
    env = _env("hybrid", b=4)
    trainer = make_trainer(env, get_algo("imappo"), LearnerConfig(tensorboard=False, num_envs=4,
                                                                  pg_hidden=16), 0)
    summary = trainer.train(240, progress=False)
    assert trainer.learner.layout.names == ("target", "alpha", "power_dbm")
    assert np.isfinite(summary["loss"]) and summary["entropy/alpha"] > 0
    step = env.reset(seed=9)
    acts = trainer.learner.layout.to_env(*trainer.learner.act(step.obs, step.avail_actions, True))
    env.step(acts)  # valid: within bounds and available
    assert ((acts.continuous[..., 1] >= 10.0) & (acts.continuous[..., 1] <= 23.0)).all()


def test_generic_random_and_fixed_policies_act_in_the_hybrid_space() -> None:
    env = _env("hybrid")
    step = env.reset(seed=4)
    rand, fixed = make_policy("random", env.spec), make_policy("fixed:0", env.spec)
    rand.reset(2, seed=0)
    a = rand.act(step)
    assert isinstance(a, HybridActions) and a.continuous.shape == (2, 6, 2)
    assert ((a.continuous[..., 0] >= 0) & (a.continuous[..., 0] <= 1)).all()
    assert ((a.continuous[..., 1] >= 10) & (a.continuous[..., 1] <= 23)).all()
    assert np.ptp(a.continuous[..., 1]) > 1.0  # drawn, not constant
    f = fixed.act(step)
    assert (f.discrete == 0).all() and np.allclose(f.continuous, [0.5, 16.5])
    env.step(a)
    env.step(fixed.act(env.reset(seed=4)))
