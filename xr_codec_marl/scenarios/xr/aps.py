"""APS (Adjust Packet Size), the XR scenario's reference rule (REFERENCE.md §2).

From the 5G-LENA XR loopback code: every window, with the window's packet loss l = 1 - PDR,
halve the codec rate if l > 10 %, raise it by 10 % if l < 2 %, otherwise keep it; clip to
[d_min, d_max]. The rate is tracked as a continuous value, and the discrete action sent to
the network is the codec rate of the action grid nearest to it, so the x1.1 steps accumulate
across windows instead of being rounded away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xr_codec_marl.core.api import EnvSpec, Observation


def _action_values(spec: EnvSpec) -> np.ndarray:
    """``[N, A]`` physical value of each action (the codec-rate grid), padded with +inf."""
    values = np.full((spec.n_agents, spec.n_actions), np.inf)
    for i, agent in enumerate(spec.agents):
        if not agent.action_values:
            raise ValueError(f"agent {agent.agent_id} has no action values; APS needs codec rates")
        values[i, : agent.n_actions] = agent.action_values
    return values


@dataclass
class APSConfig:
    """APS thresholds and factors (defaults from the 5G-LENA XR loopback code)."""

    loss_high: float = 0.10
    loss_low: float = 0.02
    decrease_factor: float = 0.5
    increase_factor: float = 1.1
    start: str = "max"  # initial rate: "max", "min" or "mid"

    def validate(self) -> "APSConfig":
        if not 0 <= self.loss_low <= self.loss_high <= 1:
            raise ValueError(
                f"APS thresholds need 0 <= loss_low <= loss_high <= 1, got "
                f"{self.loss_low}, {self.loss_high}"
            )
        if not 0 < self.decrease_factor <= 1 <= self.increase_factor:
            raise ValueError("APS factors need 0 < decrease_factor <= 1 <= increase_factor")
        if self.start not in ("max", "min", "mid"):
            raise ValueError(f"APS start must be max, min or mid, got {self.start!r}")
        return self


class APSPolicy:
    """Adjust Packet Size: multiplicative decrease on loss, gentle increase when clean."""

    name = "aps"

    def __init__(self, spec: EnvSpec, config: APSConfig | None = None, name: str = "aps") -> None:
        self.name = name
        self.spec = spec
        self.config = (config or APSConfig()).validate()
        self._values = _action_values(spec)
        self._lo = np.array([min(a.action_values) for a in spec.agents])
        self._hi = np.array([max(a.action_values) for a in spec.agents])
        self._plr = spec.kpi_index("plr")
        self._rate = np.zeros((0, spec.n_agents))

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        start = {"max": self._hi, "min": self._lo, "mid": (self._lo + self._hi) / 2}
        self._rate = np.tile(start[self.config.start], (num_envs, 1)).astype(np.float64)
        self._started = False

    def act(self, step: Observation, explore: bool = False) -> np.ndarray:
        kpis = step.info.get("kpis")
        if kpis is None:
            raise ValueError("APS needs per-UE KPIs in info['kpis'] (the backend sent none)")
        if self._rate.shape[0] != kpis.shape[0]:
            self.reset(kpis.shape[0])
        # compare in float32, the precision KPIs travel in, so a loss of exactly 10 % keeps
        loss = np.asarray(kpis[..., self._plr], dtype=np.float32)
        c = self.config
        high, low = np.float32(c.loss_high), np.float32(c.loss_low)
        factor = np.where(
            loss > high, c.decrease_factor, np.where(loss < low, c.increase_factor, 1.0)
        )
        self._rate = np.clip(self._rate * factor, self._lo, self._hi)
        return nearest_action(self._values, self._rate)

    @property
    def rates_mbps(self) -> np.ndarray:
        """The continuous rates APS currently tracks, ``[B, N]``."""
        return self._rate.copy()


def nearest_action(values: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Index of the action value nearest to each rate: ``values [N, A]``, ``rate [B, N]``."""
    return np.abs(values[None, :, :] - rate[:, :, None]).argmin(-1).astype(np.int64)
