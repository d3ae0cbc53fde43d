"""Ns3Env on top of the bridge server, with Python simulators (threads, or launched processes).

The simulators send raw KPIs, so these tests also check that observations, state and rewards
come out of the shared XR maths exactly as the analytic backend would build them.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_bridge_fakesim import SimThread, T, xr_spec

from xr_codec_marl.core.api import VecMultiAgentEnv
from xr_codec_marl.env.ns3_env import Ns3Env
from xr_codec_marl.scenarios.xr.glue import KpiFeatures
from xr_codec_marl.scenarios.xr.ns3 import xr_ns3_env
from xr_codec_marl.scenarios.xr.ns3_args import scenario_arguments
from xr_codec_marl.scenarios.xr.observation import build_observation
from xr_codec_marl.scenarios.xr.rewards import drr_reward, team_rewards
from xr_codec_marl.scenarios.xr.settings import XRScenario

FAKE_SIM = [sys.executable, str(Path(__file__).with_name("test_bridge_fakesim.py"))]
LIMIT = 5


def attach_env(workers: int, **kw) -> Ns3Env:
    return xr_ns3_env(XRScenario(episode_limit=LIMIT), workers=workers, launch=False,
                  endpoint="tcp://127.0.0.1:*", timeout_s=T, connect_timeout_s=3 * T, **kw)


def start_sims(env: Ns3Env, seeds, per_sim=None, **kw) -> list[SimThread]:
    """Simulator threads for ``seeds``; ``per_sim[seed]`` adds keyword arguments to one."""
    per_sim = per_sim or {}
    sims = [SimThread(env.endpoint, env.spec, seed=s, **kw, **per_sim.get(s, {})) for s in seeds]
    for s in sims:
        s.start()
    return sims


def expected_features(spec, prev_actions, kpis, prev_kpis):
    names = spec.kpi_names
    k = {n: kpis[..., names.index(n)] for n in names}
    max_rates = np.array([max(a.action_values) for a in spec.agents])
    obs, state = build_observation(prev_actions, spec.n_actions, k["buffer_ratio"], k["pdr"],
                                   k["delay_ms"], drr_reward(k["throughput_mbps"], max_rates))
    rew = None
    if prev_kpis is not None:
        rew = team_rewards({n: k[n] for n in ("delay_ms", "pdr", "throughput_mbps")}, max_rates)
    return obs, state, rew


def test_ns3_env_is_a_vec_env_and_builds_obs_from_raw_kpis():
    env = attach_env(2)
    try:
        assert isinstance(env, VecMultiAgentEnv) and env.num_envs == 2
        sims = start_sims(env, [7, 8])
        first = env.reset()
        assert first.obs.shape == (2, 3, 5) and first.state.shape == (2, 15)
        assert first.avail_actions.shape == (2, 3, 10) and first.avail_actions.all()
        assert sorted(first.info["seeds"]) == [7, 8]
        # start-up rates are the maximum ones: previous choice = 1.0 for every agent
        np.testing.assert_allclose(first.obs[:, :, :3], 1.0)
        obs, state, _ = expected_features(env.spec, np.full((2, 3), 9), first.info["kpis"], None)
        np.testing.assert_allclose(first.obs, obs, rtol=1e-6)
        np.testing.assert_allclose(first.state, state, rtol=1e-6)
        prev = first.info["kpis"]
        for t in range(1, LIMIT + 1):
            actions = np.array([[t % 10, 2, 3], [0, 9, t]])
            res = env.step(actions)
            obs, state, rew = expected_features(env.spec, actions, res.info["kpis"], prev)
            np.testing.assert_allclose(res.obs, obs, rtol=1e-6)
            np.testing.assert_allclose(res.state, state, rtol=1e-6)
            np.testing.assert_allclose(res.rewards, rew, rtol=1e-6)
            assert res.rewards.shape == (2, 3) and res.rewards.dtype == np.float32
            assert not res.terminated.any()
            assert res.truncated.all() == (t == LIMIT)
            prev = res.info["kpis"]
        assert res.info["truncation_reason"] == ["time limit"] * 2
        assert [s.outcome() for s in sims] == ["closed: episode limit"] * 2
        with pytest.raises(RuntimeError, match="call reset"):
            env.step(np.zeros((2, 3), int))
    finally:
        env.close()


def test_kpi_features_apply_reward_shaping():
    spec = xr_spec(5)
    plain = KpiFeatures(spec)
    shaped = KpiFeatures(spec, shaping=True)
    rng = np.random.default_rng(0)
    k0, k1 = rng.uniform(0.5, 1, (2, 1, 3, 8))
    assert not np.allclose(plain.rewards(k1, k0), shaped.rewards(k1, k0))
    np.testing.assert_allclose(plain.rewards(k1, None), shaped.rewards(k1, None))


def test_simulator_sending_its_own_obs_and_rewards_is_passed_through():
    env = attach_env(1)
    try:
        sims = start_sims(env, [1], raw_kpis=False)
        first = env.reset()
        assert not np.allclose(first.obs[0, :, :3], 1.0)  # the sim's random obs, not built ones
        res = env.step(np.zeros((1, 3), int))
        assert 0 <= res.rewards.min() and res.rewards.max() <= 1
        env.close()
        assert sims[0].outcome() == "closed: environment closed"
    finally:
        env.close()


def test_dead_worker_truncates_only_its_env_and_others_continue():
    env = attach_env(2)
    try:
        sims = start_sims(env, [0, 1], {0: {"die_after": 2}})
        first = env.reset()
        victim = first.info["seeds"].index(0)
        other = 1 - victim
        res = env.step(np.zeros((2, 3), int))  # step 1: both fine
        assert not res.done.any()
        t0 = time.monotonic()
        res = env.step(np.zeros((2, 3), int))  # step 2: the victim sends it, then vanishes
        assert not res.done.any()
        last_obs = res.obs[victim].copy()
        time.sleep(0.2)  # let ZeroMQ notice the closed connection
        res = env.step(np.zeros((2, 3), int))  # step 3: victim's action is undeliverable
        assert time.monotonic() - t0 < T + 1.0
        assert res.truncated[victim] and not res.done[other]
        reason = res.info["truncation_reason"][victim]
        assert "unreachable" in reason, reason
        assert res.info["truncation_reason"][other] == ""
        np.testing.assert_array_equal(res.obs[victim], last_obs)
        assert (res.rewards[victim] == 0).all() and (res.info["kpis"][victim] == 0).all()
        for _ in range(LIMIT - 3):
            res = env.step(np.zeros((2, 3), int))
            assert res.truncated[victim]  # stays done, with its reason
            assert res.info["truncation_reason"][victim] == reason
        assert res.truncated[other] and res.info["truncation_reason"][other] == "time limit"
        assert sims[0].outcome() == "died" and sims[1].outcome() == "closed: episode limit"
    finally:
        env.close()


def test_silent_worker_truncated_after_timeout():
    env = attach_env(2)
    try:
        sims = start_sims(env, [0, 1], {0: {"die_after": 1, "hang_s": 1.5 * T}})
        first = env.reset()
        victim = first.info["seeds"].index(0)
        env.step(np.zeros((2, 3), int))
        t0 = time.monotonic()
        res = env.step(np.zeros((2, 3), int))
        assert T * 0.9 < time.monotonic() - t0 < T + 1.0
        assert res.truncated[victim] and not res.done[1 - victim]
        assert "silent" in res.info["truncation_reason"][victim]
        sims[0].outcome(3 * T)
    finally:
        env.close()


def test_bad_actions_raise_and_env_stays_usable():
    env = attach_env(1)
    try:
        sims = start_sims(env, [0])
        env.reset()
        with pytest.raises(ValueError, match="shape"):
            env.step(np.zeros((1, 2), int))
        with pytest.raises(ValueError, match="out of range"):
            env.step(np.array([[0, 10, 0]]))
        with pytest.raises(ValueError, match="out of range"):
            env.step(np.array([[0, -1, 0]]))
        res = env.step(np.array([[1, 2, 3]]))
        assert not res.done.any()
        env.close()
        assert sims[0].outcome() == "closed: environment closed"
    finally:
        env.close()


def test_reset_times_out_clearly_when_simulators_do_not_come():
    env = xr_ns3_env(XRScenario(episode_limit=LIMIT), workers=2, launch=False,
                 endpoint="tcp://127.0.0.1:*", timeout_s=T, connect_timeout_s=0.5)
    try:
        start_sims(env, [0])
        t0 = time.monotonic()
        with pytest.raises(TimeoutError, match="only 1 of 2 simulators were ready"):
            env.reset()
        assert time.monotonic() - t0 < 2.0
    finally:
        env.close()


# --------------------------------------------------------------------------- launched processes


def launch_env(workers: int, sim_args=(), **kw) -> Ns3Env:
    return xr_ns3_env(XRScenario(episode_limit=LIMIT), workers=workers, binary=FAKE_SIM,
                  sim_args=[f"--episode-limit={LIMIT}", *sim_args], timeout_s=T,
                  connect_timeout_s=10 * T, **kw)


def test_launched_workers_play_episodes_with_their_seeds(tmp_path):
    env = launch_env(2, log_dir=tmp_path)
    try:
        for seed in (10, 20):
            first = env.reset(seed)
            assert first.info["seeds"] == [seed, seed + 1]
            procs = list(env.launcher.processes)
            assert len(procs) == 2 and all(p.alive() for p in procs)
            for _ in range(LIMIT):
                res = env.step(np.ones((2, 3), int))
            assert res.truncated.all()
        logs = sorted(p.name for p in tmp_path.glob("*.log"))
        assert logs == [f"test_bridge_fakesim-s{s}.log" for s in (10, 11, 20, 21)]
        text = (tmp_path / "test_bridge_fakesim-s10.log").read_text()
        assert "--seed=10" in text and "--ringRadius=400.0" in text
    finally:
        env.close()
    assert all(not p.alive() for p in procs)


def test_launched_worker_that_crashes_truncates_with_its_exit_code(tmp_path):
    env = launch_env(2, ["--misbehave-seed=1", "--crash-after=1"], log_dir=tmp_path)
    try:
        env.reset(0)
        env.step(np.zeros((2, 3), int))
        t0 = time.monotonic()
        res = env.step(np.zeros((2, 3), int))
        assert time.monotonic() - t0 < T + 0.5  # reason below: not a silence
        assert list(res.truncated) == [False, True]
        reason = res.info["truncation_reason"][1]
        assert "exited with code 3" in reason or "unreachable" in reason, reason
        assert list(res.info["measured"]) == [True, False]  # its zeros are no window
        for _ in range(LIMIT - 2):
            res = env.step(np.zeros((2, 3), int))
        assert res.truncated[0] and res.info["truncation_reason"][0] == "time limit"
    finally:
        env.close()


def test_launched_worker_that_hangs_is_killed_after_timeout(tmp_path):
    env = launch_env(2, ["--misbehave-seed=0", "--hang-after=1"], log_dir=tmp_path)
    try:
        env.reset(0)
        hung = env.launcher.processes[0]
        env.step(np.zeros((2, 3), int))
        t0 = time.monotonic()
        res = env.step(np.zeros((2, 3), int))
        assert T * 0.9 < time.monotonic() - t0 < T + 1.5
        assert list(res.truncated) == [True, False]
        assert "silent" in res.info["truncation_reason"][0]
        assert not hung.alive()  # reaped, not left running
    finally:
        env.close()


def test_reset_fails_clearly_when_the_binary_exits_at_once(tmp_path):
    env = xr_ns3_env(XRScenario(episode_limit=LIMIT), workers=1, timeout_s=T, connect_timeout_s=5,
                 binary=[sys.executable, "-c", "import sys; print('no ns-3 here'); sys.exit(2)"],
                 log_dir=tmp_path)
    try:
        t0 = time.monotonic()
        with pytest.raises(RuntimeError, match=r"exited with code 2 .*no ns-3 here"):
            env.reset(0)
        assert time.monotonic() - t0 < 5
    finally:
        env.close()


def test_scenario_arguments_carry_settings():
    args = scenario_arguments(XRScenario(ring_m=250.0, episode_limit=12))
    assert "--ringRadius=250.0" in args and "--episodeLimit=12" in args


def test_simulator_truncating_early_passes_its_reason_on():
    env = attach_env(1)
    try:
        sims = start_sims(env, [0], steps=2)  # the sim stops after 2 of the 5 windows
        env.reset()
        assert not env.step(np.zeros((1, 3), int)).done.any()
        res = env.step(np.zeros((1, 3), int))
        assert res.truncated[0] and res.info["truncation_reason"] == ["episode limit"]
        assert sims[0].outcome() == "closed: episode limit"
    finally:
        env.close()


def test_simulator_arriving_mid_episode_waits_for_the_next_reset():
    """Attach mode: a simulator connecting during an episode is neither refused nor lost; the
    next reset takes it (simulators restarted by a worker loop may come back early)."""
    env = attach_env(1)
    try:
        first = start_sims(env, [1])
        env.reset()
        early = start_sims(env, [2], hello_timeout_s=10 * T)  # connects while episode 1 runs
        for _ in range(LIMIT):
            res = env.step(np.zeros((1, 3), int))
        assert res.truncated.all() and first[0].outcome() == "closed: episode limit"
        assert early[0].is_alive()  # still waiting for its welcome, not refused
        again = env.reset()
        assert again.info["seeds"] == [2]
        for _ in range(LIMIT):
            res = env.step(np.zeros((1, 3), int))
        assert res.truncated.all() and early[0].outcome() == "closed: episode limit"
    finally:
        env.close()


def test_killed_simulator_adds_no_window_to_the_averages_and_counts_are_reported(tmp_path):
    """A simulator that dies mid-episode (exits after sending window 2 of 5): the step that finds
    it dead has zero placeholder KPIs; evaluation must average only the windows measured
    (the fake simulator's pdr + plr is 1 in each of them) and report each episode's count."""
    import io

    from rich.console import Console

    from xr_codec_marl.baselines import make_policy
    from xr_codec_marl.experiments.evaluation import evaluate_policy
    from xr_codec_marl.experiments.table import render_eval_table

    spec = XRScenario(episode_limit=LIMIT).env_spec()
    result = evaluate_policy(
        lambda n: launch_env(n, ["--misbehave-seed=1", "--crash-after=2"], log_dir=tmp_path),
        make_policy("max", spec), episodes=2, seed=0, backend="ns3", batch_size=2)
    # per episode and agent, and in every reported mean: measured windows only
    np.testing.assert_allclose(result.episode_kpis["pdr"] + result.episode_kpis["plr"], 1.0,
                               rtol=1e-5)
    s = result.summary()
    assert s["kpis"]["pdr"] + s["kpis"]["plr"] == pytest.approx(1.0, rel=1e-5)
    for agent in s["per_agent"].values():
        assert agent["pdr"] + agent["plr"] == pytest.approx(1.0, rel=1e-5)
    assert (result.episode_kpis["delay_ms"] >= 2).all()  # the fake delays are in [2, 25] ms
    # window 2 is sent just before the exit and may be lost with the process (ZeroMQ, linger 0)
    got = s["windows"][1]
    assert s["windows"] == [LIMIT, got] and got in (1, 2) and s["measured_windows"] == LIMIT + got
    assert s["episode_limit"] == LIMIT and s["truncated_episodes"] == 1
    [cut] = s["truncated"]
    assert cut["episode"] == 1 and cut["windows"] == got
    assert "exited with code 3" in cut["reason"] or "unreachable" in cut["reason"], cut
    assert s["settings"]["episode_limit"] == LIMIT
    buf = io.StringIO()
    render_eval_table(s, Console(file=buf, width=200))
    text = buf.getvalue()
    assert f"measured windows: {LIMIT + got} of {2 * LIMIT}" in text
    assert f"episode 1: {got} of {LIMIT} windows measured" in text
