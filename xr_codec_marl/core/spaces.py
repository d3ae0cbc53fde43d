"""Action spaces of one agent: discrete, or hybrid (discrete heads + bounded continuous dims).

A *discrete* space has ``n`` actions, optionally the physical values they stand for (rates
in Mbps, transmit powers in dBm, ...) and whether they are *ordered* (action ``i + 1``
is "more" than action ``i``; explanations such as RDFX's increase/decrease need that).

A *hybrid* space has one or more categorical heads and ``D`` bounded continuous dimensions
(e.g. which server, plus offload fraction and transmit power). Its joint discrete index, the
one ``avail_actions`` masks, is the row-major product of the heads; the continuous values
travel beside it (``[B, N, D]``). Value learners accept discrete spaces only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class DiscreteSpace:
    """``n`` actions; ``values[i]`` is what action ``i`` means physically (may be empty)."""

    n: int
    values: tuple[float, ...] = ()
    ordered: bool = False
    #: short names of the actions for plots and explanations (may be empty)
    labels: tuple[str, ...] = ()
    #: name of the head in a hybrid space (e.g. ``"server"``)
    name: str = "action"

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"a discrete space needs n >= 1, got {self.n}")
        if self.values and len(self.values) != self.n:
            raise ValueError(f"{len(self.values)} action values for {self.n} actions")
        if self.labels and len(self.labels) != self.n:
            raise ValueError(f"{len(self.labels)} action labels for {self.n} actions")
        if not all(map(math.isfinite, self.values)):
            raise ValueError("action values must be finite")

    @property
    def is_discrete(self) -> bool:
        return True

    @property
    def n_joint(self) -> int:
        """Size of the joint discrete index (what ``avail_actions`` masks)."""
        return self.n

    @property
    def continuous(self) -> tuple["ContinuousDim", ...]:
        return ()


@dataclass(frozen=True)
class ContinuousDim:
    """One bounded continuous action dimension, e.g. offload fraction in [0, 1]."""

    name: str
    low: float
    high: float
    unit: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low <= self.high):
            raise ValueError(f"continuous dimension {self.name!r} needs finite low <= high, "
                             f"got [{self.low}, {self.high}]")


@dataclass(frozen=True)
class HybridSpace:
    """Categorical ``heads`` plus bounded ``continuous`` dimensions (seed 001's IMAPPO)."""

    heads: tuple[DiscreteSpace, ...]
    continuous: tuple[ContinuousDim, ...] = ()

    def __post_init__(self) -> None:
        if not self.heads and not self.continuous:
            raise ValueError("a hybrid space needs at least one head or continuous dimension")

    @property
    def is_discrete(self) -> bool:
        return False

    @property
    def ordered(self) -> bool:
        return False

    @property
    def n_joint(self) -> int:
        """Joint discrete index size: the product of the head sizes (1 without heads)."""
        return math.prod(h.n for h in self.heads)

    @property
    def values(self) -> tuple[float, ...]:
        return ()

    def unravel(self, index: int) -> tuple[int, ...]:
        """Per-head choices of a joint discrete index (row-major, first head slowest)."""
        out = []
        for h in reversed(self.heads):
            index, r = divmod(index, h.n)
            out.append(r)
        return tuple(reversed(out))


ActionSpace = DiscreteSpace | HybridSpace


def describe(space: ActionSpace) -> str:
    """One phrase for messages: ``discrete(10, ordered)`` or ``hybrid(4x3 + 2 continuous)``."""
    if isinstance(space, DiscreteSpace):
        return f"discrete({space.n}{', ordered' if space.ordered else ''})"
    heads = "x".join(str(h.n) for h in space.heads) or "no heads"
    return f"hybrid({heads} + {len(space.continuous)} continuous)"
