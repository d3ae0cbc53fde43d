"""Ns3Env with the real ns-3 XR scenario (``xr-codec``, built by ``build_ns3()``) and APS.

One real episode of 20 windows per worker, two workers in parallel, through the Python agent
server, on LTE and on 5G-LENA NR (skipped, saying why, where the build has no NR; required
by ``make test`` where the nr source is present): the handshake names the RAN, KPIs are sane, observations/rewards come out of the shared maths, and APS halves the
codec rate of a user after a window with more than 10 % loss.
"""

from __future__ import annotations

import numpy as np
import pytest

from xr_codec_marl.baselines import make_policy
from xr_codec_marl.core.api import HybridActions
from xr_codec_marl.env.ns3_env import Ns3Env
from xr_codec_marl.scenarios.xr.ns3 import xr_ns3_env
from xr_codec_marl.scenarios.xr.settings import XRScenario

from bare_router import bare_simulator
from nr_support import RANS, ran  # noqa: F401  (the fixture)

pytestmark = pytest.mark.ns3
WINDOWS = 20


@pytest.fixture(scope="module")
def built() -> None:
    from xr_codec_marl.bridge.build import build_ns3, is_up_to_date

    if not is_up_to_date():
        build_ns3()


@pytest.mark.parametrize("ran", RANS, indirect=True)
def test_aps_episode_on_ns3_has_sane_kpis_and_adapts(built, tmp_path, ran):
    sc = XRScenario(ring_m=400.0, episode_limit=WINDOWS, ran=ran)
    env = xr_ns3_env(sc, workers=2, timeout_s=60.0, connect_timeout_s=60.0, log_dir=tmp_path)
    try:
        policy = make_policy("aps", env.spec)
        ob = env.reset(seed=11)
        policy.reset(2, seed=11)
        assert ob.info["seeds"] == [11, 12]
        # the handshake of every simulator says which RAN it runs, and the spec records it
        assert [p["ran"] for p in env.simulator_parameters] == [ran, ran]
        assert env.spec.extra["settings"]["ran"] == ran
        k = env.spec.kpi_index
        history, rewards = [], []
        for t in range(WINDOWS):
            res = env.step(policy.act(ob))
            history.append(res.info["kpis"])
            rewards.append(res.rewards)
            ob = res
            assert res.done.all() == (t == WINDOWS - 1), res.info["truncation_reason"]
        assert res.info["truncation_reason"] == ["time limit"] * 2
    finally:
        env.close()
    kpis = np.stack(history)  # [T, B, N, K]
    pdr, plr = kpis[..., k("pdr")], kpis[..., k("plr")]
    delay, rate = kpis[..., k("delay_ms")], kpis[..., k("codec_rate_mbps")]
    assert ((0 <= pdr) & (pdr <= 1)).all() and np.allclose(pdr + plr, 1, atol=1e-4)
    assert (delay[pdr > 0] > 0).all()
    assert (kpis[..., k("throughput_mbps")] >= 0).all()
    rew = np.stack(rewards)
    assert rew.shape == (WINDOWS, 2, 3) and np.isfinite(rew).all()
    assert ((rew[..., :2] >= 0) & (rew[..., :2] <= 1)).all()  # delay and PDR rewards
    # APS: a window with > 10 % loss halves that user's rate for the next window (unless at min)
    r_min = np.array([min(a.action_values) for a in env.spec.agents])
    lossy = (plr[:-1] > 0.10) & (rate[:-1] > r_min + 1e-6)
    assert lossy.any(), "400 m at max rates should lose packets at least once"
    assert (rate[1:][lossy] < rate[:-1][lossy]).all()
    # at least one worker saw APS bring loss down again: the rates it ends on are not max
    r_max = np.array([max(a.action_values) for a in env.spec.agents])
    assert (rate[-1] < r_max - 1e-6).any()


def test_option_list_matches_the_binary(built):
    """``XR_CODEC_OPTIONS`` (what ``--ns3-arg`` accepts) is exactly ``xr-codec``'s options."""
    import re
    import subprocess

    from xr_codec_marl.bridge.build import find_binary
    from xr_codec_marl.scenarios.xr.ns3_args import XR_CODEC_OPTIONS, _value

    out = subprocess.run([str(find_binary("xr-codec")), "--PrintHelp"], capture_output=True,
                         text=True, timeout=30).stdout
    program = out.split("Program Options:")[1].split("General Arguments:")[0]
    names = re.findall(r"^\s+--(\w+):", program, re.M)
    assert sorted(names) == sorted(XR_CODEC_OPTIONS) and len(set(names)) == len(names)
    for name, default in re.findall(r"^\s+--(\w+):.*\[(.*)\]$", program, re.M):
        _value(name, default)  # the declared type takes the binary's own default


@pytest.mark.parametrize("users", ["VR,CG", "AR,VR:10:50,VR,CG,CG"])
def test_ns3_runs_any_number_of_users(built, tmp_path, users):
    """2 and 5 users on ns-3: the simulator's Hello announces them (ids, ranges), and a short
    episode measures every one of them; an untyped option passes through to the simulator."""
    from xr_codec_marl.scenarios.xr.ns3_args import apply_ns3_args
    from xr_codec_marl.scenarios.xr.settings import parse_users

    sc = apply_ns3_args(XRScenario(users=parse_users(users), episode_limit=3, ue_speed_mps=0.0),
                        ["lossDeadlineMs=60"])
    n = sc.n_agents
    env = xr_ns3_env(sc, workers=1, timeout_s=60.0, connect_timeout_s=60.0, log_dir=tmp_path)
    hellos = []
    admit = env.server.admit
    env.server.admit = lambda hello, spec: hellos.append(hello) or admit(hello, spec)
    try:
        ob = env.reset(seed=3)
        assert ob.obs.shape == (1, n, n + 2) and ob.state.shape == (1, 5 * n)
        for t in range(3):
            res = env.step(np.full((1, n), 9))
            assert res.info["measured"].all()
        assert res.info["truncation_reason"] == ["time limit"]
    finally:
        env.close()
    [hello] = hellos
    assert [a.id for a in hello.agents] == [u.agent_id for u in sc.users]
    assert [max(a.action_values) for a in hello.agents] == [u.rate_max_mbps for u in sc.users]
    kpis = res.info["kpis"][0]
    k = env.spec.kpi_index
    np.testing.assert_allclose(kpis[:, k("pdr")] + kpis[:, k("plr")], 1.0, atol=1e-4)
    np.testing.assert_allclose(kpis[:, k("codec_rate_mbps")], sc.max_rates(), rtol=1e-5)
    log = next(tmp_path.glob("*.log")).read_text()
    assert "--lossDeadlineMs=60" in log and "--ueSpeed=0.0" in log


class _KillAfter:
    """An ``Ns3Env`` whose worker ``victim`` is SIGKILLed right after window ``after``."""

    def __init__(self, env: Ns3Env, victim: int, after: int) -> None:
        self.env, self.victim, self.after = env, victim, after
        self.spec, self.num_envs, self.t = env.spec, env.num_envs, 0

    def reset(self, seed=None):
        self.t = 0
        return self.env.reset(seed)

    def step(self, actions):
        res = self.env.step(actions)
        self.t += 1
        if self.t == self.after:
            self.env.launcher.processes[self.victim].popen.kill()
        return res

    def close(self):
        self.env.close()


def test_killed_xr_codec_adds_no_fabricated_window(built, tmp_path):
    """The real simulator killed mid-episode: evaluation averages only the windows it measured
    (ns-3's pdr + plr is 1 in each), and says the episode had 2 of 6 windows and why."""
    from xr_codec_marl.experiments.evaluation import evaluate_policy

    sc = XRScenario(ring_m=400.0, episode_limit=6)
    spec = sc.env_spec()
    result = evaluate_policy(
        lambda n: _KillAfter(xr_ns3_env(sc, workers=n, timeout_s=60.0, connect_timeout_s=60.0,
                                    log_dir=tmp_path), victim=1, after=2),
        make_policy("aps", spec), episodes=2, seed=21, backend="ns3", batch_size=2)
    np.testing.assert_allclose(result.episode_kpis["pdr"] + result.episode_kpis["plr"], 1.0,
                               atol=1e-4)
    s = result.summary()
    assert s["kpis"]["pdr"] + s["kpis"]["plr"] == pytest.approx(1.0, abs=1e-4)
    assert s["windows"] == [6, 2] and s["truncated_episodes"] == 1
    [cut] = s["truncated"]
    assert cut["episode"] == 1 and cut["windows"] == 2
    assert "died" in cut["reason"] or "unreachable" in cut["reason"], cut


@pytest.mark.parametrize("ran", RANS, indirect=True)
def test_a_simulator_refusing_its_arguments_is_one_error_not_a_traceback(built, tmp_path, ran):
    """`--ns3-arg` values only the simulator can check: its refusal reaches the user as an error."""
    import subprocess
    import sys

    option = "nrScheduler" if ran == "nr" else "scheduler"
    res = subprocess.run(
        [sys.executable, "-m", "xr_codec_marl.cli", "evaluate", "--backend", "ns3",
         "--ring", "400", "--episodes", "1", "--episode-limit", "3", "--ran", ran,
         "--ns3-arg", f"{option}=ns3::NoSuchScheduler"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    first = res.stderr.splitlines()[0]
    assert first.startswith("xr-marl: simulator for worker 0 exited before its first step")
    assert "ns3::NoSuchScheduler not found" in res.stderr  # the simulator's own reason, from its log


@pytest.mark.parametrize("ran", RANS, indirect=True)
def test_sinr_kpi_is_measured_and_feeds_the_channel_observation(built, tmp_path, ran):
    """The UE PHY's downlink SINR reaches the agents: finite, lower in a 400 m ring than in a
    60 m one (same seed), and equal to the SINR column of ``observation="channel"``."""
    from xr_codec_marl.scenarios.xr.observation import sinr_feature

    means = {}
    for ring in (60.0, 400.0):
        sc = XRScenario(ring_m=ring, episode_limit=3, ran=ran, observation="channel")
        env = xr_ns3_env(sc, workers=1, timeout_s=60.0, connect_timeout_s=60.0, log_dir=tmp_path)
        try:
            assert env.spec.obs_size == 6 and env.wire_spec.obs_size == 5
            k = env.spec.kpi_index("sinr_db")
            ob = env.reset(seed=5)
            # the start-up report measures nothing, as the analytic reset: zeros
            assert (ob.info["kpis"][..., k] == 0).all() and (ob.obs[..., -1] == 0).all()
            sinrs = []
            for _ in range(3):
                ob = env.step(np.full((1, 3), 9))
                sinrs.append(ob.info["kpis"][..., k])
                np.testing.assert_allclose(ob.obs[..., -1], sinr_feature(sinrs[-1]), rtol=1e-5)
        finally:
            env.close()
        s = np.stack(sinrs)
        assert np.isfinite(s).all() and (s > -20).all() and (s < 80).all(), s
        assert (s != 0).all(), "no SINR sample reached the meter"
        means[ring] = float(s.mean())
    assert means[60.0] > means[400.0] + 5.0, means


@pytest.mark.parametrize("ran", RANS, indirect=True)
def test_continuous_codec_rates_on_ns3(built, tmp_path, ran):
    """``actions="continuous"`` (issue 15): the simulator announces each agent's codec range as
    a continuous dimension in Mbps, sets the rates it is sent (off the rate table too) for the
    next window, reports them, and the agents observe them as fractions of their ranges."""
    sc = XRScenario(ring_m=300.0, episode_limit=4, ran=ran, actions="continuous")
    env = xr_ns3_env(sc, workers=1, timeout_s=60.0, connect_timeout_s=60.0, log_dir=tmp_path)
    lo, hi = sc.min_rates(), sc.max_rates()
    try:
        assert env.wire_spec.n_continuous == 1 and env.wire_spec.n_actions == 1
        ob = env.reset(seed=3)
        assert env.simulator_parameters[0]["actions"] == "continuous"
        np.testing.assert_allclose(ob.obs[0, 0, :3], 1.0)  # simulators start at d_max
        k = env.spec.kpi_index("codec_rate_mbps")
        for frac in (0.13, 0.71, 0.0, 0.42):
            rate = lo + frac * (hi - lo)
            ob = env.step(HybridActions(np.zeros((1, 3), np.int64), rate[None, :, None]))
            np.testing.assert_allclose(ob.info["kpis"][0, :, k], rate, rtol=1e-6)
            np.testing.assert_allclose(ob.obs[0, 0, :3], frac, atol=1e-6)
        assert ob.truncated.all()
    finally:
        env.close()


def test_rules_run_alike_on_ns3_with_discrete_and_continuous_rates(built, capsys):
    """APS on ns-3 sends the same rates with either action option: the same episode."""
    import json

    from xr_codec_marl.cli import main

    got = {}
    for actions in ("discrete", "continuous"):
        capsys.readouterr()
        assert main(["evaluate", "--env", "xr", "--backend", "ns3", "--ran", "lte", "--policy",
                     "aps", "--episodes", "1", "--episode-limit", "6", "--seed", "2",
                     "--actions", actions, "--json"]) == 0
        got[actions] = json.loads(capsys.readouterr().out)
    assert got["continuous"]["settings"]["actions"] == "continuous"
    assert got["continuous"]["kpis"] == got["discrete"]["kpis"]
    assert got["continuous"]["kpis"]["codec_rate_mbps"] < 16.0  # APS lowered rates: they arrived


@pytest.mark.parametrize("values, words", [
    ([31.0], "continuous value 31 of agent 1 dimension 0 is not within [10, 30]"),
    ([9.5], "continuous value 9.5 of agent 1 dimension 0 is not within [10, 30]"),
    ([float("nan")], "continuous value nan of agent 1 dimension 0"),
    (None, "action has 0 continuous values, expected 3 (3 agents x 1 dimensions)"),
])
def test_xr_codec_announces_continuous_rates_and_refuses_bad_ones(built, values, words):
    """Against a bare ROUTER (the Python server would refuse to send these): the hello of
    ``--actions=continuous`` announces each user's codec range; a rate out of it, NaN or
    missing is refused with CODE_ACTION and the simulator exits with EXIT_BAD_ACTION (4), as
    for a bad discrete index."""
    from xr_codec_marl.bridge import wire
    from xr_codec_marl.scenarios.xr.ns3_args import scenario_arguments

    sc = XRScenario(episode_limit=4, ran="lte", actions="continuous")
    with bare_simulator("xr-codec", scenario_arguments(sc), 60.0) as sim:
        assert sim.hello.parameters["actions"] == "continuous"
        spec = wire.spec_from_hello(sim.hello)
        assert [a.space for a in spec.agents] == [sc.rate_space(u) for u in sc.users]
        sim.welcome()
        sim.assert_refused([0] * 3, [] if values is None else [5.0, *values, 20.0], words)


def test_standalone_continuous_run_sends_at_the_maximum_rates(built):
    """Without an agent server (``--fixedAction``) a continuous run keeps every user at d_max,
    the rate it starts at: the same episode as the discrete run at the top rate."""
    import json
    import subprocess

    from xr_codec_marl.bridge.build import find_binary

    def summary(*flags: str) -> dict:
        out = subprocess.run([str(find_binary("xr-codec")), "--ran=lte", "--episodeLimit=4",
                              "--fixedAction=max", *flags],
                             capture_output=True, text=True, timeout=300, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])["summary"]

    cont, disc = summary("--actions=continuous"), summary()
    assert cont["status"] == "ok" and cont["actions"] == "continuous"
    assert cont["mean_kpis"]["VR"]["codec_rate_mbps"] == 30.0
    assert cont["mean_kpis"] == disc["mean_kpis"]


def test_serve_sends_continuous_rates_to_an_xr_codec_started_elsewhere(built, tmp_path, capsys):
    """`xr-marl serve --actions continuous --policy fixed:3` against a real simulator started
    with ``--actions=continuous``: the rule's table rate arrives as the continuous value, and
    the simulator sends at it from the first window on."""
    import json
    import subprocess
    import threading

    from xr_codec_marl.bridge.build import find_binary
    from xr_codec_marl.cli import main
    from xr_codec_marl.scenarios.xr.ns3_args import scenario_arguments

    sc = XRScenario(episode_limit=4, ran="lte", actions="continuous")
    ep = f"ipc://{tmp_path}/serve.sock"
    out: dict = {}
    th = threading.Thread(target=lambda: out.update(rc=main(
        ["serve", "--bind", ep, "--env", "xr", "--actions", "continuous", "--policy", "fixed:3",
         "--episodes", "1", "--episode-limit", "4", "--timeout", "60"])), daemon=True)
    th.start()
    sim = subprocess.run([str(find_binary("xr-codec")), f"--endpoint={ep}", "--timeoutMs=60000",
                          "--printKpis", *scenario_arguments(sc)],
                         capture_output=True, text=True, timeout=300)
    th.join(60)
    assert sim.returncode == 0, sim.stderr
    assert not th.is_alive() and out["rc"] == 0
    windows = [json.loads(x)["kpis"] for x in sim.stdout.splitlines() if x.startswith('{"window"')]
    assert len(windows) == 4
    want = sc.rate_table()[:, 3]
    for w in windows:
        np.testing.assert_allclose([w[u.agent_id]["codec_rate"] for u in sc.users], want,
                                   rtol=1e-6)
        np.testing.assert_allclose([w[u.agent_id]["codec_rate_mbps"] for u in sc.users], want,
                                   rtol=1e-6)
