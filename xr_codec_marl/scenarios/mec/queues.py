"""The edge servers' compute queues, batched ``[B, K, Q]`` (``Q`` task slots per server).

A task is admitted to a server when it is offloaded (or forwarded) to it: it takes a slot and
its memory from then on, and it *arrives* (can be served) once its upload or transfer ends.
A full queue or too little free memory rejects it. Each step :meth:`ServerQueues.serve`
advances every server over ``[t0, t1)`` exactly:

- ``fifo``: non-preemptive first-come first-served by arrival time; finish times follow the
  Lindley recursion ``F_i = max(F_{i-1}, a_i) + w_i / f`` in closed form,
  ``F_n = S_n + max_{j<=n}(a_j - S_{j-1})`` with ``S`` the cumulative service times, so a
  whole batch of queues is one sort, two cumulative sums and a cumulative max.
- ``ps``: egalitarian processor sharing, every task present gets ``f / n``; simulated event
  by event (next completion or arrival) for all queues at once.

A server that is down serves nothing; :meth:`fail` loses its tasks or puts them back to the
start of their work (``requeue``). The tests check both disciplines against a task-by-task
reference loop, M/M/1's mean wait and Little's law.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The task attributes a slot carries besides its timing (filled by the caller at admission).
SLOT_FIELDS: tuple[str, ...] = ("created", "deadline", "priority", "origin", "link", "cycles")


@dataclass
class Departed:
    """Tasks that left their queues (finished, lost or dropped), as flat arrays."""

    b: np.ndarray
    k: np.ndarray
    time: np.ndarray  # finish time (or the time they were lost)
    arrival: np.ndarray
    attrs: dict[str, np.ndarray]

    @property
    def count(self) -> int:
        return int(self.b.size)


class ServerQueues:
    """``K`` compute queues in each of ``B`` environments."""

    def __init__(self, num_envs: int, n_servers: int, slots: int, discipline: str = "fifo") -> None:
        if discipline not in ("fifo", "ps"):
            raise ValueError(f"unknown queue discipline {discipline!r}; allowed: fifo, ps")
        self.discipline = discipline
        shape = (num_envs, n_servers, slots)
        self.valid = np.zeros(shape, bool)
        self.arrival = np.full(shape, np.inf)
        self.work = np.zeros(shape)  # remaining cycles
        self.mem = np.zeros(shape)
        self.seq = np.zeros(shape, np.int64)  # admission order: FIFO's tie-break
        self._next_seq = 0
        self.attrs = {name: np.zeros(shape) for name in SLOT_FIELDS}
        self.speed = np.ones((num_envs, n_servers))  # cycles/s
        self.mem_cap = np.full((num_envs, n_servers), np.inf)
        self.up = np.ones((num_envs, n_servers), bool)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.valid.shape  # type: ignore[return-value]

    # ------------------------------------------------------------------ state views
    def backlog_s(self) -> np.ndarray:
        """``[B, K]`` seconds of work admitted and not yet done (arrived or in transfer)."""
        return np.where(self.valid, self.work, 0.0).sum(-1) / self.speed

    def occupancy(self) -> np.ndarray:
        """``[B, K]`` tasks holding a slot."""
        return self.valid.sum(-1)

    def mem_used(self) -> np.ndarray:
        return np.where(self.valid, self.mem, 0.0).sum(-1)

    # ------------------------------------------------------------------ admission
    def admit(self, b: np.ndarray, k: np.ndarray, arrival: np.ndarray, work: np.ndarray,
              mem: np.ndarray, attrs: dict[str, np.ndarray]) -> np.ndarray:
        """Admit tasks ``i`` to server ``k[i]`` of env ``b[i]`` (flat arrays, in priority
        order within a server: earlier entries win the last slots). Returns the accepted
        mask; a task is refused when its server is down, has no free slot, or lacks memory
        (``attrs["cycles"]`` must hold each task's full work at the server: ``requeue``
        restarts from it)."""
        n = b.size
        accepted = np.zeros(n, bool)
        if n == 0:
            return accepted
        _, k_servers, q = self.shape
        group = b * k_servers + k
        order = np.argsort(group, kind="stable")
        g = group[order]
        first = np.r_[True, g[1:] != g[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
        rank = np.arange(n) - start
        mem_sorted = mem[order]
        csum = np.cumsum(mem_sorted)
        mem_before = csum - csum[start] + mem_sorted[start]  # memory of this and earlier ones
        bs, ks = b[order], k[order]
        free = ~self.valid[bs, ks]  # [n, Q]
        n_free = free.sum(-1)
        mem_free = self.mem_cap[bs, ks] - self.mem_used()[bs, ks]
        # memory is counted for every earlier task of the same server in this call, taken
        # or not: conservative, and independent of the order refusals happen in
        ok = self.up[bs, ks] & (rank < n_free) & (mem_before <= mem_free + 1e-9)
        # the free slot a task takes: the rank-th free slot of its server
        slot_order = np.argsort(~free, axis=-1, kind="stable")  # free slots first
        slot = slot_order[np.arange(n), np.minimum(rank, q - 1)]
        sel = np.flatnonzero(ok)
        bi, ki, si, oi = bs[sel], ks[sel], slot[sel], order[sel]
        self.valid[bi, ki, si] = True
        self.arrival[bi, ki, si] = arrival[oi]
        self.work[bi, ki, si] = work[oi]
        self.mem[bi, ki, si] = mem[oi]
        self.seq[bi, ki, si] = self._next_seq + np.arange(sel.size)
        self._next_seq += sel.size
        for name in SLOT_FIELDS:
            self.attrs[name][bi, ki, si] = attrs[name][oi] if name in attrs else 0.0
        accepted[oi] = True
        return accepted

    # ------------------------------------------------------------------ service
    def serve(self, t0: float, t1: float) -> tuple[Departed, np.ndarray]:
        """Advance every queue over ``[t0, t1)``; returns the finished tasks and ``[B, K]``
        busy fractions of the interval."""
        if self.discipline == "fifo":
            finish, busy = self._serve_fifo(t0, t1)
        else:
            finish, busy = self._serve_ps(t0, t1)
        done = self.valid & (finish <= t1)
        return self._remove(done, finish), busy / (t1 - t0)

    def _serve_fifo(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        arrival = np.where(self.valid, self.arrival, np.inf)
        # by arrival, equal arrivals in admission order (two stable sorts)
        by_seq = np.argsort(self.seq, axis=-1, kind="stable")
        order = np.take_along_axis(
            by_seq, np.argsort(np.take_along_axis(arrival, by_seq, -1), axis=-1, kind="stable"), -1)
        a = np.maximum(np.take_along_axis(arrival, order, -1), t0)
        w = np.take_along_axis(np.where(self.valid, self.work, 0.0), order, -1) / self.speed[..., None]
        s = np.cumsum(w, axis=-1)
        with np.errstate(invalid="ignore"):
            fin = s + np.maximum.accumulate(a - (s - w), axis=-1)
        fin = np.where(np.isfinite(a) & self.up[..., None], fin, np.inf)
        start = fin - w
        served = np.clip(np.minimum(fin, t1) - np.maximum(start, t0), 0.0, None)
        served = np.where(np.isfinite(fin), served, 0.0)
        busy = served.sum(-1)
        finish = np.empty_like(fin)
        np.put_along_axis(finish, order, fin, -1)
        done_work = np.empty_like(served)
        np.put_along_axis(done_work, order, served, -1)
        self.work = np.where(self.valid, np.maximum(self.work - done_work * self.speed[..., None], 0.0),
                             0.0)
        return finish, busy

    def _serve_ps(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        b, k, q = self.shape
        t = np.full((b, k), float(t0))
        finish = np.full((b, k, q), np.inf)
        busy = np.zeros((b, k))
        pending = self.valid & self.up[..., None]
        work = self.work.copy()
        for _ in range(4 * q + 8):
            running = t < t1
            if not running.any():
                break
            # tasks without work leave as soon as they are present (also at the pass start)
            empty = pending & (self.arrival <= t[..., None]) & (work <= 0) & running[..., None]
            finish = np.where(empty, np.maximum(t, t0)[..., None], finish)
            pending &= ~empty
            active = pending & (self.arrival <= t[..., None])
            n = active.sum(-1)
            rate = self.speed / np.maximum(n, 1)  # cycles/s per active task
            min_w = np.where(active, work, np.inf).min(-1)
            t_c = np.where(n > 0, t + min_w / rate, np.inf)
            later = pending & (self.arrival > t[..., None])
            t_a = np.where(later, self.arrival, np.inf).min(-1)
            t_next = np.where(running, np.minimum(np.minimum(t_c, t_a), t1), t)
            dt = t_next - t
            # the tasks with the least work finish at t_c, decided on the work before the
            # update, so rounding can never leave a sliver that stalls the clock
            completing = active & (running & (t_c <= t_next))[..., None] & \
                (work <= min_w[..., None] * (1.0 + 1e-9))
            work = np.where(active, work - (dt * rate)[..., None], work)
            work = np.where(completing, 0.0, np.maximum(work, 0.0))
            finish = np.where(completing, t_next[..., None], finish)
            pending &= ~completing
            busy += np.where(n > 0, dt, 0.0)
            t = t_next
        empty = pending & (self.arrival <= t[..., None]) & (work <= 0)  # arrived exactly at t1
        finish = np.where(empty, t[..., None], finish)
        self.work = np.where(self.valid, np.maximum(work, 0.0), 0.0)
        return finish, busy

    # ------------------------------------------------------------------ leaving
    def fail(self, failed: np.ndarray, now: float, lose: bool) -> Departed:
        """Servers ``failed [B, K]`` went down at ``now``: their tasks are lost (returned) or,
        with ``lose=False``, keep their slots and start their work again after repair. The
        caller keeps ``up`` (the failure process owns the servers' state)."""
        hit = self.valid & failed[..., None]
        if lose:
            return self._remove(hit, np.where(hit, now, np.inf))
        self.work = np.where(hit, self.attrs["cycles"], self.work)
        return self._remove(np.zeros_like(hit), self.arrival)

    def drop_where(self, mask: np.ndarray, now: float) -> Departed:
        """Remove the tasks of ``mask [B, K, Q]`` (e.g. past their deadline) at ``now``."""
        mask = mask & self.valid
        return self._remove(mask, np.where(mask, now, np.inf))

    def _remove(self, mask: np.ndarray, time: np.ndarray) -> Departed:
        b, k, q = np.nonzero(mask)
        out = Departed(b, k, time[b, k, q], self.arrival[b, k, q],
                       {name: v[b, k, q] for name, v in self.attrs.items()})
        self.valid[b, k, q] = False
        self.arrival[b, k, q] = np.inf
        self.work[b, k, q] = 0.0
        self.mem[b, k, q] = 0.0
        return out
