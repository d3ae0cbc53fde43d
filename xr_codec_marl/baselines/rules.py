"""Rule policies every discrete scenario has: the highest/lowest action, a constant action
(``fixed:K``) and uniform random. Scenario rules live in their scenario package.
"""

from __future__ import annotations

import numpy as np

from xr_codec_marl.core.api import EnvSpec, Observation


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

    def act(self, step: Observation, explore: bool = False) -> np.ndarray:
        avail = step.avail_actions
        logits = np.where(avail, self._rng.random(avail.shape), -1.0)
        return logits.argmax(-1).astype(np.int64)


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

    def act(self, step: Observation, explore: bool = False) -> np.ndarray:
        return np.full(step.avail_actions.shape[:2], self._k, dtype=np.int64)
