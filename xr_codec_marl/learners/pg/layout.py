"""How an environment's action spaces map onto a policy's heads, and back to env actions.

- Discrete spaces: one categorical head over the joint index (``spec.n_actions``, masked by
  ``avail_actions``); agents with fewer actions are masked like everywhere else.
- Hybrid spaces (``"hybrid"`` heads): the space's categorical heads plus one Gaussian per
  continuous dimension. A head's category is available when some available joint index has
  it (exact for the usual single-head spaces; a mask that is not a product of per-head masks
  is refused by the environment's action validation, loudly). Gaussian samples are in policy
  units: ``x`` in [-1, 1] covers [low, high] linearly and is clipped to it when acting.
- ``"flat"`` heads (the ablation of seed 001's hybrid heads): every continuous dimension is
  cut into ``bins`` evenly spaced levels from low to high and the heads and levels become one
  categorical head over their product, as a discrete-only learner would have to do it.

Every agent must have the same kind of space with the same head sizes and number of
continuous dimensions (the actor is shared); their bounds may differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xr_codec_marl.core.api import EnvSpec, HybridActions, split_actions
from xr_codec_marl.core.spaces import describe
from xr_codec_marl.errors import UsageError


@dataclass(frozen=True)
class ActionLayout:
    """The policy's heads for one ``EnvSpec`` and the mapping to the env's actions."""

    n_joint: int  # size of the env's joint discrete index (``spec.n_actions``)
    space_heads: tuple[int, ...]  # the env's categorical head sizes (discrete: (n_joint,))
    low: np.ndarray  # float64 [N, D] continuous bounds per agent (D = 0 when discrete)
    high: np.ndarray
    bins: int = 0  # 0: hybrid heads; > 0: flat heads with this many levels per dimension
    #: names of the policy's heads, then of its Gaussian dimensions (for logs)
    names: tuple[str, ...] = ()

    @classmethod
    def from_spec(cls, spec: EnvSpec, heads: str = "hybrid", bins: int = 5) -> ActionLayout:
        spaces = [a.space for a in spec.agents]
        if spec.is_discrete:
            d = 0
            space_heads: tuple[int, ...] = (spec.n_actions,)
        else:
            if any(s.is_discrete for s in spaces):
                raise UsageError(f"{spec.name}: policy-gradient learners need every agent's "
                                 "action space discrete, or every one hybrid")
            shapes = {(tuple(h.n for h in s.heads), len(s.continuous)) for s in spaces}  # type: ignore[union-attr]
            if len(shapes) > 1:
                raise UsageError(f"{spec.name}: the agents' hybrid action spaces differ "
                                 f"({', '.join(describe(s) for s in spaces)}); the shared "
                                 "actor needs one shape")
            space_heads, d = next(iter(shapes))
            if not space_heads:
                space_heads = (1,)
        n = len(spaces)
        low = np.array([[c.low for c in s.continuous] for s in spaces], np.float64).reshape(n, d)
        high = np.array([[c.high for c in s.continuous] for s in spaces], np.float64).reshape(n, d)
        if heads not in ("hybrid", "flat"):
            raise UsageError(f"action_heads must be 'hybrid' or 'flat', got {heads!r}")
        if heads == "flat" and d and bins < 2:
            raise UsageError(f"flat heads need continuous_bins >= 2, got {bins}")
        flat = bins if heads == "flat" and d else 0
        first = spaces[0]
        if flat:
            names: tuple[str, ...] = ("flat",)
        elif first.is_discrete:
            names = (first.name,)  # type: ignore[union-attr]
        else:
            names = tuple(h.name for h in first.heads) or ("none",)  # type: ignore[union-attr]
            names += tuple(c.name for c in first.continuous)
        return cls(spec.n_actions, space_heads, low, high, flat, names)

    @property
    def n_dims(self) -> int:
        """Continuous dimensions of the environment."""
        return int(self.low.shape[1])

    @property
    def head_sizes(self) -> tuple[int, ...]:
        """The policy's categorical heads."""
        if self.bins:
            return (self.n_joint * self.bins ** self.n_dims,)
        return self.space_heads

    @property
    def n_gaussian(self) -> int:
        """The policy's Gaussian dimensions."""
        return 0 if self.bins else self.n_dims

    def head_masks(self, avail: np.ndarray) -> list[np.ndarray]:
        """Per-head availability ``[..., n_h]`` from the env's ``avail [..., n_joint]``."""
        avail = np.asarray(avail, bool)
        if self.bins:
            return [np.repeat(avail, self.bins ** self.n_dims, axis=-1)]
        if len(self.space_heads) == 1:
            return [avail[..., : self.space_heads[0]]]
        grid = avail[..., : self.n_joint].reshape(*avail.shape[:-1], *self.space_heads)
        lead = avail.ndim - 1
        out = []
        for h in range(len(self.space_heads)):
            others = tuple(lead + j for j in range(len(self.space_heads)) if j != h)
            out.append(grid.any(axis=others))
        return out

    def to_env(self, heads: np.ndarray, x: np.ndarray) -> np.ndarray | HybridActions:
        """The env's actions for the policy's ``heads [B, N, H]`` and Gaussian ``x [B, N, G]``:
        ``int64 [B, N]`` for discrete spaces, else :class:`HybridActions`."""
        heads = np.asarray(heads, np.int64)
        if self.bins:
            flat = heads[..., 0]
            levels = self.bins ** self.n_dims
            joint, rest = np.divmod(flat, levels)
            idx = np.stack(np.unravel_index(rest, (self.bins,) * self.n_dims), axis=-1)
            frac = idx / (self.bins - 1)
            return HybridActions(joint.astype(np.int64), self.low + frac * (self.high - self.low))
        if not self.n_dims:
            return heads[..., 0].copy()
        joint = np.ravel_multi_index(tuple(np.moveaxis(heads, -1, 0)), self.space_heads)
        frac = (np.clip(np.asarray(x, np.float64), -1.0, 1.0) + 1.0) / 2.0
        return HybridActions(joint.astype(np.int64), self.low + frac * (self.high - self.low))

    def joint_index(self, heads: np.ndarray) -> np.ndarray:
        """The env's joint discrete index ``[...]`` of the policy's heads ``[..., H]`` (the
        discrete part of :meth:`to_env`, for any leading shape)."""
        heads = np.asarray(heads, np.int64)
        if self.bins:
            return heads[..., 0] // self.bins ** self.n_dims
        if not self.n_dims:
            return heads[..., 0].copy()
        return np.ravel_multi_index(tuple(np.moveaxis(heads, -1, 0)),
                                    self.space_heads).astype(np.int64)

    def from_env(self, actions: np.ndarray | HybridActions) -> tuple[np.ndarray, np.ndarray]:
        """The policy's ``(heads [B, N, H], x [B, N, G])`` of env actions (another policy's,
        e.g. to score them with a critic): the inverse of :meth:`to_env` on its range
        (continuous values mapped back to policy units). Hybrid heads and discrete spaces
        only (flat heads would need the values rounded to their levels)."""
        if self.bins:
            raise ValueError("from_env needs hybrid heads, not flat ones")
        discrete, cont = split_actions(actions)
        discrete = np.asarray(discrete, np.int64)
        if not self.n_dims:
            return discrete[..., None], np.zeros((*discrete.shape, 0), np.float32)
        heads = np.stack(np.unravel_index(discrete, self.space_heads), axis=-1).astype(np.int64)
        if cont is None:
            raise ValueError("hybrid actions need their continuous values")
        span = np.where(self.high > self.low, self.high - self.low, 1.0)
        x = 2.0 * (cont[..., : self.n_dims] - self.low) / span - 1.0
        return heads, x.astype(np.float32)

