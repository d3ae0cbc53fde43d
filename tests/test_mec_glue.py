"""The MEC outputs computed once for both backends: the twin's maths moved to ``outputs``
unchanged, the ns-3 glue rebuilding the twin's outputs from a raw state report, and
``Ns3Env`` running a translator glue against simulators that send raw MEC reports over the
real wire (here: the twin itself behind a Python simulator socket)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from test_bridge_fakesim import SimSocket, T

from xr_codec_marl.bridge import wire
from xr_codec_marl.bridge.proto import bridge_pb2 as pb
from xr_codec_marl.core.registry import get_scenario
from xr_codec_marl.core.scenario import Ns3Translator, Translation
from xr_codec_marl.env.ns3_env import Ns3Env
from xr_codec_marl.scenarios.mec import models, raw
from xr_codec_marl.scenarios.mec.analytic import AnalyticMECEnv
from xr_codec_marl.scenarios.mec.glue import MAX_SERVERS, WIRE_GLOBAL_KPIS, MecGlue
from xr_codec_marl.scenarios.mec.kpis import MEC_GLOBAL_KPI_NAMES
from xr_codec_marl.scenarios.mec.radio import Radio

G = {name: i for i, name in enumerate(MEC_GLOBAL_KPI_NAMES)}
NOT_WALL_CLOCK = [i for name, i in G.items() if name != "decision_ms"]
#: small, busy settings: full CPUs, failures, uploads sharing cells
BUSY = {"devices": 6, "servers": 3, "arrival_rate_hz": 6.0, "variant": "failures",
        "mtbf_s": 2.0, "mttr_s": 0.5, "episode_limit": 12}


def settings_and_spec(**kw):
    scenario = get_scenario("mec")
    s = scenario.make_settings(**kw)
    return s, scenario.env_spec(s)


def twin(num_envs: int, **kw) -> AnalyticMECEnv:
    s, spec = settings_and_spec(**kw)
    return AnalyticMECEnv(s, spec, num_envs)


def random_actions(avail: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random available action per agent."""
    return (rng.random(avail.shape) * avail).argmax(-1)


@pytest.fixture
def one_cell(monkeypatch):
    """Every device's gain to its serving cell for every server, as the ns-3 model has it
    (one cell carries uploads to all servers); the twin then matches a raw report exactly."""
    gains = Radio.gains

    def serving_cell(self):
        g = gains(self)
        return np.repeat(g.max(-1, keepdims=True), g.shape[-1], axis=-1)

    monkeypatch.setattr(Radio, "gains", serving_cell)


def encode(env: AnalyticMECEnv, kpis: np.ndarray, view: dict) -> tuple[np.ndarray, np.ndarray]:
    """The raw report (:mod:`.raw`) of the twin's state: the inverse of the glue's mapping."""
    has = view["has"]

    def task(x: np.ndarray) -> np.ndarray:  # the raw report zeroes the values of no task
        return np.where(has, x, 0.0)

    dev = {"decisions": kpis[..., 0], "offloads": kpis[..., 1], "waiting": kpis[..., 2],
           "has": has, "bits": task(view["bits"]), "cycles": task(view["cycles"]),
           "priority": task(view["priority"]), "memory_gb": task(view["memory"]),
           "slack_s": view["slack_s"], "local_wait_s": view["local_wait_s"],
           "uplink_wait_s": view["uplink_wait_s"], "local_full": view["local_full"],
           "aoi_s": view["aoi_s"], "gain": view["gains"][..., 0]}
    server = {"backlog_s": view["server_backlog_s"], "speed_hz": view["server_speed"],
              "up": view["up"], "mem_used_gb": view["server_mem_used"],
              "mem_cap_gb": view["server_mem_cap"], "free_slots": view["server_free_slots"],
              "busy": env.last_busy, "uploads_active": view["uploads_active"]}
    b = has.shape[0]
    kpis_raw = np.stack([np.asarray(dev[f], np.float64) for f in raw.AGENT_FIELDS], -1)
    per_server = np.stack([np.asarray(server[f], np.float64) for f in raw.SERVER_FIELDS], -1)
    counts = np.stack([env.last_counts[c] for c in raw.COUNTS], -1)
    return kpis_raw, np.concatenate([per_server.reshape(b, -1), counts], -1)


# ------------------------------------------------------------------ (a) the twin's maths moved


def former_rewards(env: AnalyticMECEnv) -> np.ndarray:
    """``AnalyticMECEnv._rewards`` before it moved to ``outputs`` (verbatim)."""
    c, s, busy = env.last_counts, env.s, env.last_busy
    resolved = c["resolved"]
    some = resolved > 0
    completion = np.where(some, c["completed"] / np.maximum(resolved, 1), 1.0)
    deadline = np.where(some, c["prio_on_time"] / np.maximum(c["prio_sum"], 1e-12), 1.0)
    per_task = c["energy_j"] / np.maximum(c["energy_tasks"], 1)
    energy = np.clip(1.0 - per_task / s.energy_ref_j, 0.0, 1.0)
    aoi = np.clip(1.0 - env._aoi().mean(-1) / s.aoi_max_s, 0.0, 1.0)
    fairness = models.jain_index(busy)
    return np.stack([completion, deadline, energy, aoi, fairness], axis=-1)


def former_global_kpis(env: AnalyticMECEnv, decision_ms: float) -> np.ndarray:
    """``AnalyticMECEnv._global_kpis`` before it moved (verbatim)."""
    c, busy = env.last_counts, env.last_busy

    def ratio(num, den, scale=1.0):
        return np.where(den > 0, scale * num / np.where(den > 0, den, 1.0), 0.0)

    aoi = env._aoi()
    values = {
        "response_time_s": ratio(c["response_sum"], c["completed"]),
        "deadline_pct": ratio(c["on_time"], c["resolved"], 100.0),
        "completion_pct": ratio(c["completed"], c["resolved"], 100.0),
        "rejected_pct": ratio(c["rejected"], c["resolved"], 100.0),
        "dropped_pct": ratio(c["dropped"], c["resolved"], 100.0),
        "jain": models.jain_index(busy),
        "energy_per_task_j": ratio(c["energy_j"], c["energy_tasks"]),
        "tasks_per_j": ratio(c["completed"], c["energy_j"]),
        "aoi_mean_s": aoi.mean(-1),
        "aoi_peak_s": ratio(c["peak_sum"], c["updates"]),
        "outage_pct": ratio(c["outages"], c["uploads"], 100.0),
        "utilisation": busy.mean(-1),
        "high_completion_pct": ratio(c["completed_high"], c["resolved_high"], 100.0),
        "low_completion_pct": ratio(c["completed_low"], c["resolved_low"], 100.0),
        "decision_ms": np.full(env.num_envs, decision_ms),
    }
    return np.stack([values[k] if k in values else c[k] for k in MEC_GLOBAL_KPI_NAMES],
                    axis=-1).astype(np.float32)


def former_avail(env: AnalyticMECEnv, view: dict) -> np.ndarray:
    """``AnalyticMECEnv._avail_actions`` before it moved (verbatim)."""
    t, has, up = env.table, view["has"], view["up"]
    ok = np.where(t.target >= 0, up[:, np.maximum(t.target, 0)], True)
    b, a = has.shape
    avail = np.zeros((b, a, t.n), bool)
    avail[has] = np.repeat(ok, has.sum(1), axis=0)
    if env.multi:
        full = has & view["local_full"]
        if full.any():
            avail[full] &= ~((t.alpha < 1.0) & (t.target >= 0))
        avail[..., 0] = True
    else:
        avail[~has, 0] = True
    return avail


def former_snr_full(env: AnalyticMECEnv) -> np.ndarray:
    """The ``snr_full`` of ``AnalyticMECEnv.view`` before it moved (verbatim)."""
    s = env.s
    load = env._uploads_active(env.t)
    p = float(models.dbm_to_w(max(s.tx_power_dbm)))
    noise = models.noise_w(s.bandwidth_hz / (load + 1.0), s.noise_figure_db)
    return env._gains * (p / (noise + env.radio.interference_w)).astype(
        np.float32)[:, None, :]


@pytest.mark.parametrize("kw", [BUSY, {**BUSY, "queue": "ps", "variant": "heterogeneous"},
                                {"preset": "aiot", "servers": 4, "devices": 10,
                                 "episode_limit": 12}],
                         ids=["multi-mec", "multi-mec-ps-hetero", "aiot"])
def test_the_twin_computes_its_outputs_as_before_the_move(kw):
    env = twin(3, **kw)
    rng = np.random.default_rng(0)
    step = env.reset(seed=4)
    assert np.array_equal(step.avail_actions, former_avail(env, step.info["mec"]))
    for _ in range(env.spec.episode_limit):
        step = env.step(random_actions(step.avail_actions, rng))
        view = step.info["mec"]
        ms = float(step.info["global_kpis"][0, G["decision_ms"]])
        rewards = (former_rewards(env) * np.asarray(env.s.reward_weights, np.float32))
        assert np.array_equal(step.rewards, rewards.astype(np.float32))
        assert np.array_equal(step.info["global_kpis"], former_global_kpis(env, ms))
        assert np.array_equal(step.avail_actions, former_avail(env, view))
        if env.multi:
            snr = former_snr_full(env)
            assert snr.dtype == view["snr_full"].dtype and np.array_equal(view["snr_full"], snr)
    assert env.last_counts["resolved"].sum() > 0


# ------------------------------------------------------------------ (b) raw report round trip


def test_the_glue_rebuilds_the_twins_outputs_from_its_raw_report(one_cell):
    env = twin(3, **BUSY)
    glue = MecGlue(env.spec, env.s)
    assert isinstance(glue, Ns3Translator) and glue.problems() == []
    rng = np.random.default_rng(1)
    step = env.reset(seed=2)
    first = glue.translate(*encode(env, step.info["kpis"], step.info["mec"]),
                           measured=np.ones(3, bool), decision_ms=0.0, first=True)
    assert isinstance(first, Translation)
    for name in ("obs", "state"):
        assert np.array_equal(getattr(first, name), getattr(step, name)), name
    assert np.array_equal(first.avail, step.avail_actions)
    assert not first.kpis.any() and not first.rewards.any() and not first.global_kpis.any()
    assert first.kpis.shape == step.info["kpis"].shape
    assert first.global_kpis.shape == step.info["global_kpis"].shape
    seen = {"full": False, "down": False, "offload": False}
    for _ in range(env.spec.episode_limit):
        step = env.step(random_actions(step.avail_actions, rng))
        view = step.info["mec"]
        ms = float(step.info["global_kpis"][0, G["decision_ms"]])
        kpis_raw, global_raw = encode(env, step.info["kpis"], view)
        out = glue.translate(kpis_raw, global_raw, np.ones(3, bool), ms, False,
                             sim_time_s=np.full(3, env.t))
        for name in ("obs", "state", "rewards"):
            assert np.array_equal(getattr(out, name), getattr(step, name)), name
        assert np.array_equal(out.avail, step.avail_actions)
        assert np.array_equal(out.kpis, step.info["kpis"])
        assert np.array_equal(out.global_kpis, step.info["global_kpis"])
        mine = out.info["mec"]
        assert set(mine) == set(view)
        for key, value in view.items():
            if key in ("bits", "cycles", "priority", "memory"):  # the report zeroes no task's
                value = np.where(view["has"], value, 0.0)
            assert np.array_equal(np.broadcast_to(value, np.shape(mine[key])), mine[key]), key
        # and through the wire's float32: the same up to its rounding
        out32 = glue.translate(kpis_raw.astype(np.float32), global_raw.astype(np.float32),
                               np.ones(3, bool), ms, False)
        np.testing.assert_allclose(out32.obs, step.obs, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out32.rewards, step.rewards, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out32.global_kpis, step.info["global_kpis"], rtol=1e-5,
                                   atol=1e-6)
        assert np.array_equal(out32.avail, step.avail_actions)
        seen["full"] |= bool((view["has"] & view["local_full"]).any())
        seen["down"] |= bool((~view["up"]).any())
        seen["offload"] |= bool(step.info["kpis"][..., 1].any())
    assert all(seen.values()), seen  # the rollout went through what the masks turn on


def test_the_glue_says_why_it_cannot_serve_and_announces_raw_names():
    s, spec = settings_and_spec(preset="aiot")
    assert MecGlue(spec, s).problems() == [
        "the ns3 backend runs the multi-mec preset, not 'aiot'"]
    assert MAX_SERVERS == 29 and WIRE_GLOBAL_KPIS == wire.LIMITS.global_kpis
    s, spec = settings_and_spec(servers=MAX_SERVERS)
    glue = MecGlue(spec, s)
    assert glue.problems() == []
    ws = glue.wire_spec()
    assert ws.kpi_names == raw.AGENT_FIELDS and len(ws.global_kpi_names) <= 256
    assert ws.global_kpi_names[:2] == ("s0_backlog_s", "s0_speed_hz")
    assert ws.global_kpi_names[-len(raw.COUNTS):] == raw.COUNTS
    assert (ws.agents, ws.state_size, ws.reward_components) == (
        spec.agents, spec.state_size, spec.reward_components)
    s, spec = settings_and_spec(servers=MAX_SERVERS + 1)
    (problem,) = MecGlue(spec, s).problems()
    assert "at most 29 servers" in problem
    with pytest.raises(ValueError, match="at most 29 servers"):
        Ns3Env(spec, glue=MecGlue(spec, s), launch=False, endpoint="tcp://127.0.0.1:*")


# ------------------------------------------------------------------ (c) Ns3Env over the wire


class TwinSim(threading.Thread):
    """A simulator that runs one twin copy and sends its raw reports (:func:`encode`);
    ``record`` receives the twin's own step results, ``die_after`` vanishes after that step."""

    def __init__(self, endpoint: str, settings, spec, seed: int, die_after: int | None = None):
        super().__init__(daemon=True)
        self.endpoint, self.settings, self.spec, self.seed = endpoint, settings, spec, seed
        self.die_after = die_after
        self.record: list = []
        self.result: object = None

    def run(self) -> None:
        try:
            self.result = self._play()
        except BaseException as exc:  # noqa: BLE001 - the test reads it
            self.result = exc

    def _play(self) -> str:
        env = AnalyticMECEnv(self.settings, self.spec, 1)
        step = env.reset(seed=self.seed)
        sock = SimSocket(self.endpoint)
        try:
            wire_spec = MecGlue(self.spec, self.settings).wire_spec()
            reply = sock.hello(wire_spec, self.seed, send_rewards=False)
            if reply.WhichOneof("body") != "welcome":
                return f"refused: {reply.error.message}"
            sid = reply.welcome.session_id
            limit = self.spec.episode_limit
            for t in range(limit + 1):
                kpis_raw, global_raw = encode(env, step.info["kpis"], step.info["mec"])
                self.record.append(step)
                sock.send(wire.step_envelope(sid, t, env.t, kpis=kpis_raw[0],
                                             global_kpis=global_raw[0], truncated=t == limit,
                                             truncation_reason="episode limit"))
                if self.die_after is not None and t >= self.die_after:
                    return "died"
                reply = sock.recv()
                kind = reply.WhichOneof("body")
                if kind == "close":
                    sock.send(pb.Envelope(goodbye=pb.Goodbye(session_id=sid, reason="done")))
                    return f"closed: {reply.close.reason}"
                step = env.step(np.array([list(reply.action.actions)]))
            return "no close"
        finally:
            sock.close()


def test_ns3_env_translates_raw_mec_reports_and_truncates_a_dead_worker(one_cell):
    s, spec = settings_and_spec(**{**BUSY, "episode_limit": 5})
    env = Ns3Env(spec, workers=2, glue=MecGlue(spec, s), launch=False,
                 endpoint="tcp://127.0.0.1:*", timeout_s=T, connect_timeout_s=3 * T)
    try:
        sims = {seed: TwinSim(env.endpoint, s, spec, seed, die_after=2 if seed == 0 else None)
                for seed in (10, 0)}
        for sim in sims.values():
            sim.start()
        first = env.reset()
        slot = {seed: first.info["seeds"].index(seed) for seed in sims}
        victim, other = slot[0], slot[10]
        assert first.obs.shape == (2, spec.n_agents, spec.obs_size)
        assert not first.info["measured"].any()
        assert not first.info["kpis"].any() and not first.info["global_kpis"].any()
        for seed, i in slot.items():
            mine = sims[seed].record[0]
            np.testing.assert_allclose(first.obs[i], mine.obs[0], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(first.state[i], mine.state[0], rtol=1e-5, atol=1e-6)
            assert np.array_equal(first.avail_actions[i], mine.avail_actions[0])
        assert first.info["mec"]["has"].shape == (2, spec.n_agents)
        rng = np.random.default_rng(3)
        step = first
        for t in range(1, spec.episode_limit + 1):
            if t == 3:
                time.sleep(0.2)  # let ZeroMQ notice the victim's closed connection
            last_obs = step.obs[victim].copy()
            time.sleep(0.01)  # the agents' decision time, measured by the env
            step = env.step(random_actions(step.avail_actions, rng))
            assert "mec" in step.info
            for seed, i in slot.items():
                if seed == 0 and t >= 3:
                    continue
                mine = sims[seed].record[t]
                assert step.info["measured"][i]
                np.testing.assert_allclose(step.obs[i], mine.obs[0], rtol=1e-5, atol=1e-6)
                np.testing.assert_allclose(step.rewards[i], mine.rewards[0], rtol=1e-5,
                                           atol=1e-6)
                assert np.array_equal(step.avail_actions[i], mine.avail_actions[0])
                assert np.array_equal(step.info["kpis"][i], mine.info["kpis"][0])
                np.testing.assert_allclose(step.info["global_kpis"][i, NOT_WALL_CLOCK],
                                           mine.info["global_kpis"][0, NOT_WALL_CLOCK],
                                           rtol=1e-5, atol=1e-6)
                assert step.info["global_kpis"][i, G["decision_ms"]] >= 10.0
            if t >= 3:
                assert step.truncated[victim] and not step.info["measured"][victim]
                reason = step.info["truncation_reason"][victim]
                assert reason and reason != "time limit", reason
                np.testing.assert_array_equal(step.obs[victim], last_obs)
                assert not step.rewards[victim].any() and not step.info["kpis"][victim].any()
                assert not step.info["global_kpis"][victim].any()
            assert step.truncated[other] == (t == spec.episode_limit)
        assert step.info["truncation_reason"][other] == "time limit"
        for seed, sim in sims.items():
            sim.join(5 * T)
            assert sim.result == ("died" if seed == 0 else "closed: episode limit"), sim.result
    finally:
        env.close()
