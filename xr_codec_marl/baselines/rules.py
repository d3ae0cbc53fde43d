"""Rule-based policies: APS (Adjust Packet Size) and the fixed/random references.

APS (REFERENCE.md §2, from the 5G-LENA XR loopback code): every window, with the window's
packet loss l = 1 - PDR, halve the codec rate if l > 10 %, raise it by 10 % if l < 2 %,
otherwise keep it; clip to [d_min, d_max]. The rate is tracked as a continuous value, and the
discrete action sent to the network is the codec rate of the action grid nearest to it, so
the x1.1 steps accumulate across windows instead of being rounded away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xr_codec_marl.env.api import EnvSpec, Observation


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

    def __init__(self, spec: EnvSpec, config: APSConfig | None = None) -> None:
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


class FixedPolicy:
    """Always the highest (``max``) or lowest (``min``) available action of every agent."""

    def __init__(self, spec: EnvSpec, which: str) -> None:
        if which not in ("max", "min"):
            raise ValueError(f"FixedPolicy takes 'max' or 'min', got {which!r}")
        self.name = which
        self.spec = spec
        self._which = which

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        """Stateless."""

    def act(self, step: Observation, explore: bool = False) -> np.ndarray:
        avail = step.avail_actions
        idx = np.arange(avail.shape[-1])
        if self._which == "max":
            return np.where(avail, idx, -1).max(-1).astype(np.int64)
        return np.where(avail, idx, avail.shape[-1]).min(-1).astype(np.int64)


class RandomPolicy:
    """Uniform over each agent's available actions, seeded."""

    name = "random"

    def __init__(self, spec: EnvSpec) -> None:
        self.spec = spec
        self._rng = np.random.default_rng()

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(seed)

    def act(self, step: Observation, explore: bool = False) -> np.ndarray:
        avail = step.avail_actions
        logits = np.where(avail, self._rng.random(avail.shape), -1.0)
        return logits.argmax(-1).astype(np.int64)


class ConstantPolicy:
    """Always action ``k`` for every agent (``fixed:k``): a fixed-rate reference.

    On the XR problem a fixed moderate rate is a strong yardstick: it never overshoots the
    cell, so it shows how much of a learner's gain over APS comes from simply sending less.
    """

    def __init__(self, spec: EnvSpec, k: int) -> None:
        worst = min(a.n_actions for a in spec.agents)
        if not 0 <= k < worst:
            raise ValueError(f"fixed action must be in [0, {worst - 1}], got {k}")
        self.name = f"fixed:{k}"
        self.spec = spec
        self._k = k

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        """Stateless."""

    def act(self, step: Observation, explore: bool = False) -> np.ndarray:
        return np.full(step.avail_actions.shape[:2], self._k, dtype=np.int64)
