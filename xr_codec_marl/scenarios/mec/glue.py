"""The MEC scenario's ns-3 glue: every step's outputs from the simulator's raw state report.

The ``mec-offload`` simulator reports its state (:mod:`.raw`), not observations or rewards.
:class:`MecGlue` rebuilds from it the view the analytic twin's
:meth:`~.analytic.AnalyticMECEnv.view` returns (``info["mec"]``, what the rules read), then
the observations and state (:func:`.observation.build`), the available actions, the reward
components and the declared KPIs (:mod:`.outputs`): the functions the twin calls, so the two
backends compute them once, the same way.

Two things differ from the twin by the simulator's model: every device reports the gain to
its one serving cell, which carries its uploads to every server, so ``gains`` is that gain
for each server; and ``t`` is each simulator's clock ``[B]`` (NaN where a worker did not
report; 0.0 when the caller gives no clocks), where the twin has one scalar time.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from xr_codec_marl.core.api import EnvSpec
from xr_codec_marl.core.scenario import Translation
from xr_codec_marl.scenarios.mec import models, observation, outputs, raw
from xr_codec_marl.scenarios.mec.actions import action_table, head_table
from xr_codec_marl.scenarios.mec.kpis import MEC_AGENT_KPI_NAMES, MEC_GLOBAL_KPI_NAMES
from xr_codec_marl.scenarios.mec.settings import MECSettings

#: The wire's most global KPI names (``bridge.wire.LIMITS.global_kpis``; a test checks it).
WIRE_GLOBAL_KPIS = 256
#: Most servers whose raw report fits in them: 8 K + 19 <= 256.
MAX_SERVERS = (WIRE_GLOBAL_KPIS - len(raw.COUNTS)) // len(raw.SERVER_FIELDS)


def limits(s: MECSettings) -> list[str]:
    """Why settings ``s`` cannot go through the raw report (empty: they can)."""
    out = []
    if s.preset != "multi-mec":
        out.append(f"the ns3 backend runs the multi-mec preset, not {s.preset!r}")
    if s.servers > MAX_SERVERS:
        out.append(f"the ns3 backend reports at most {MAX_SERVERS} servers (their "
                   f"{len(raw.SERVER_FIELDS)} values each and {len(raw.COUNTS)} counts fill "
                   f"the wire's {WIRE_GLOBAL_KPIS} global KPIs), got {s.servers}")
    return out


class MecGlue:
    """:class:`~xr_codec_marl.core.scenario.Ns3Translator` of the ``multi-mec`` preset."""

    def __init__(self, spec: EnvSpec, settings: MECSettings) -> None:
        self.spec, self.s = spec, settings
        # hybrid: the target head's table (availability), as the twin's; the simulator
        # applies the fraction and power values (mec-offload --actions=hybrid)
        self.table = head_table(settings) if settings.actions == "hybrid" else \
            action_table(settings)
        self._weights = np.asarray(settings.reward_weights, np.float32)
        self._interference_w = float(models.dbm_to_w(settings.interference_dbm))
        self._agent = {f: i for i, f in enumerate(raw.AGENT_FIELDS)}
        self._server = {f: i for i, f in enumerate(raw.SERVER_FIELDS)}
        self._n_kpis = len(MEC_AGENT_KPI_NAMES)
        assert raw.AGENT_FIELDS[:self._n_kpis] == MEC_AGENT_KPI_NAMES

    def wire_spec(self) -> EnvSpec:
        """The env spec with the raw report's names; its KPI declarations come from them."""
        return replace(self.spec, kpi_names=raw.AGENT_FIELDS,
                       global_kpi_names=raw.global_names(self.s.servers), kpis=())

    def problems(self) -> list[str]:
        return limits(self.s)

    def view(self, kpis_raw: np.ndarray, global_raw: np.ndarray,
             sim_time_s: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The twin's view (``info["mec"]``) from raw reports ``[B, N, Kw]`` and ``[B, Gw]``."""
        a = np.asarray(kpis_raw, np.float64)
        g = np.asarray(global_raw, np.float64)
        b, k = a.shape[0], self.s.servers
        srv = g[:, :k * len(raw.SERVER_FIELDS)].reshape(b, k, len(raw.SERVER_FIELDS))

        def dev(name: str) -> np.ndarray:
            return a[..., self._agent[name]]

        def server(name: str) -> np.ndarray:
            return srv[..., self._server[name]]

        has = dev("has") > 0.5
        load = server("uploads_active")
        gains = np.repeat(dev("gain").astype(np.float32)[..., None], k, axis=-1)
        t = np.zeros(b) if sim_time_s is None else np.asarray(sim_time_s, np.float64)
        return {
            "has": has, "bits": dev("bits"), "cycles": dev("cycles"),
            "priority": dev("priority"), "memory": dev("memory_gb"),
            "slack_s": np.where(has, dev("slack_s"), 0.0), "ready_s": np.zeros(has.shape),
            "server_backlog_s": server("backlog_s"), "server_speed": server("speed_hz"),
            "up": server("up") > 0.5, "server_mem_used": server("mem_used_gb"),
            "server_mem_cap": server("mem_cap_gb"),
            "server_free_slots": np.rint(server("free_slots")).astype(np.int64),
            "aoi_s": dev("aoi_s"), "t": t,
            "local_wait_s": dev("local_wait_s"), "uplink_wait_s": dev("uplink_wait_s"),
            "local_full": dev("local_full") > 0.5, "gains": gains, "uploads_active": load,
            "snr_full": outputs.snr_full(self.s, gains, load, self._interference_w),
        }

    def counts(self, global_raw: np.ndarray) -> dict[str, np.ndarray]:
        """The step's event counts ``{name: [B]}`` (:data:`.raw.COUNTS`)."""
        g = np.asarray(global_raw, np.float64)
        start = self.s.servers * len(raw.SERVER_FIELDS)
        return {name: g[:, start + j] for j, name in enumerate(raw.COUNTS)}

    def translate(self, kpis_raw: np.ndarray, global_raw: np.ndarray, measured: np.ndarray,
                  decision_ms: float, first: bool,
                  sim_time_s: np.ndarray | None = None) -> Translation:
        """Every output of a step (see :class:`~xr_codec_marl.core.scenario.Ns3Translator`).
        ``measured`` is not needed here: rows without a new report hold the last one, and
        the caller keeps the last outputs of those workers."""
        s = self.s
        view = self.view(kpis_raw, global_raw, sim_time_s)
        obs, state = observation.build(s, view)
        avail = outputs.avail_actions(self.table, view, multi=True)
        b, n = view["has"].shape
        if first:  # the start-up report: no window measured yet, as the twin's reset
            rewards = np.zeros((b, len(self._weights)), np.float32)
            kpis = np.zeros((b, n, self._n_kpis), np.float32)
            global_kpis = np.zeros((b, len(MEC_GLOBAL_KPI_NAMES)), np.float32)
        else:
            c = self.counts(global_raw)
            g = np.asarray(global_raw, np.float64)
            busy = g[:, :s.servers * len(raw.SERVER_FIELDS)].reshape(
                b, s.servers, len(raw.SERVER_FIELDS))[..., self._server["busy"]]
            aoi = view["aoi_s"]
            rewards = (outputs.reward_components(s, c, busy, aoi) * self._weights).astype(
                np.float32)
            kpis = np.asarray(kpis_raw[..., :self._n_kpis], np.float32).copy()
            global_kpis = outputs.global_kpis(c, busy, aoi, decision_ms)
        return Translation(obs, state, avail, rewards, kpis, global_kpis, {"mec": view})
