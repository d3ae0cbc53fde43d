"""One step's bookkeeping of the MEC twin: how tasks were resolved, what energy was spent,
and the age-of-information updates, summed per environment ``[B]`` (AoI per device)."""

from __future__ import annotations

import numpy as np


class StepTally:
    """Counters of one step, filled by the twin as tasks complete, drop or are rejected."""

    COUNTS = ("arrived", "resolved", "completed", "on_time", "rejected", "dropped", "energy_j",
              "energy_tasks", "updates", "uploads", "outages", "resolved_high", "resolved_low",
              "completed_high", "completed_low", "response_sum", "prio_sum", "prio_on_time",
              "peak_sum")

    def __init__(self, num_envs: int, high_priority: float) -> None:
        self.c = {name: np.zeros(num_envs) for name in self.COUNTS}
        self.high = high_priority

    def add(self, name: str, b: np.ndarray, values: np.ndarray | float = 1.0) -> None:
        np.add.at(self.c[name], b, values)

    def _resolved(self, b: np.ndarray, priority: np.ndarray) -> None:
        hi = priority >= self.high
        self.add("resolved", b)
        self.add("resolved_high", b, hi.astype(float))
        self.add("resolved_low", b, (~hi).astype(float))
        self.add("prio_sum", b, priority)

    def complete(self, b: np.ndarray, time: np.ndarray, created: np.ndarray,
                 deadline: np.ndarray, priority: np.ndarray) -> None:
        """Tasks of envs ``b`` finished at ``time`` (flat arrays)."""
        self._resolved(b, priority)
        hit = time <= deadline + 1e-12
        hi = priority >= self.high
        self.add("completed", b)
        self.add("on_time", b, hit.astype(float))
        self.add("prio_on_time", b, priority * hit)
        self.add("completed_high", b, hi.astype(float))
        self.add("completed_low", b, (~hi).astype(float))
        self.add("response_sum", b, time - created)

    def reject(self, b: np.ndarray, priority: np.ndarray) -> None:
        self._resolved(b, priority)
        self.add("rejected", b)

    def drop(self, b: np.ndarray, priority: np.ndarray) -> None:
        self._resolved(b, priority)
        self.add("dropped", b)


def update_aoi(newest: np.ndarray, b: np.ndarray, device: np.ndarray, time: np.ndarray,
               created: np.ndarray, tally: StepTally) -> None:
    """Fold completions into ``newest [B, N]`` (generation time of each device's newest
    completed update). A completion that makes the information fresher is an *update*; the
    age just before it, ``time − newest``, is a peak-AoI sample."""
    if b.size == 0:
        return
    fresher = created > newest[b, device]
    bb, dd = b[fresher], device[fresher].astype(np.int64)
    tally.add("updates", bb)
    tally.add("peak_sum", bb, time[fresher] - newest[bb, dd])
    np.maximum.at(newest, (bb, dd), created[fresher])
