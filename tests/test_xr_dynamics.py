"""Issue 14's dynamics of the XR scenario — background load, cross mobility, blockage — on
the analytic twin and on the ns-3 ``xr-codec`` simulator (LTE, short standalone episodes;
blockage also on NR, whose channel is built differently).

Every dynamic is off by default; with one on, the KPIs move the way it says on the same seed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from xr_codec_marl.scenarios.xr.analytic import PROFILES, AnalyticXREnv
from xr_codec_marl.scenarios.xr.dynamics import chord_leg, cross_step
from xr_codec_marl.scenarios.xr.ns3_args import apply_ns3_args, scenario_arguments
from xr_codec_marl.scenarios.xr.settings import CROSS_SPEED_MPS, XRScenario

from nr_support import RANS, ran  # noqa: F401  (the fixture)

RING = 400.0
B = 16


def play(sc: XRScenario, action: int = 9, seed: int = 3, b: int = B, profile: str = "ns3-nr"):
    """Constant-action episode: KPIs ``[T, B, N, K]``, distances ``[T, B, N]``, the env."""
    env = AnalyticXREnv(sc, num_envs=b, params=PROFILES[profile])
    env.reset(seed=seed)
    kpis, dist, blocked = [], [], []
    for _ in range(sc.episode_limit):
        res = env.step(np.full((b, sc.n_agents), action))
        kpis.append(res.info["kpis"])
        dist.append(res.info["distance_m"])
        if env._blockage is not None:
            blocked.append(env._blockage.last.mean(-1))  # share of the window blocked
    return np.stack(kpis), np.stack(dist), (np.stack(blocked) if blocked else None), env


# ------------------------------------------------------------------------------ settings


def test_dynamics_are_off_by_default():
    sc = XRScenario()
    assert (sc.load_users, sc.mobility, sc.blockage_rate_hz) == (0, "walk", 0.0)
    args = scenario_arguments(sc)
    for a in ("--loadUsers=0", "--mobility=walk", "--blockageRate=0.0"):
        assert a in args


@pytest.mark.parametrize("change, words", [
    ({"load_users": -1}, "load_users must be an integer in [0, 32]"),
    ({"load_users": 33}, "load_users must be an integer in [0, 32]"),
    ({"load_mbps": 0.0}, "load_mbps must be > 0"),
    ({"load_on_s": -2.0}, "load_on_s must be > 0"),
    ({"load_off_s": float("nan")}, "load_off_s must be > 0"),
    ({"mobility": "run"}, "mobility must be one of walk, cross"),
    ({"blockage_rate_hz": -0.1}, "blockage_rate_hz must be >= 0"),
    ({"blockage_s": 0.0}, "blockage_s must be > 0"),
    ({"blockage_db": -3.0}, "blockage_db must be >= 0 dB"),
])
def test_bad_dynamics_are_one_line_value_errors(change, words):
    with pytest.raises(ValueError) as err:
        XRScenario(**change).validate()
    assert words in str(err.value) and "\n" not in str(err.value)


def test_settings_reach_the_simulator_and_ns3_args_set_them():
    sc = XRScenario(load_users=3, load_mbps=7.5, load_on_s=1.5, load_off_s=3.0,
                    mobility="cross", blockage_rate_hz=0.2, blockage_s=0.5, blockage_db=15.0)
    args = scenario_arguments(sc)
    for a in ("--loadUsers=3", "--loadMbps=7.5", "--loadOnS=1.5", "--loadOffS=3.0",
              "--mobility=cross", "--blockageRate=0.2", "--blockageS=0.5", "--blockageDb=15.0"):
        assert a in args
    back = apply_ns3_args(XRScenario(), ["loadUsers=3", "mobility=cross", "blockageDb=15"])
    assert (back.load_users, back.mobility, back.blockage_db) == (3, "cross", 15.0)
    assert back.ns3_args == ()  # typed settings, not pass-through options
    with pytest.raises(ValueError, match="mobility must be one of"):
        apply_ns3_args(XRScenario(), ["mobility=fly"])


def test_cli_flags_and_cross_speed_default():
    import argparse

    from xr_codec_marl.scenarios.xr import cli

    p = argparse.ArgumentParser()
    p.add_argument("--backend", default="analytic")
    cli.add_arguments(p)
    kw = cli.kwargs_from_args(p.parse_args(
        ["--load-users", "2", "--load-mbps", "5", "--mobility", "cross",
         "--blockage-rate", "0.3", "--blockage-s", "2", "--blockage-db", "12"]))
    assert kw["load_users"] == 2 and kw["load_mbps"] == 5.0 and kw["mobility"] == "cross"
    assert kw["ue_speed_mps"] == CROSS_SPEED_MPS  # cross without --ue-speed: vehicle speed
    assert (kw["blockage_rate_hz"], kw["blockage_s"], kw["blockage_db"]) == (0.3, 2.0, 12.0)
    kw = cli.kwargs_from_args(p.parse_args(["--mobility", "cross", "--ue-speed", "12"]))
    assert kw["ue_speed_mps"] == 12.0
    assert "load_users" not in cli.kwargs_from_args(p.parse_args([]))


@pytest.mark.parametrize("flags, words", [
    (["--load-users", "40"], "--load-users: must be in [0, 32], got 40"),
    (["--mobility", "fly"], "--mobility: invalid choice: 'fly'"),
    (["--blockage-rate", "-1"], "--blockage-rate: must be >= 0, got -1"),
    (["--load-on-s", "0"], "--load-on-s: must be > 0, got 0"),
])
def test_evaluate_refuses_bad_dynamics_in_one_line(flags, words):
    out = subprocess.run(
        [sys.executable, "-m", "xr_codec_marl.cli", "evaluate", "--policy", "fixed:3",
         "--episodes", "1", "--episode-limit", "2", *flags],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], out.stderr


# ------------------------------------------------------------------------------ analytic twin


def test_disabled_dynamics_leave_the_model_unchanged():
    """Their parameters without the switch (no users, rate 0) change nothing at all."""
    base = XRScenario(ring_m=RING, episode_limit=10)
    same = base.with_(load_mbps=25.0, load_on_s=9.0, blockage_s=3.0, blockage_db=40.0)
    a, da, _, _ = play(base)
    b, db, _, _ = play(same)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(da, db)


def test_load_takes_cell_time_from_the_xr_users():
    base = XRScenario(ring_m=RING, episode_limit=20)
    off, d_off, _, _ = play(base)
    on, d_on, _, env = play(base.with_(load_users=4, load_mbps=10.0))
    # the XR users walk exactly as without load: the load has its own random numbers
    np.testing.assert_array_equal(d_off, d_on)
    k = env.spec.kpi_index
    assert on[..., k("throughput_mbps")].mean() < 0.9 * off[..., k("throughput_mbps")].mean()
    assert on[..., k("delay_ms")].mean() > 1.2 * off[..., k("delay_ms")].mean()
    assert on[..., k("plr")].mean() > off[..., k("plr")].mean() + 0.05
    assert (env._cell_state.load.served_bytes.sum(-1) > 0).any()


def test_load_that_never_switches_on_costs_nothing():
    base = XRScenario(ring_m=RING, episode_limit=10)
    off, _, _, env = play(base)
    idle, _, _, _ = play(base.with_(load_users=4, load_on_s=1e-3, load_off_s=1e9))
    np.testing.assert_allclose(idle, off, rtol=1e-9, atol=1e-9)


def test_load_switches_on_and_off_within_an_episode():
    sc = XRScenario(ring_m=RING, episode_limit=40, load_users=4)
    env = AnalyticXREnv(sc, num_envs=B, params=PROFILES["ns3-nr"])
    env.reset(seed=1)
    on = []
    for _ in range(sc.episode_limit):
        env.step(np.full((B, sc.n_agents), 3))
        on.append(env._load.on.copy())
    on = np.stack(on)  # [T, B, K]
    assert 0.35 < on.mean() < 0.65  # 2 s on, 2 s off
    switched = (np.diff(on.astype(int), axis=0) != 0).any(0)
    assert switched.mean() > 0.8  # almost every user switches within 20 s


def test_cross_mobility_spans_the_ring_at_vehicle_speed():
    sc = XRScenario(ring_m=RING, episode_limit=40, mobility="cross", ue_speed_mps=CROSS_SPEED_MPS)
    _, dist, _, _ = play(sc, action=3)
    assert dist.min() >= sc.min_distance_m - 1e-6 and dist.max() <= RING + 1e-6
    span = dist.max(0) - dist.min(0)  # [B, N]
    assert (span > 0.6 * (RING - sc.min_distance_m)).mean() > 0.8
    # the random walk at its 3 m/s moves a UE by at most 60 m in 20 s
    _, walk, _, _ = play(XRScenario(ring_m=RING, episode_limit=40), action=3)
    assert (walk.max(0) - walk.min(0)).max() <= 3.0 * 20 + 1e-6


def test_chord_legs_pass_the_base_station_and_end_on_the_edge():
    rng = np.random.default_rng(0)
    r_min, r_max = 35.0, 400.0
    radius = np.sqrt(rng.uniform(r_min**2, r_max**2, 500))
    angle = rng.uniform(0, 2 * np.pi, 500)
    pos = np.stack([radius * np.cos(angle), radius * np.sin(angle)], -1)
    u, length = chord_leg(pos, rng, r_min, r_max)
    end = pos + length[:, None] * u
    np.testing.assert_allclose(np.linalg.norm(end, axis=-1), r_max, rtol=1e-9)
    t = np.linspace(0, 1, 2001)[:, None, None]
    path = np.linalg.norm(pos + t * length[:, None] * u, axis=-1)  # [S, 500]
    closest = path.min(0)
    assert (closest >= r_min - 0.5).all() and (closest <= max(r_min, r_max / 4) + 0.5).all()
    # walking along: a step never leaves the disc, a new leg starts at the edge
    p, d, left = cross_step(pos, u, length, rng, 2 * r_max, r_min, r_max)
    assert (np.linalg.norm(p, axis=-1) <= r_max + 1e-6).all() and (left > 0).all()


def test_blockage_lowers_the_blocked_ues_throughput_and_raises_their_loss():
    base = XRScenario(ring_m=RING, episode_limit=20)
    off, d_off, _, env = play(base, action=5)
    on, d_on, blocked, _ = play(base.with_(blockage_rate_hz=0.5, blockage_s=1.0,
                                           blockage_db=20.0), action=5)
    np.testing.assert_array_equal(d_off, d_on)  # same walk and shadowing
    k = env.spec.kpi_index
    x = 0.5 * 1.0
    assert abs(blocked.mean() - x / (1 + x)) < 0.08  # stationary share blocked
    hit = blocked > 0.5  # UE-windows blocked most of the time
    clear = blocked == 0
    assert hit.sum() > 50
    thr = k("throughput_mbps")
    assert on[..., thr][hit].mean() < 0.8 * off[..., thr][hit].mean()
    assert on[..., k("plr")][hit].mean() > off[..., k("plr")][hit].mean() + 0.05
    # the channel KPI sees the loss
    s = k("sinr_db")
    assert on[..., s][hit].mean() < off[..., s][hit].mean() - 10
    np.testing.assert_allclose(on[..., s][clear], off[..., s][clear], rtol=1e-5)


# ------------------------------------------------------------------------------ ns-3


@pytest.fixture(scope="module")
def built() -> None:
    from xr_codec_marl.bridge.build import build_ns3, is_up_to_date

    if not is_up_to_date():
        build_ns3()


def simulate(sc: XRScenario, *extra: str, action: str = "9", seed: int = 3) -> dict:
    """A standalone xr-codec episode (no agent server): its summary line."""
    from xr_codec_marl.bridge.build import find_binary

    out = subprocess.run([str(find_binary("xr-codec")), *scenario_arguments(sc),
                          f"--fixedAction={action}", f"--seed={seed}", *extra],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])["summary"]


def team(summary: dict, kpi: str) -> float:
    return float(np.mean([u[kpi] for u in summary["mean_kpis"].values()]))


LTE = XRScenario(ring_m=RING, episode_limit=12, ran="lte")


@pytest.mark.ns3
def test_ns3_refuses_bad_dynamics_in_one_line(built):
    from xr_codec_marl.bridge.build import find_binary

    for flag, words in (("--loadUsers=33", "loadUsers must be at most 32"),
                        ("--mobility=fly", "mobility must be walk or cross"),
                        ("--blockageRate=-1", "blockageRate must be >= 0"),
                        ("--loadOnS=0", "loadOnS and loadOffS must be > 0"),
                        ("--blockageS=0", "blockageS must be > 0")):
        out = subprocess.run([str(find_binary("xr-codec")), "--ran=lte", "--fixedAction=0", flag],
                             capture_output=True, text=True, timeout=60)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 1 and len(lines) == 1 and words in lines[0], out.stderr


@pytest.mark.ns3
def test_ns3_load_users_take_cell_time(built):
    off = simulate(LTE)
    on = simulate(LTE.with_(load_users=4, load_mbps=10.0))
    assert on["dynamics"]["load_users"] == 4 and off["dynamics"]["load_users"] == 0
    assert set(on["mean_kpis"]) == {"AR", "VR", "CG"}  # not agents, not reported as such
    assert on["traced_bearers"] == off["traced_bearers"] + 4  # their default bearers exist
    assert team(on, "throughput_mbps") < 0.9 * team(off, "throughput_mbps")
    assert team(on, "delay_ms") > 1.2 * team(off, "delay_ms")
    assert team(on, "plr") > team(off, "plr")
    # the XR users start where they did without load
    for a in off["mean_kpis"]:
        assert on["mean_kpis"][a]["start_distance_m"] == off["mean_kpis"][a]["start_distance_m"]


@pytest.mark.ns3
def test_ns3_cross_mobility_travels_far(built):
    walk = simulate(LTE)
    cross = simulate(LTE.with_(mobility="cross", ue_speed_mps=CROSS_SPEED_MPS))
    assert cross["dynamics"]["mobility"] == "cross"
    moved = {a: abs(u["end_distance_m"] - u["start_distance_m"])
             for a, u in cross["mean_kpis"].items()}
    # 6.5 s at 30 m/s on chords through the base station: far from where they started
    assert max(moved.values()) > 100, moved
    for a, u in walk["mean_kpis"].items():
        assert u["start_distance_m"] == cross["mean_kpis"][a]["start_distance_m"]
        assert abs(u["end_distance_m"] - u["start_distance_m"]) <= 3.0 * 6.5 + 1e-6


@pytest.mark.ns3
@pytest.mark.parametrize("ran", RANS, indirect=True)
def test_ns3_blockage_lowers_the_blocked_ues_throughput(built, ran):
    sc = LTE.with_(ran=ran, episode_limit=12 if ran == "lte" else 6)
    off = simulate(sc, action="5")
    on = simulate(sc.with_(blockage_rate_hz=0.5, blockage_s=1.5, blockage_db=20.0), action="5")
    blocked = on["dynamics"]["blocked_s"]
    assert "blocked_s" not in off["dynamics"]
    hit = [a for a, s in blocked.items() if s > 1.0]  # blocked a good part of the episode
    assert hit, blocked

    def over_hit(summary: dict, kpi: str) -> float:
        return float(np.mean([summary["mean_kpis"][a][kpi] for a in hit]))

    assert over_hit(on, "throughput_mbps") < 0.9 * over_hit(off, "throughput_mbps"), blocked
    assert over_hit(on, "plr") > over_hit(off, "plr"), blocked
    for a in hit:  # the UE's own channel measurement sees the extra loss
        assert on["mean_kpis"][a]["sinr_db"] < off["mean_kpis"][a]["sinr_db"] - 2, (a, blocked)


@pytest.mark.ns3
def test_ns3_env_announces_the_dynamics(built, tmp_path):
    from xr_codec_marl.scenarios.xr.ns3 import xr_ns3_env

    sc = LTE.with_(episode_limit=3, load_users=2, mobility="cross", ue_speed_mps=20.0,
                   blockage_rate_hz=0.3)
    env = xr_ns3_env(sc, workers=1, timeout_s=60.0, connect_timeout_s=60.0, log_dir=tmp_path)
    try:
        env.reset(seed=2)
        for _ in range(3):
            res = env.step(np.zeros((1, 3), dtype=np.int64))
        assert res.done.all()
        hello = env.simulator_parameters[0]
        assert (hello["load_users"], hello["mobility"], hello["blockage_rate_hz"]) == \
            ("2", "cross", "0.3")
        assert res.info["kpis"].shape[:2] == (1, 3)  # the three XR agents only
    finally:
        env.close()
