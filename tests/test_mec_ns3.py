"""The MEC scenario on the real packet-level simulator (``mec-offload``, built by
``build_ns3()``), through the Python agent server and the rules of the analytic twin.

Tasks here have one size and one work (1 Mbit, 1e9 cycles), so every completed task's
response time is at least its pure compute time at the server (1e9 / 25e9 = 40 ms). On LTE
and on NR (NR skipped, saying why, where the build has none; required by ``make test`` where
the nr source is present).
"""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest

from xr_codec_marl.baselines import make_policy
from xr_codec_marl.scenarios.mec.ns3 import mec_ns3_env
from xr_codec_marl.scenarios.mec.ns3_args import scenario_arguments
from xr_codec_marl.scenarios.mec.settings import MECSettings, preset

from nr_support import RANS, ran  # noqa: F401  (the fixture)

pytestmark = pytest.mark.ns3
STEPS = 20
CYCLES = 1e9
SERVER_HZ = 25e9  # the middle of the default range (not heterogeneous)


@pytest.fixture(scope="module")
def built() -> None:
    from xr_codec_marl.bridge.build import build_ns3, is_up_to_date

    if not is_up_to_date():
        build_ns3()


def settings(ran: str = "", **changes) -> MECSettings:
    base = dict(devices=10, servers=3, episode_limit=STEPS, data_bits=(1e6, 1e6),
                cycles_per_bit=(1000.0, 1000.0))
    return preset("multi-mec", ran=ran, **{**base, **changes})


def episode(env, policy, seed: int = 3) -> dict:
    """Play one episode of ``policy`` (a rule's name or a policy); the episode's KPIs from the
    per-step event counts, its rewards, and whatever the run checks (finite obs, the view)."""
    spec = env.spec
    policy = make_policy(policy, spec) if isinstance(policy, str) else policy
    policy.reset(env.num_envs, seed=seed)
    obs = env.reset(seed=seed)
    assert "mec" in obs.info and obs.info["global_kpis"].shape == (1, len(spec.global_kpi_names))
    assert not obs.info["global_kpis"].any()  # step 0 measured nothing, as the twin's reset
    g = spec.global_kpi_names
    totals = {k: 0.0 for k in ("completed", "resolved", "dropped", "rejected", "energy_j",
                               "uploads", "response")}
    rewards, steps, offloads = [], 0, 0.0
    while True:
        res = env.step(policy.act(obs))
        assert np.isfinite(res.obs).all() and np.isfinite(res.state).all()
        kp = res.info["global_kpis"][0]
        for k in ("completed", "resolved", "dropped", "rejected", "energy_j", "uploads"):
            totals[k] += kp[g.index(k)]
        totals["response"] += kp[g.index("response_time_s")] * kp[g.index("completed")]
        offloads += res.info["kpis"][0, :, spec.kpi_names.index("offloads")].sum()
        rewards.append(res.rewards[0])
        steps += 1
        obs = res
        if res.truncated[0] or res.terminated[0]:
            reason = res.info["truncation_reason"][0]
            break
    return {**totals, "steps": steps, "reason": reason, "offloads": offloads,
            "rewards": np.array(rewards),
            "completion": totals["completed"] / max(totals["resolved"], 1.0),
            "mean_response": totals["response"] / max(totals["completed"], 1.0)}


def summary(log_dir) -> dict:
    """The simulator's own summary line (its log in ``log_dir``)."""
    [log] = list(log_dir.glob("mec-offload-*.log"))
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith('{"summary"')]
    return json.loads(lines[-1])["summary"]


@pytest.mark.parametrize("ran", RANS, indirect=True)
def test_least_loaded_episode_on_ns3_has_sane_kpis(built, tmp_path, ran):
    env = mec_ns3_env(settings(ran), timeout_s=120.0, connect_timeout_s=120.0, log_dir=tmp_path)
    try:
        ep = episode(env, "least-loaded")
        assert env.simulator_parameters[0]["ran"] == ran
    finally:
        env.close()
    assert ep["steps"] == STEPS and ep["reason"] == "time limit"
    assert ep["resolved"] > 0 and 0.0 <= ep["completion"] <= 1.0
    assert ep["completed"] > 0 and ep["uploads"] > 0 and ep["offloads"] > 0
    # every completed task computed 1e9 cycles at 25 GHz after its upload: at least 40 ms
    assert ep["mean_response"] >= CYCLES / SERVER_HZ
    assert ep["energy_j"] > 0
    r = ep["rewards"]
    assert r.shape == (STEPS, 5) and (r >= 0).all() and (r <= 1 + 1e-6).all()
    s = summary(tmp_path)
    assert s["status"] == "ok" and s["uplink_bytes"] > 0 and s["server_admitted"] > 0
    # the agent server's tally and the simulator's agree
    assert s["completed"] == ep["completed"] and s["resolved"] == ep["resolved"]


def test_local_only_sends_nothing_up(built, tmp_path):
    env = mec_ns3_env(settings("lte"), timeout_s=120.0, connect_timeout_s=120.0,
                      log_dir=tmp_path)
    try:
        ep = episode(env, "local")
    finally:
        env.close()
    s = summary(tmp_path)
    assert s["uplink_bytes"] == 0 and s["server_admitted"] == 0 and ep["uploads"] == 0
    assert ep["offloads"] == 0 and ep["energy_j"] > 0
    # local tasks of 1e9 cycles take 1 s on the 1 GHz device CPU
    assert ep["completed"] > 0 and ep["mean_response"] >= CYCLES / 1e9


class ServerZeroWhileUp:
    """Every task fully to server 0 at full power while it is up, else locally."""

    def __init__(self, spec) -> None:
        self.spec = spec
        self.action = 1 + (len(TABLE_FRACTIONS) - 1) * len(TABLE_POWERS) + len(TABLE_POWERS) - 1

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        """Stateless."""

    def act(self, step, explore: bool = False) -> np.ndarray:
        return np.where(step.avail_actions[..., self.action], self.action, 0)


TABLE_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
TABLE_POWERS = (10.0, 23.0)


def test_killing_a_server_mid_episode_lowers_completion(built, tmp_path):
    """The same seed with and without server 0 failing 1 s into the episode, every task sent to
    it while it is up (3 tasks/s per device: a queue builds): the tasks it held or was
    receiving are lost (dropped), so completion falls; afterwards the devices see it down and
    compute locally."""
    sc = settings("lte", episode_limit=30, cycles_per_bit=(2000.0, 2000.0), arrival_rate_hz=3.0)
    assert (sc.offload_fractions, sc.tx_power_dbm) == (TABLE_FRACTIONS, TABLE_POWERS)
    runs = {}
    for name, extra in (("up", []), ("killed", ["--killServer=0", "--killAt=1.0"])):
        env = mec_ns3_env(sc, sim_args=extra, timeout_s=120.0, connect_timeout_s=120.0,
                          log_dir=tmp_path / name)
        try:
            runs[name] = episode(env, ServerZeroWhileUp(env.spec), seed=5)
        finally:
            env.close()
        runs[name]["summary"] = summary(tmp_path / name)
    up, killed = runs["up"], runs["killed"]
    assert killed["summary"]["server_failures"] == 1 and up["summary"]["server_failures"] == 0
    assert killed["dropped"] > up["dropped"]
    assert killed["completion"] < up["completion"]


def test_killing_the_simulator_truncates_the_episode_with_a_reason(built, tmp_path):
    env = mec_ns3_env(settings("lte"), timeout_s=60.0, connect_timeout_s=120.0,
                      log_dir=tmp_path)
    try:
        policy = make_policy("least-loaded", env.spec)
        policy.reset(1, seed=0)
        obs = env.reset(seed=0)
        for _ in range(3):
            obs = env.step(policy.act(obs))
        env.launcher.processes[0].popen.kill()
        res = env.step(policy.act(obs))
        assert res.truncated[0] and not res.info["measured"][0]
        assert "died" in res.info["truncation_reason"][0]
        assert not res.info["global_kpis"].any() and not res.rewards.any()
    finally:
        env.close()


def test_every_flag_the_settings_become_is_one_the_binary_has(built):
    from xr_codec_marl.bridge.build import find_binary

    out = subprocess.run([str(find_binary("mec-offload")), "--PrintHelp"], capture_output=True,
                         text=True, timeout=30).stdout
    program = out.split("Program Options:")[1].split("General Arguments:")[0]
    names = set(re.findall(r"^\s+--(\w+):", program, re.M))
    passed = {a[2:].split("=")[0] for a in scenario_arguments(settings("lte", cloud=True))}
    assert passed <= names, sorted(passed - names)


def test_settings_the_simulator_does_not_model_are_refused_in_one_line(built):
    from xr_codec_marl.env.factory import make_env
    from xr_codec_marl.errors import UsageError

    with pytest.raises(UsageError, match="multi-mec preset"):
        make_env("mec", "ns3", preset="aiot")
    with pytest.raises(UsageError, match="requeue"):
        make_env("mec", "ns3", on_failure="requeue")
    with pytest.raises(UsageError, match="at most 29 servers"):
        make_env("mec", "ns3", servers=30)


def test_a_bad_flag_value_is_one_line_and_a_usage_exit(built):
    from xr_codec_marl.bridge.build import find_binary

    out = subprocess.run([str(find_binary("mec-offload")), "--queue=lifo", "--fixedAction=0"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1  # xrmarl::EXIT_USAGE
    assert out.stderr.strip().splitlines() == [
        "mec-offload: error: --queue must be fifo or ps, got 'lifo' (see --help)"]


def test_serve_answers_a_mec_simulator_started_elsewhere(built, tmp_path, capsys):
    """``xr-marl serve --env mec`` (the compose deployment's agent server) serves a real
    mec-offload simulator: the rule reads the view translated from its raw report."""
    import threading

    from xr_codec_marl.bridge.build import find_binary
    from xr_codec_marl.cli import main

    ep = f"ipc://{tmp_path}/serve.sock"
    out: dict = {}
    argv = ["serve", "--env", "mec", "--devices", "10", "--servers", "3", "--episode-limit",
            "10", "--policy", "least-loaded", "--episodes", "1", "--json", "--bind", ep,
            "--timeout", "60"]
    th = threading.Thread(target=lambda: out.update(rc=main(argv)), daemon=True)
    th.start()
    sc = preset("multi-mec", devices=10, servers=3, episode_limit=10, ran="lte")
    sim = subprocess.run([str(find_binary("mec-offload")), f"--endpoint={ep}", "--seed=4",
                          *scenario_arguments(sc)], capture_output=True, text=True, timeout=120)
    th.join(60)
    assert sim.returncode == 0, sim.stderr
    assert not th.is_alive() and out["rc"] == 0
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert line["windows"] == 10 and line["seed"] == 4
    assert set(line["kpis"]) == {"decisions", "offloads", "waiting"}
    assert set(line["mean_rewards"]) == {"completion", "deadline", "energy", "aoi", "fairness"}
    assert 0 <= line["mean_rewards"]["completion"] <= 1


def standalone(*flags: str) -> dict:
    """A standalone LTE run (``--fixedAction``): its summary line."""
    from xr_codec_marl.bridge.build import find_binary

    out = subprocess.run([str(find_binary("mec-offload")), "--ran=lte", "--devices=10",
                          "--servers=3", "--episodeLimit=15", *flags],
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["summary"]


def test_the_seed_variants_and_the_cloud_are_settings_of_the_simulator(built):
    """failures: servers fail (MTBF 0.3 s); load-peaks: more arrivals than stable on the same
    seed; the cloud server (the last one, 25 ms away) answers no faster than its round trip."""
    stable = standalone("--fixedAction=0")
    assert stable["server_failures"] == 0
    assert standalone("--fixedAction=0", "--variant=failures", "--mtbf=0.3",
                      "--mttr=0.2")["server_failures"] > 0
    peaks = standalone("--fixedAction=0", "--variant=load-peaks", "--peakPeriod=0.4",
                       "--peakDuration=0.2", "--peakMultiplier=4")
    assert peaks["arrived"] > stable["arrived"]
    cloud = standalone("--fixedAction=max", "--cloud=true", "--bitsMin=1e4", "--bitsMax=1e4")
    assert cloud["completed"] > 0 and cloud["response_time_s"] >= 2 * 0.025


def test_serve_refuses_a_mec_simulator_of_other_settings_and_keeps_serving(built, tmp_path,
                                                                           caplog):
    """serve's sessions for mec without the simulator's settings (default N = 50, K = 9) meet a
    simulator of N = 10, K = 3: one readable refusal, the simulator exits, serving goes on."""
    import logging
    import threading

    from xr_codec_marl.bridge.build import find_binary
    from xr_codec_marl.bridge.server import BridgeServer
    from xr_codec_marl.commands.serve import policy_factory, serve_sessions

    server = BridgeServer(f"ipc://{tmp_path}/serve.sock", timeout_s=20.0)
    stop = threading.Event()
    th = threading.Thread(target=serve_sessions, daemon=True, kwargs=dict(
        server=server, make_policy=policy_factory("least-loaded"), episodes=1, settings={},
        should_stop=stop.is_set))
    try:
        with caplog.at_level(logging.WARNING):
            th.start()
            sc = preset("multi-mec", devices=10, servers=3, episode_limit=5, ran="lte")
            sim = subprocess.run([str(find_binary("mec-offload")), f"--endpoint={server.endpoint}",
                                  *scenario_arguments(sc)], capture_output=True, text=True,
                                 timeout=120)
        assert sim.returncode != 0 and "does not match this server's settings" in sim.stderr
        assert th.is_alive()  # still serving
        refusal = [r.getMessage() for r in caplog.records if "refused hello" in r.getMessage()]
        assert refusal and "give serve the simulator's scenario flags" in refusal[0]
        assert len(refusal[0]) < 1000
    finally:
        stop.set()
        th.join(10)
        server.close()
    assert not th.is_alive()
