"""Rule policies every scenario has: the highest/lowest action (ordered discrete spaces), a
constant action (``fixed:K``) and uniform random (both also on hybrid spaces). Scenario rules live in their scenario package.
"""

from __future__ import annotations

import numpy as np

from xr_codec_marl.core.api import EnvSpec, HybridActions, Observation


class FixedPolicy:
    """Always the highest (``max``) or lowest (``min``) available action of every agent."""

    def __init__(self, spec: EnvSpec, which: str) -> None:
        if which not in ("max", "min"):
            raise ValueError(f"FixedPolicy takes 'max' or 'min', got {which!r}")
        if not all(a.space.ordered for a in spec.agents):  # "highest" means nothing otherwise
            raise ValueError(f"policy {which!r} needs ordered discrete actions; "
                             f"{spec.name} has unordered ones")
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

    def act(self, step: Observation, explore: bool = False) -> np.ndarray | HybridActions:
        """Uniform available joint indices; with continuous dimensions also uniform values
        within each dimension's bounds."""
        avail = step.avail_actions
        logits = np.where(avail, self._rng.random(avail.shape), -1.0)
        index = logits.argmax(-1).astype(np.int64)
        if self.spec.is_discrete:
            return index
        low, high = continuous_bounds(self.spec)
        u = self._rng.random((index.shape[0], *low.shape))
        return HybridActions(index, low + u * (high - low))


class ConstantPolicy:
    """Always action ``k`` for every agent (``fixed:k``): a fixed-rate reference.

    A tuned constant is a strong yardstick: it shows how much of a learner's gain over an
    adaptive rule comes from simply choosing one good action.
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

    def act(self, step: Observation, explore: bool = False) -> np.ndarray | HybridActions:
        """Action ``k``; continuous dimensions (hybrid spaces) at the middle of their bounds."""
        index = np.full(step.avail_actions.shape[:2], self._k, dtype=np.int64)
        if self.spec.is_discrete:
            return index
        low, high = continuous_bounds(self.spec)
        return HybridActions(index, np.broadcast_to((low + high) / 2, (index.shape[0], *low.shape)))


def continuous_bounds(spec: EnvSpec) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)`` ``[N, D]`` of every agent's continuous dimensions (``D =
    spec.n_continuous``; an agent with fewer gets [0, 0] for the rest, which it ignores)."""
    low = np.zeros((spec.n_agents, spec.n_continuous))
    high = np.zeros((spec.n_agents, spec.n_continuous))
    for i, agent in enumerate(spec.agents):
        for j, dim in enumerate(agent.space.continuous):
            low[i, j], high[i, j] = dim.low, dim.high
    return low, high
