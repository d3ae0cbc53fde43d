"""The analytic XR environment: API shapes, reproducibility and the network's sanity."""

import numpy as np
import pytest

from xr_codec_marl.baselines import make_policy
from xr_codec_marl.scenarios.xr.analytic import AnalyticXREnv
from xr_codec_marl.core.api import VecMultiAgentEnv
from xr_codec_marl.scenarios.xr.kpis import XR_KPI_NAMES
from xr_codec_marl.experiments.evaluation import evaluate_policy
from xr_codec_marl.scenarios.xr.settings import XRScenario


def rollout(ring, action, b=32, seed=3, limit=20, **kw):
    env = AnalyticXREnv(XRScenario(ring_m=ring, episode_limit=limit, **kw), num_envs=b)
    env.reset(seed=seed)
    kpis = []
    for _ in range(limit):
        kpis.append(env.step(np.broadcast_to(action, (b, 3))).info["kpis"])
    return np.stack(kpis)  # [T, B, N, K]


def kpi(arr, name):
    return arr[..., XR_KPI_NAMES.index(name)]


def test_shapes_spec_and_protocol():
    env = AnalyticXREnv(XRScenario(ring_m=300, episode_limit=3), num_envs=5)
    assert isinstance(env, VecMultiAgentEnv)
    spec = env.spec
    assert spec.agent_ids == ("AR", "VR", "CG")
    assert spec.reward_components == ("delay", "pdr", "drr")
    assert spec.agents[0].action_values[0] == 0.5 and spec.agents[1].action_values[-1] == 30.0
    o = env.reset(seed=0)
    assert o.obs.shape == (5, 3, spec.obs_size) and o.obs.dtype == np.float32
    assert o.state.shape == (5, spec.state_size)
    assert o.avail_actions.shape == (5, 3, 10) and o.avail_actions.all()
    for t in range(3):
        r = env.step(np.zeros((5, 3), int))
        assert r.rewards.shape == (5, 3)
        assert r.info["kpis"].shape == (5, 3, len(XR_KPI_NAMES))
        assert not r.terminated.any()
        assert r.truncated.all() == (t == 2)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros((5, 3), int))


def test_observation_follows_eq_13():
    env = AnalyticXREnv(XRScenario(ring_m=300), num_envs=2)
    env.reset(seed=1)
    r = env.step(np.array([[0, 9, 3], [9, 9, 9]]))
    k = r.info["kpis"]
    # team's previous choices, normalised, identical for every agent of an env
    np.testing.assert_allclose(r.obs[0, :, :3], np.tile([0, 1, 3 / 9], (3, 1)), atol=1e-6)
    np.testing.assert_allclose(r.obs[..., 3], kpi(k, "buffer_ratio"), atol=1e-6)
    np.testing.assert_allclose(r.obs[..., 4], kpi(k, "pdr"), atol=1e-6)


def test_bad_actions_are_refused():
    env = AnalyticXREnv(XRScenario(), num_envs=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="out of range"):
        env.step(np.full((2, 3), 10))


def test_same_seed_reproduces_and_other_seeds_differ():
    a = rollout(400, 9, seed=11, limit=5)
    b = rollout(400, 9, seed=11, limit=5)
    c = rollout(400, 9, seed=12, limit=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_kpis_are_physical():
    k = rollout(400, 9)
    assert np.all((kpi(k, "pdr") >= 0) & (kpi(k, "pdr") <= 1))
    np.testing.assert_allclose(kpi(k, "plr"), 1 - kpi(k, "pdr"), atol=1e-6)
    assert np.all(kpi(k, "delay_ms") > 0)
    assert np.all(kpi(k, "jitter_ms") >= 0)
    assert np.all((kpi(k, "buffer_ratio") >= 0) & (kpi(k, "buffer_ratio") <= 1))
    assert set(np.unique(kpi(k, "xqi"))) <= {1, 2, 3, 4, 5}


def test_higher_codec_rate_never_lowers_throughput_when_the_cell_is_not_saturated():
    # At 200 m the cell carries every rate: raising one agent's rate (others fixed, same
    # seed, so same placements and draws) must raise its delivered throughput.
    for agent in range(3):
        thr = []
        for a in range(10):
            act = np.array([4, 4, 4])
            act[agent] = a
            k = rollout(200, act, b=16, limit=8)
            thr.append(kpi(k, "throughput_mbps")[..., agent].mean())
        assert np.all(np.diff(thr) > 0), (agent, thr)


def test_max_rates_overflow_at_400m_but_not_at_200m():
    def plr(policy, ring):
        env_spec = AnalyticXREnv(XRScenario(ring_m=ring)).spec
        res = evaluate_policy(
            lambda n: AnalyticXREnv(XRScenario(ring_m=ring), num_envs=n),
            make_policy(policy, env_spec), episodes=24, seed=5, backend="analytic",
        )
        return res.summary()["kpis"]["plr"]

    max_400, aps_400, max_200 = plr("max", 400), plr("aps", 400), plr("max", 200)
    assert max_400 > 0.03, max_400  # the buffer overflows
    assert max_400 > 3 * aps_400, (max_400, aps_400)  # well above APS's loss
    assert max_200 < 0.01, max_200  # comfortable close to the gNB
    assert max_400 > 5 * max_200


def test_worse_channel_means_higher_delay():
    near, far = rollout(200, 9), rollout(400, 9)
    assert kpi(far, "delay_ms").mean() > kpi(near, "delay_ms").mean()


def test_scenario_validation_names_the_problem():
    with pytest.raises(ValueError, match="ring radius"):
        XRScenario(ring_m=0).validate()
    from dataclasses import replace

    from xr_codec_marl.scenarios.xr.settings import DEFAULT_USERS

    bad = (replace(DEFAULT_USERS[0], rate_min_mbps=12.0),) + DEFAULT_USERS[1:]
    with pytest.raises(ValueError, match="codec range of AR"):
        XRScenario(users=bad).validate()
