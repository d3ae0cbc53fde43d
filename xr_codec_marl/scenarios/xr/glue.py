"""The XR scenario's ns-3 glue: observations, state and team rewards from per-UE KPIs.

The xr-codec simulator may send raw per-UE KPIs only (empty obs/state/rewards); this builds
them with the same maths as the analytic backend (:mod:`.observation`, :mod:`.rewards`), so
agents see exactly what the analytic backend would give them.

With continuous codec rates (``actions="continuous"``: each agent's space is the rate in
[d_min, d_max] Mbps) the previous choices of eq. 13 are the rates the simulator reports
(``codec_rate_mbps``, the rate in force during the window) as fractions of their ranges.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from xr_codec_marl.core.api import EnvSpec
from xr_codec_marl.scenarios.xr.kpis import XR_REWARD_COMPONENTS
from xr_codec_marl.scenarios.xr.observation import build_observation, observation_sizes, rate_choice
from xr_codec_marl.scenarios.xr.rewards import drr_reward, team_rewards
from xr_codec_marl.scenarios.xr.settings import RATE_DIM


def _with_sizes(spec: EnvSpec, channel: bool) -> EnvSpec:
    """``spec`` with the observation and state sizes of eq. 13, or of ``observation="channel"``."""
    obs, state = observation_sizes(spec.n_agents, channel)
    return replace(spec, agents=tuple(replace(a, obs_size=obs) for a in spec.agents),
                   state_size=state)


def with_channel_sizes(spec: EnvSpec) -> EnvSpec:
    """An eq. 13 spec (what simulators announce) with the sizes of ``observation="channel"``:
    one more feature per observation, one more per UE in the state."""
    return _with_sizes(spec, channel=True)


class KpiFeatures:
    """Observations, state and team rewards from per-UE KPIs, with the shared XR maths.

    Used when a simulator leaves ``obs``/``state``/``rewards`` empty. Inputs are batched:
    KPIs ``[B, N, K]`` in ``spec.kpi_names`` order and the previous joint action ``[B, N]``.
    """

    def __init__(self, spec: EnvSpec, shaping: bool = False, shaping_gamma: float = 1.0,
                 channel: bool = False) -> None:
        self.spec = spec
        self.shaping = shaping
        self.shaping_gamma = shaping_gamma
        #: observations with the UEs' SINR (``observation="channel"``)
        self.channel = channel
        names = spec.kpi_names
        self._idx = {k: names.index(k) for k in
                     ("delay_ms", "pdr", "throughput_mbps", "buffer_ratio", "codec_rate_mbps",
                      "sinr_db")
                     if k in names}
        self._values = [np.asarray(a.action_values, np.float64) for a in spec.agents]
        #: continuous codec rates: every agent's space is the rate in [d_min, d_max]
        self.continuous = bool(spec.agents) and all(
            not a.space.is_discrete and [c.name for c in a.space.continuous] == [RATE_DIM]
            for a in spec.agents)
        if self.continuous:
            self.min_rates = np.array([a.space.continuous[0].low for a in spec.agents])
            self.max_rates = np.array([a.space.continuous[0].high for a in spec.agents])
        else:
            self.min_rates = np.array([v.min() if v.size else np.nan for v in self._values])
            self.max_rates = np.array([v.max() if v.size else np.nan for v in self._values])

    def problems(self) -> list[str]:
        """Why obs/rewards cannot be built from KPIs for this spec (empty list: they can)."""
        needed = ("delay_ms", "pdr", "throughput_mbps", "buffer_ratio") + (
            ("sinr_db",) if self.channel else ())
        out = [f"KPI {k!r} missing" for k in needed if k not in self._idx]
        obs, state = observation_sizes(self.spec.n_agents, self.channel)
        if self.spec.obs_size != obs or self.spec.state_size != state:
            out.append(f"obs/state sizes {self.spec.obs_size}/{self.spec.state_size} are not the "
                       f"XR ones {obs}/{state}")
        if self.continuous and "codec_rate_mbps" not in self._idx:
            out.append("KPI 'codec_rate_mbps' missing (continuous rates are observed from it)")
        if np.isnan(self.max_rates).any():
            out.append(f"agents without action_values (codec rates) or a continuous "
                       f"{RATE_DIM!r} dimension")
        if self.spec.reward_components not in ((), XR_REWARD_COMPONENTS):
            out.append(f"reward components {self.spec.reward_components} are not the XR ones")
        return out

    def wire_spec(self) -> EnvSpec:
        """The spec xr-codec simulators announce: the env spec with eq. 13's sizes (they
        send KPIs only; the SINR feature of ``observation="channel"`` is built here)."""
        return _with_sizes(self.spec, channel=False) if self.channel else self.spec

    def _kpi(self, kpis: np.ndarray, name: str) -> np.ndarray:
        return kpis[..., self._idx[name]]

    def observe(self, prev_actions: np.ndarray, kpis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Eq. 13 observations ``[B, N, N + 2]`` and the state ``[B, 5 N]`` (one more feature
        per UE, its SINR, with ``channel``). Continuous rates: the previous choices are the
        reported rates (d_max before the first window, the rate simulators start at)."""
        choice = None
        if self.continuous:
            rate = self._kpi(kpis, "codec_rate_mbps")
            rate = np.where(rate > 0, rate, self.max_rates)
            choice = rate_choice(rate, self.min_rates, self.max_rates)
        return build_observation(
            prev_actions,
            self.spec.n_actions,
            self._kpi(kpis, "buffer_ratio"),
            self._kpi(kpis, "pdr"),
            self._kpi(kpis, "delay_ms"),
            drr_reward(self._kpi(kpis, "throughput_mbps"), self.max_rates),
            self._kpi(kpis, "sinr_db") if self.channel else None,
            prev_choice=choice,
        )

    def rewards(self, kpis: np.ndarray, prev_kpis: np.ndarray | None) -> np.ndarray:
        """Team reward components ``[B, 3]`` (eqs. 15-20, shaped by eqs. 21-23 if enabled)."""

        def as_dict(k: np.ndarray) -> dict[str, np.ndarray]:
            return {n: self._kpi(k, n) for n in ("delay_ms", "pdr", "throughput_mbps")}

        return team_rewards(
            as_dict(kpis),
            self.max_rates,
            None if prev_kpis is None else as_dict(prev_kpis),
            shaping=self.shaping,
            gamma_p=self.shaping_gamma,
        ).astype(np.float32)

    def initial_actions(self, kpis: np.ndarray, default: int) -> np.ndarray:
        """The action indices ``[B, N]`` whose codec rates are nearest the reported ones
        (the simulator's start-up rates), or ``default`` where no rate is known."""
        b, n = kpis.shape[:2]
        out = np.full((b, n), default, dtype=np.int64)
        if "codec_rate_mbps" not in self._idx:
            return out
        rate = self._kpi(kpis, "codec_rate_mbps")
        for j, values in enumerate(self._values):
            if values.size:
                known = rate[:, j] > 0
                nearest = np.abs(rate[:, j, None] - values[None, :]).argmin(axis=1)
                out[:, j] = np.where(known, nearest, out[:, j])
        return out
