"""Task slots outside the servers, batched ``[B, A, S]``: the tasks waiting for their agent's
decision (:class:`TaskBuffer`) and the tasks queued at a device's own CPU
(:class:`LocalSlots`). Each is a fixed set of slots with named float fields and a ``valid``
mask, so a whole batch moves with array operations.
"""

from __future__ import annotations

import numpy as np

#: Fields of a waiting task.
TASK_FIELDS: tuple[str, ...] = ("created", "deadline", "priority", "bits", "cycles", "memory",
                                "ready", "origin")


class Slots:
    """``S`` slots per (env, owner), each with the float ``fields``."""

    def __init__(self, num_envs: int, owners: int, slots: int, fields: tuple[str, ...]) -> None:
        shape = (num_envs, owners, slots)
        self.valid = np.zeros(shape, bool)
        self.f = {name: np.zeros(shape) for name in fields}

    @property
    def full(self) -> np.ndarray:
        """``[B, A]`` no free slot."""
        return self.valid.all(-1)

    @property
    def count(self) -> np.ndarray:
        return self.valid.sum(-1)

    def push(self, mask: np.ndarray, values: dict[str, np.ndarray]) -> np.ndarray:
        """Put one task per (env, owner) where ``mask [B, A]`` into its first free slot;
        returns the accepted mask (False where the owner's slots are full) and the slot."""
        free = ~self.valid
        slot = free.argmax(-1)
        ok = mask & free.any(-1)
        b, a = np.nonzero(ok)
        s = slot[b, a]
        self.valid[b, a, s] = True
        for name, v in values.items():
            self.f[name][b, a, s] = v[b, a] if np.ndim(v) else v
        return ok, slot

    def take(self, slot: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        """The fields ``[B, A]`` of slot ``slot [B, A]`` where ``mask``; frees those slots."""
        nb, na, ns = self.valid.shape
        flat = np.arange(nb * na) * ns + slot.ravel()  # one gather index for every field
        out = {name: v.reshape(-1)[flat].reshape(nb, na) for name, v in self.f.items()}
        b, a = np.nonzero(mask)
        self.valid[b, a, slot[b, a]] = False
        return out

    def remove(self, mask: np.ndarray) -> dict[str, np.ndarray]:
        """Free the slots of ``mask [B, A, S]``; their fields as flat arrays plus ``b``, ``a``."""
        b, a, s = np.nonzero(mask & self.valid)
        out = {name: v[b, a, s] for name, v in self.f.items()}
        out["b"], out["a"] = b, a
        self.valid[b, a, s] = False
        return out


class TaskBuffer(Slots):
    """Tasks waiting for a decision; :meth:`head` picks the one each agent decides next."""

    def __init__(self, num_envs: int, agents: int, slots: int) -> None:
        super().__init__(num_envs, agents, slots, TASK_FIELDS)

    def head(self, now: float, how: str, weights: tuple[float, float, float],
             c_max: float) -> tuple[np.ndarray, np.ndarray]:
        """``(has [B, A], slot [B, A])``: the waiting task to decide. ``none``: the oldest;
        otherwise the highest seed-001 priority score P = α(1 − t_rem/τ) + β c/C_max + γ·SLA
        with the weights of ``how`` (deadline: α only, resource: β, sla: γ, combined: all)."""
        has = self.valid.any(-1)
        if how == "none":
            score = -self.f["created"]
        else:
            a, b, g = {"deadline": (1.0, 0.0, 0.0), "resource": (0.0, 1.0, 0.0),
                       "sla": (0.0, 0.0, 1.0), "combined": weights}[how]
            tau = np.maximum(self.f["deadline"] - self.f["created"], 1e-9)
            t_rem = self.f["deadline"] - now
            score = a * (1.0 - t_rem / tau) + b * self.f["cycles"] / c_max + g * self.f["priority"]
            score = score - 1e-9 * self.f["created"]  # ties: oldest first
        slot = np.where(self.valid, score, -np.inf).argmax(-1)
        return has, slot


class LocalSlots(Slots):
    """Tasks with a part on a device's CPU: done at ``done_at`` = max(local finish, remote
    finish) (remote ``inf`` while its server part runs, ``-inf`` when there is none)."""

    def __init__(self, num_envs: int, devices: int, slots: int) -> None:
        super().__init__(num_envs, devices, slots,
                         ("created", "deadline", "priority", "local_finish", "remote_finish",
                          "lost"))

    @property
    def done_at(self) -> np.ndarray:
        return np.maximum(self.f["local_finish"], self.f["remote_finish"])
