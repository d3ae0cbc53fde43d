"""The analytic backend of the XR scenario: a fast, vectorised model of seed 002's network.

``B`` independent copies of the cell run in lockstep. Each window (0.5 s) the UEs move
(random walk at 3 m/s inside the ring), their shadowing evolves (spatially correlated,
Gudmundson), and 30 frame periods of XR traffic go through the RLC buffers and the
proportional-fair scheduler of :mod:`xr_codec_marl.scenarios.xr.cell` with per-period fast fading. The
window's packets give the per-UE KPIs, the eq. 13 observations and the eq. 15-23 rewards
through the same functions the ns-3 backend uses.

With ``actions="continuous"`` (issue 15) each agent's action is its codec rate in
[d_min, d_max] Mbps (``HybridActions`` with one continuous value per agent), applied as is:
the frame sizes scale with it as with a rate of the table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from xr_codec_marl.core.api import (EnvSpec, Observation, StepResult, split_actions,
                                    validate_actions)
from xr_codec_marl.scenarios.xr import channel, traffic
from xr_codec_marl.scenarios.xr.cell import BackgroundLoad, CellParams, CellState, simulate_window
from xr_codec_marl.scenarios.xr.dynamics import (
    BlockageModel,
    LoadModel,
    chord_leg,
    cross_step,
    dynamics_rngs,
    shadow_step,
    walk_step,
)
from xr_codec_marl.scenarios.xr.observation import build_observation, rate_choice
from xr_codec_marl.scenarios.xr.rewards import drr_reward, team_rewards, xr_quality_index
from xr_codec_marl.scenarios.xr.settings import XRScenario


@dataclass(frozen=True)
class AnalyticParams:
    """Free parameters of the analytic model (calibrated against ns-3; see benchmarks/)."""

    shannon_alpha: float = 0.6  # link-level efficiency vs Shannon (TR 36.942)
    overhead: float = 0.25  # share of resources for control and reference signals
    implementation_loss_db: float = 3.0  # beamforming and receiver losses vs ideal
    shadowing_std_db: float = 6.0  # TR 38.901 UMa NLoS
    shadowing_decorrelation_m: float = 50.0  # TR 38.901 UMa NLoS
    fast_fading_std_db: float = 2.0  # wideband effective-SINR variation per frame period
    mcs_table: str = "nr256"  # "nr256" (TS 38.214 table 2) or "lte64" (TS 36.213)
    direction_change_s: float = 1.0  # random walk: new heading every this many seconds
    spread_ms: float = 4.0
    base_delay_ms: float = 1.0
    #: scheduling slot (ms); None = the scenario's numerology (0.25 ms for numerology 2)
    slot_ms: float | None = None
    harq_bler: float = 0.1  # first-transmission BLER target
    harq_rtt_ms: float = 1.0  # NR numerology 2: a retransmission a few slots later


#: Named parameter sets. ``nr``: the paper's NR cell (numerology 2, 4x8 array, 256QAM), the
#: default. ``ns3-lte``: our ns-3 scenario's LTE cell (1 ms TTI, 0 dBi antenna, 64QAM, frames
#: sent as one burst), fitted by benchmarks/calibrate.py so the analytic model tracks ns-3.
PROFILES: dict[str, AnalyticParams] = {
    "nr": AnalyticParams(),
    "ns3-lte": AnalyticParams(
        mcs_table="lte64", implementation_loss_db=18.0, overhead=0.3, shannon_alpha=0.75,
        fast_fading_std_db=0.0, spread_ms=0.0, base_delay_ms=3.0, slot_ms=1.0, harq_bler=0.0,
        harq_rtt_ms=8.0,
    ),  # refitted 2026-12-06 (benchmarks/results/calibration.md)
    # the first LTE fit (2026-11-22), kept so results made with ``ns3-lte`` before the refit
    # reproduce exactly
    "ns3-lte-2026-11-22": AnalyticParams(
        mcs_table="lte64", implementation_loss_db=15.0, overhead=0.2, shannon_alpha=0.6,
        spread_ms=0.0, base_delay_ms=4.0, slot_ms=1.0, harq_bler=0.0, harq_rtt_ms=8.0,
    ),
    # our ns-3 scenario's 5G-LENA NR cell (the same Table III cell as ``nr``), fitted by
    # ``benchmarks/calibrate.py fit --ran nr`` (benchmarks/results/calibration_nr.md); 5G-LENA's
    # default error model (NrEesmIrT1) uses MCS table 1, whose top efficiency is 64QAM's 5.55
    # like LTE's CQI table; the high overhead stands for its control symbols, DMRS and the
    # slot-granular TBs that one peak rate cannot express
    "ns3-nr": AnalyticParams(
        mcs_table="lte64", overhead=0.45, implementation_loss_db=9.0, shannon_alpha=0.6,
        base_delay_ms=1.5,
    ),
}


_SE_TABLES = {"nr256": channel.NR_CQI_TABLE2_SE, "lte64": channel.LTE_CQI_SE}


class AnalyticXREnv:
    """Vectorised analytic XR environment implementing :class:`VecMultiAgentEnv`."""

    def __init__(
        self,
        scenario: XRScenario | None = None,
        num_envs: int = 1,
        params: AnalyticParams | None = None,
        initial_action: int | None = None,
    ) -> None:
        self.scenario = (scenario or XRScenario()).validate()
        self.params = params or AnalyticParams()
        if self.params.mcs_table not in _SE_TABLES:
            raise ValueError(
                f"unknown MCS table {self.params.mcs_table!r}; allowed: {', '.join(_SE_TABLES)}"
            )
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = num_envs
        self.spec: EnvSpec = self.scenario.env_spec("xr")
        sc = self.scenario
        k = sc.n_rates
        #: the codec rate before the first window: this action of the rate table (with
        #: continuous actions too, whose joint discrete index is always 0)
        self.initial_action = k - 1 if initial_action is None else int(initial_action)
        if not 0 <= self.initial_action < k:
            raise ValueError(f"initial_action must be in [0, {k - 1}], got {initial_action}")
        self._rates = sc.rate_table()  # [N, K]
        self._max_rates = sc.max_rates()
        self._min_rates = sc.min_rates()
        side = [u.side_flows_mbps for u in sc.users]
        self._periods = int(round(sc.window_s * sc.fps))
        period_s = 1.0 / sc.fps
        # side flows: bytes and packets per frame period, per UE
        self._side_bytes = np.array([sum(f) * 1e6 / 8.0 * period_s for f in side])
        self._side_pkts = np.array(
            [len(f) * period_s * 1e3 / u.side_flow_period_ms for f, u in zip(side, sc.users)]
        )
        self._cell = CellParams(
            mtu_bytes=sc.mtu_bytes,
            buffer_bytes=sc.rlc_buffer_bytes,
            spread_ms=self.params.spread_ms,
            slot_ms=self.params.slot_ms or 1.0 / (2**sc.numerology),
            base_delay_ms=self.params.base_delay_ms,
            harq_bler=self.params.harq_bler,
            harq_rtt_ms=self.params.harq_rtt_ms,
        )
        bw_hz = sc.bandwidth_mhz * 1e6
        self._noise_dbm = channel.thermal_noise_dbm(bw_hz, sc.ue_noise_figure_db)
        self._gain_db = (
            channel.array_gain_db(sc.gnb_antenna_rows, sc.gnb_antenna_cols)
            - self.params.implementation_loss_db
        )
        self._useful_hz = bw_hz * (1.0 - self.params.overhead)
        self._se_table = _SE_TABLES[self.params.mcs_table]
        self._rng = np.random.default_rng()
        self._t = 0
        self._needs_reset = True

    # ----------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> Observation:
        """Place UEs and draw shadowing; the first observation has no measured window yet.

        As on ns-3 (step 0 comes at the end of the warm-up, before any window is measured),
        the KPIs at reset are zeros and the observation carries only the initial codec
        choices; the actions chosen from it set the rates of window 1.
        """
        self._rng = np.random.default_rng(seed)
        b, n = self.num_envs, self.scenario.n_agents
        sc = self.scenario
        r_min, r_max = sc.min_distance_m, sc.ring_m
        radius = np.sqrt(self._rng.uniform(r_min**2, r_max**2, (b, n)))
        angle = self._rng.uniform(0, 2 * np.pi, (b, n))
        self._pos = np.stack([radius * np.cos(angle), radius * np.sin(angle)], -1)
        self._heading = self._rng.uniform(0, 2 * np.pi, (b, n))
        self._shadow_db = self._rng.normal(0.0, self.params.shadowing_std_db, (b, n))
        self._cell_state = CellState.zeros(b, n)
        self._reset_dynamics(seed)
        self._prev_kpis: dict[str, np.ndarray] | None = None
        self._t = 0
        self._needs_reset = False
        self._actions = np.full((b, n), self.initial_action, dtype=np.int64)
        #: the codec rates (Mbps) in force, what the observation's choices are built from
        self._rate_now = np.tile(self._rates[:, self.initial_action], (b, 1))
        if sc.continuous:  # the joint discrete index of a space without heads
            self._actions = np.zeros((b, n), dtype=np.int64)
        kpis = {k: np.zeros((b, n)) for k in self.spec.kpi_names}
        obs, state = self._observe(kpis)
        self._prev_kpis = None  # no measured window to shape the first reward against
        return Observation(obs, state, self._avail(), {"kpis": self._kpi_array(kpis)})

    def step(self, actions: np.ndarray) -> StepResult:
        if self._needs_reset:
            raise RuntimeError("call reset() before step() (episode over or never started)")
        self._actions = validate_actions(self.spec, actions, self._avail())
        rates = self._rates_of(actions)
        if rates is None:  # discrete: the table's rates
            rates = self._rates[np.arange(self.scenario.n_agents)[None, :], self._actions]
        self._rate_now = rates
        self._move()
        kpis = self._run_window(rates)
        obs, state = self._observe(kpis)
        rewards = team_rewards(
            kpis,
            self._max_rates,
            kpis_prev=self._prev_kpis,
            shaping=self.scenario.reward_shaping,
            gamma_p=self.scenario.shaping_gamma,
        ).astype(np.float32)
        self._prev_kpis = kpis
        self._t += 1
        b = self.num_envs
        truncated = np.full(b, self._t >= self.scenario.episode_limit)
        if truncated.any():
            self._needs_reset = True
        info = {
            "kpis": self._kpi_array(kpis),
            "truncation_reason": ["time limit" if t else "" for t in truncated],
            "distance_m": np.linalg.norm(self._pos, axis=-1),
        }
        return StepResult(obs, state, self._avail(), info, rewards, np.zeros(b, bool), truncated)

    def close(self) -> None:
        """Nothing to release (kept for the API)."""

    # ----------------------------------------------------------------------------------
    def _avail(self) -> np.ndarray:
        return np.ones((self.num_envs, self.scenario.n_agents, self.spec.n_actions), bool)

    def _rates_of(self, actions) -> np.ndarray | None:
        """``actions="continuous"``: the codec rates ``[B, N]`` (Mbps) the validated actions
        give (``validate_actions`` has rejected values that are not finite or outside
        [d_min, d_max], as it rejects a discrete index out of range). None: discrete."""
        if not self.scenario.continuous:
            return None
        values = split_actions(actions)[1]
        assert values is not None  # validate_actions asked for them
        return np.array(values[..., 0], np.float64)

    def _reset_dynamics(self, seed: int | None) -> None:
        """Issue 14's dynamics (off by default): their state, on generators of their own."""
        sc, b, n = self.scenario, self.num_envs, self.scenario.n_agents
        self._load = self._blockage = None
        if not (sc.load_users or sc.mobility != "walk" or sc.blockage_rate_hz > 0):
            return
        load_rng, move_rng, block_rng = dynamics_rngs(seed)
        self._move_rng = move_rng
        if sc.mobility == "cross":
            self._direction, self._left_m = chord_leg(self._pos, move_rng, sc.min_distance_m,
                                                      sc.ring_m)
        if sc.load_users:
            self._load = LoadModel(sc, self.params, load_rng, b, self._periods)
            k = sc.load_users
            self._cell_state.load = BackgroundLoad(
                np.zeros((b, k)), float(sc.rlc_buffer_bytes), np.zeros((b, k, self._periods)),
                np.zeros((b, k, self._periods)), np.zeros((b, k)))
        self._blockage = (BlockageModel(sc, block_rng, (b, n), self._periods)
                          if sc.blockage_rate_hz > 0 else None)

    def _move(self) -> None:
        """One window of mobility: the random walk (keep heading, turn at random, reflect at
        the ring) or, with ``mobility="cross"``, the chords of :mod:`.dynamics`; then the
        shadowing follows the distance moved, and the background users move likewise."""
        sc, p = self.scenario, self.params
        dt = sc.window_s
        step = sc.ue_speed_mps * dt
        old = self._pos
        if sc.mobility == "cross":
            new, self._direction, self._left_m = cross_step(
                old, self._direction, self._left_m, self._move_rng, step, sc.min_distance_m,
                sc.ring_m)
        else:
            new, self._heading = walk_step(old, self._heading, self._rng, step,
                                           dt / p.direction_change_s, sc.min_distance_m,
                                           sc.ring_m)
        moved = np.linalg.norm(new - old, axis=-1)
        self._shadow_db = shadow_step(self._shadow_db, moved, self._rng, p.shadowing_std_db,
                                      p.shadowing_decorrelation_m)
        self._pos = new
        if self._load is not None:
            self._load.move()

    def _mean_sinr_db(self) -> np.ndarray:
        """``[B, N]`` each UE's SINR before fast fading, dB (the window's mean SINR, fading
        being zero-mean in dB): what the ``sinr_db`` KPI reports. Draws nothing."""
        sc = self.scenario
        d2d = np.linalg.norm(self._pos, axis=-1)
        pl = channel.uma_nlos_pathloss_db(d2d, sc.carrier_ghz, sc.gnb_height_m, sc.ue_height_m)
        return sc.gnb_tx_dbm + self._gain_db - pl - self._shadow_db - self._noise_dbm

    def _full_rates_bps(self) -> tuple[np.ndarray, np.ndarray]:
        """``[B, N, P]`` rate each UE would get with the whole cell, per frame period, and
        ``[B, N]`` its mean SINR over the window (dB, blockage included: the KPI)."""
        sinr = self._mean_sinr_db()
        fading = self._rng.normal(0.0, self.params.fast_fading_std_db, sinr.shape + (self._periods,))
        sinr_periods = sinr[..., None] + fading
        if self._blockage is not None:  # issue 14: blocked UEs lose blockage_db
            loss = self._blockage.window_loss_db()
            sinr_periods = sinr_periods - loss
            sinr = sinr - loss.mean(-1)

        def se_of(sinr_db: np.ndarray) -> np.ndarray:
            return channel.spectral_efficiency(sinr_db, self.params.shannon_alpha, self._se_table)

        if self._load is not None:  # issue 14: the background users' window, for the cell
            load = self._cell_state.load
            load.full_rate_bps, load.arrival_bytes = self._load.window(
                self._gain_db, self._noise_dbm, se_of, self._useful_hz)
            load.served_bytes = np.zeros_like(load.backlog_bytes)
        return se_of(sinr_periods) * self._useful_hz, sinr

    def _run_window(self, rates: np.ndarray) -> dict[str, np.ndarray]:
        """One window at the codec rates ``rates [B, N]`` (Mbps)."""
        sc = self.scenario
        b, n, p = self.num_envs, sc.n_agents, self._periods
        frames = traffic.frame_sizes_bytes(
            self._rng, rates, p, sc.fps, sc.frame_size_std_frac, sc.frame_size_trunc
        )
        jitter = traffic.frame_jitter_ms(
            self._rng, (b, n, p + 1), sc.frame_jitter_std_ms, sc.frame_jitter_bound_ms
        )
        gaps = 1.0 / sc.fps + np.diff(jitter, axis=-1) * 1e-3
        full_rates, sinr_db = self._full_rates_bps()
        stats = simulate_window(
            self._cell_state,
            frames,
            gaps,
            full_rates,
            self._side_bytes,
            self._side_pkts,
            self._cell,
        )
        delivered = stats.delivered_pkts
        pdr = np.where(stats.sent_pkts > 0, delivered / np.maximum(stats.sent_pkts, 1), 1.0)
        delay = np.where(
            delivered > 0, stats.delay_sum_ms / np.maximum(delivered, 1), self._cell.max_delay_ms
        )
        jitter_ms = np.where(
            stats.jitter_pairs > 0, stats.jitter_sum_ms / np.maximum(stats.jitter_pairs, 1), 0.0
        )
        thr = stats.delivered_bytes * 8.0 / sc.window_s / 1e6
        kpis = {
            "delay_ms": delay,
            "jitter_ms": jitter_ms,
            "pdr": pdr,
            "plr": 1.0 - pdr,
            "throughput_mbps": thr,
            "xqi": xr_quality_index(pdr, delay),
            "buffer_ratio": stats.occupancy_sum / stats.n_periods,
            "codec_rate_mbps": rates,
            "sinr_db": sinr_db,
        }
        return kpis

    def _observe(self, kpis: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return build_observation(
            self._actions,
            self.scenario.n_rates,
            kpis["buffer_ratio"],
            kpis["pdr"],
            kpis["delay_ms"],
            drr_reward(kpis["throughput_mbps"], self._max_rates),
            kpis["sinr_db"] if self.scenario.observation == "channel" else None,
            prev_choice=rate_choice(self._rate_now, self._min_rates, self._max_rates)
            if self.scenario.continuous else None,
        )

    def _kpi_array(self, kpis: dict[str, np.ndarray]) -> np.ndarray:
        return np.stack([kpis[k] for k in self.spec.kpi_names], axis=-1).astype(np.float32)

    def describe(self) -> dict[str, object]:
        """Settings for the record (result files, checkpoints)."""
        return {"scenario": self.scenario.to_dict(), "analytic": asdict(self.params)}
