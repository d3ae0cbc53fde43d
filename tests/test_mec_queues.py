"""The MEC edge servers' compute queues (``scenarios/mec/queues.py``).

- the batched ``fifo`` / ``ps`` models against a task-by-task, event-driven reference loop
  written here for one server (random scenarios: several envs and servers, tasks in transfer,
  random step lengths, arrivals on step boundaries, pauses, failures, speed changes);
- M/M/1: FIFO's mean wait in queue and PS's mean sojourn (overall and given the service
  time) against queueing theory;
- Little's law on every queue of a batched multi-server run;
- failures (``fail``), drops (``drop_where``) and admission (slots, memory, down servers).
"""

from __future__ import annotations

import numpy as np
import pytest

from xr_codec_marl.scenarios.mec.models import mm1_mean_wait
from xr_codec_marl.scenarios.mec.queues import SLOT_FIELDS, ServerQueues

DISCIPLINES = ("fifo", "ps")


# ---------------------------------------------------------------------------- helpers
def _attrs(ids, cycles, rng=None) -> dict[str, np.ndarray]:
    """Slot attributes: ``origin`` carries the task id (exact in float64)."""
    ids = np.asarray(ids, float)
    n = ids.size
    rng = rng or np.random.default_rng(0)
    return {"created": rng.uniform(0, 1, n), "deadline": rng.uniform(1, 2, n),
            "priority": rng.uniform(0, 1, n), "origin": ids, "link": rng.integers(0, 9, n) * 1.0,
            "cycles": np.asarray(cycles, float)}


def _admit(q: ServerQueues, b, k, arrival, work, ids, mem=None, rng=None) -> np.ndarray:
    b = np.asarray(b, int)
    k = np.asarray(k, int)
    arrival = np.asarray(arrival, float)
    work = np.asarray(work, float)
    mem = np.zeros(b.size) if mem is None else np.asarray(mem, float)
    return q.admit(b, k, arrival, work, mem, _attrs(ids, work, rng))


def _ids(dep) -> np.ndarray:
    return dep.attrs["origin"].astype(int)


class RefServer:
    """One server, task by task, event by event: obviously correct and slow.

    ``fifo``: non-preemptive FCFS by arrival time, ties by admission order. ``ps``: every
    task present gets ``speed / n``. A task with nothing to do leaves when it is served
    (FIFO: its turn; PS: on arrival)."""

    def __init__(self, discipline: str) -> None:
        self.discipline = discipline
        self.tasks: dict[int, list[float]] = {}  # id -> [arrival, remaining, cycles, seq]
        self.seq = 0

    def admit(self, tid: int, arrival: float, work: float) -> None:
        self.tasks[tid] = [arrival, work, work, self.seq]
        self.seq += 1

    def lose(self) -> list[int]:
        ids = list(self.tasks)
        self.tasks.clear()
        return ids

    def restart(self) -> None:
        for task in self.tasks.values():
            task[1] = task[2]

    def drop(self, tid: int) -> None:
        del self.tasks[tid]

    def serve(self, t0: float, t1: float, speed: float, up: bool) -> tuple[dict[int, float], float]:
        if not up:
            return {}, 0.0
        if self.discipline == "fifo":
            return self._fifo(t0, t1, speed)
        return self._ps(t0, t1, speed)

    def _fifo(self, t0: float, t1: float, f: float) -> tuple[dict[int, float], float]:
        done: dict[int, float] = {}
        busy, t = 0.0, t0
        while self.tasks:
            tid = min(self.tasks, key=lambda i: (self.tasks[i][0], self.tasks[i][3]))
            task = self.tasks[tid]
            start = max(t, task[0])
            if start > t1:
                break
            end = start + task[1] / f
            if end <= t1:
                done[tid] = end
                busy += end - start
                t = end
                del self.tasks[tid]
            else:
                task[1] -= (t1 - start) * f
                busy += t1 - start
                break
        return done, busy

    def _ps(self, t0: float, t1: float, f: float) -> tuple[dict[int, float], float]:
        done: dict[int, float] = {}
        busy, t = 0.0, t0
        while True:
            for tid, task in list(self.tasks.items()):
                if task[0] <= t and task[1] <= 0.0:  # nothing (left) to do
                    done[tid] = t
                    del self.tasks[tid]
            if t >= t1:
                break
            present = [task for task in self.tasks.values() if task[0] <= t]
            t_next = min([t1] + [task[0] for task in self.tasks.values() if task[0] > t])
            n = len(present)
            if n:
                least = min(task[1] for task in present)
                t_done = t + least * n / f
                if t_done <= t_next:  # the smallest task(s) finish first
                    t_next, share = t_done, least
                else:
                    share = (t_next - t) * f / n
                for task in present:
                    task[1] -= share
                    if task[1] <= 1e-12 * task[2]:
                        task[1] = 0.0
                busy += t_next - t
            t = t_next
        return done, busy


def _check_departures(dep, t0, t1, admitted, where, tol=1e-9) -> None:
    """Departed tasks carry the admitted server, arrival and attributes; they finished within
    the interval served."""
    for i, tid in enumerate(_ids(dep)):
        b, k, arrival, work = admitted[tid]
        assert (dep.b[i], dep.k[i]) == (b, k), f"task {tid} left {where} from the wrong server"
        assert dep.arrival[i] == arrival
        assert dep.attrs["cycles"][i] == work
    assert np.all(dep.time <= t1), f"{where}: a task left after the interval's end"
    assert np.all(dep.time >= t0 - tol * max(abs(t0), 1.0)), f"{where}: finished before t0"


def _scenario(seed: int, discipline: str, *, faults: bool) -> None:
    """Random batched run vs. one RefServer per (env, server)."""
    rng = np.random.default_rng(seed)
    B, K, Q = 3, 3, 96
    n_steps = 45
    t_start = float(rng.choice([0.0, 250.0, 1000.0]))
    h = rng.uniform(0.02, 0.5, n_steps)
    h[rng.random(n_steps) < 0.15] = rng.uniform(1e-4, 1e-3)  # a few very short steps
    bounds = t_start + np.r_[0.0, np.cumsum(h)]
    q = ServerQueues(B, K, Q, discipline)
    base_speed = 10.0 ** rng.uniform(9, 10.3, (B, K))  # 1 .. 20 GHz
    q.speed[:] = base_speed
    ref = {(b, k): RefServer(discipline) for b in range(B) for k in range(K)}
    admitted: dict[int, tuple[int, int, float, float]] = {}
    boundary_owner: dict[tuple[int, int, float], int] = {}  # (b, k, arrival) -> admission step
    finished: dict[int, float] = {}
    lost: set[int] = set()
    down_left = np.zeros((B, K), int)
    next_id = 0
    mean_service = 0.6 * h.mean() / 0.8  # load ~0.6 per server
    for j in range(n_steps):
        t0, t1 = bounds[j], bounds[j + 1]
        # ---- faults: a server goes down at t0 (paused, or failed losing / restarting)
        if faults:
            back = down_left == 1
            q.up[back] = True
            down_left = np.maximum(down_left - 1, 0)
            start_down = (rng.random((B, K)) < 0.07) & (down_left == 0) & ~back
            if start_down.any():
                down_left[start_down] = rng.integers(1, 4, start_down.sum())
                q.up[start_down] = False
                mode = rng.integers(0, 3)  # 0: paused, 1: fail(lose), 2: fail(restart)
                if mode == 1:
                    dep = q.fail(start_down, t0, lose=True)
                    want = set()
                    for b, k in zip(*np.nonzero(start_down)):
                        want |= set(ref[b, k].lose())
                    got = set(_ids(dep).tolist())
                    assert got == want, f"seed {seed} step {j}: fail(lose) returned other tasks"
                    assert np.all(dep.time == t0)
                    assert np.all(start_down[dep.b, dep.k])
                    lost |= got
                elif mode == 2:
                    dep = q.fail(start_down, t0, lose=False)
                    assert dep.count == 0
                    for b, k in zip(*np.nonzero(start_down)):
                        ref[b, k].restart()
            if rng.random() < 0.1:  # a speed change
                q.speed[:] = base_speed * rng.uniform(0.5, 1.5, (B, K))
        # ---- admissions at t0, arriving now, on a later boundary, or in transfer
        n_new = rng.poisson(0.8, (B, K))
        bs, ks = np.repeat(np.arange(B), K), np.tile(np.arange(K), B)
        b_new = np.repeat(bs, n_new.ravel())
        k_new = np.repeat(ks, n_new.ravel())
        order = rng.permutation(b_new.size)  # interleave servers within one call
        b_new, k_new = b_new[order], k_new[order]
        n = b_new.size
        if n:
            kind = rng.random(n)
            arrival = t0 + rng.exponential(0.3, n)  # may lie beyond t1: in transfer
            for i in range(n):
                if kind[i] < 0.2:
                    arrival[i] = t0
                elif kind[i] < 0.35:
                    m = min(j + rng.integers(1, 4), n_steps)
                    arrival[i] = bounds[m]
                # equal arrivals from *different* calls are a separate test (tie order)
                key = (b_new[i], k_new[i], arrival[i])
                if boundary_owner.setdefault(key, j) != j:
                    arrival[i] = t0 + rng.uniform(1e-3, 0.3)
            # at least 1 ms of work (tiny and empty tasks: separate tests below)
            work = q.speed[b_new, k_new] * (1e-3 + rng.exponential(mean_service, n))
            ids = np.arange(next_id, next_id + n)
            next_id += n
            acc = _admit(q, b_new, k_new, arrival, work, ids, rng=rng)
            np.testing.assert_array_equal(acc, q.up[b_new, k_new],
                                          err_msg=f"seed {seed} step {j}: admission")
            for i in np.flatnonzero(acc):
                tid = int(ids[i])
                admitted[tid] = (int(b_new[i]), int(k_new[i]), float(arrival[i]), float(work[i]))
                ref[b_new[i], k_new[i]].admit(tid, float(arrival[i]), float(work[i]))
        # ---- serve [t0, t1)
        dep, busy = q.serve(t0, t1)
        _check_departures(dep, t0, t1, admitted, f"seed {seed} step {j}")
        for tid, t in zip(_ids(dep).tolist(), dep.time.tolist()):
            assert tid not in finished and tid not in lost, f"task {tid} left twice"
            finished[tid] = t
        want_busy = np.zeros((B, K))
        for (b, k), server in ref.items():
            done, bt = server.serve(t0, t1, float(q.speed[b, k]), bool(q.up[b, k]))
            want_busy[b, k] = bt / (t1 - t0)
            for tid, t in done.items():
                assert tid in finished, (f"seed {seed} {discipline} step {j} [{t0}, {t1}): "
                                         f"task {tid} at ({b},{k}) should finish at {t}")
                np.testing.assert_allclose(finished[tid], t, rtol=1e-9, atol=1e-12,
                                           err_msg=f"seed {seed} task {tid} finish time")
        # busy time to float64's resolution of the clock
        np.testing.assert_allclose(busy * (t1 - t0), want_busy * (t1 - t0), rtol=0,
                                   atol=1e-12 * max(t1, 1.0),
                                   err_msg=f"seed {seed} {discipline} step {j}: busy fraction")
        occupancy = np.array([[len(ref[b, k].tasks) for k in range(K)] for b in range(B)])
        np.testing.assert_array_equal(q.occupancy(), occupancy,
                                      err_msg=f"seed {seed} step {j}: tasks still queued")
        remaining = np.array([[sum(x[1] for x in ref[b, k].tasks.values()) for k in range(K)]
                              for b in range(B)])
        np.testing.assert_allclose(q.backlog_s() * q.speed, remaining, rtol=1e-9,
                                   atol=1e-9 * q.speed.max(), err_msg=f"seed {seed}: backlog")
        assert set(finished) <= set(admitted)
    # ---- drain: everything admitted and not lost finishes
    q.up[:] = True
    t0 = bounds[-1]
    total = sum(w for (_, _, _, w) in admitted.values()) / q.speed.min()
    t1 = t0 + 2 * total + 10.0
    dep, _ = q.serve(t0, t1)
    for tid, t in zip(_ids(dep).tolist(), dep.time.tolist()):
        finished[tid] = t
    for (b, k), server in ref.items():
        done, _ = server.serve(t0, t1, float(q.speed[b, k]), True)
        for tid, t in done.items():
            np.testing.assert_allclose(finished[tid], t, rtol=1e-9, atol=1e-12)
    assert q.occupancy().sum() == 0
    assert set(finished) | lost == set(admitted) and not (set(finished) & lost)
    assert len(admitted) > 150  # the scenario is not trivial


# ---------------------------------------------------------------------------- 1. reference
@pytest.mark.parametrize("discipline", DISCIPLINES)
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_batched_queues_match_task_by_task_reference(discipline: str, seed: int) -> None:
    _scenario(seed, discipline, faults=False)


@pytest.mark.parametrize("discipline", DISCIPLINES)
@pytest.mark.parametrize("seed", [10, 11, 12])
def test_batched_queues_match_reference_with_pauses_failures_and_speed_changes(
        discipline: str, seed: int) -> None:
    _scenario(seed, discipline, faults=True)


def test_fifo_hand_worked_boundaries_and_zero_gaps() -> None:
    """Dyadic numbers, exact: arrivals on a step boundary, a task arriving exactly when the
    previous one finishes (zero idle gap), one arriving exactly at the interval's end."""
    q = ServerQueues(1, 1, 8, "fifo")
    q.speed[:] = 2.0
    # a: [0, 1); b arrives at 1 = a's finish: [1, 1.5); c arrives at 1.25: [1.5, 2.5);
    # d arrives at 2.5 = c's finish and the step boundary: [2.5, 3); e in transfer until 4
    _admit(q, [0] * 5, [0] * 5, [0.0, 1.0, 1.25, 2.5, 4.0], [2.0, 1.0, 2.0, 1.0, 0.5],
           [0, 1, 2, 3, 4])
    dep, busy = q.serve(0.0, 2.5)
    assert dict(zip(_ids(dep), dep.time)) == {0: 1.0, 1: 1.5, 2: 2.5}
    assert busy[0, 0] == 1.0
    dep, busy = q.serve(2.5, 3.0)  # d arrives exactly at t0 and ends exactly at t1
    assert dict(zip(_ids(dep), dep.time)) == {3: 3.0}
    assert busy[0, 0] == 1.0
    dep, busy = q.serve(3.0, 4.0)  # e arrives exactly at t1: not served yet
    assert dep.count == 0 and busy[0, 0] == 0.0 and q.occupancy()[0, 0] == 1
    dep, busy = q.serve(4.0, 5.0)
    assert dict(zip(_ids(dep), dep.time)) == {4: 4.25}
    assert busy[0, 0] == 0.25


def test_ps_hand_worked_boundaries_and_zero_gaps() -> None:
    """PS: a alone on [0, 1) does 1 of its 3; b arrives at 1, both at half speed: b (1 unit)
    ends at 3, a's remaining 2 - 1 = 1 ends at 4, exactly when c arrives (zero gap)."""
    q = ServerQueues(1, 1, 8, "ps")
    q.speed[:] = 1.0
    _admit(q, [0] * 3, [0] * 3, [0.0, 1.0, 4.0], [3.0, 1.0, 0.5], [0, 1, 2])
    dep, busy = q.serve(0.0, 1.0)
    assert dep.count == 0 and busy[0, 0] == 1.0
    dep, busy = q.serve(1.0, 3.0)  # b finishes exactly at t1
    assert dict(zip(_ids(dep), dep.time)) == {1: 3.0}
    dep, busy = q.serve(3.0, 4.0)  # a finishes exactly at t1 = c's arrival
    assert dict(zip(_ids(dep), dep.time)) == {0: 4.0}
    assert busy[0, 0] == 1.0
    dep, busy = q.serve(4.0, 6.0)
    assert dict(zip(_ids(dep), dep.time)) == {2: 4.5}
    assert busy[0, 0] == 0.25


@pytest.mark.parametrize("discipline", DISCIPLINES)
def test_zero_work_task_leaves_when_served(discipline: str) -> None:
    """A task with nothing to do at the server: FIFO, when its turn comes; PS, on arrival."""
    q = ServerQueues(1, 2, 4, discipline)
    # server 0: a busy on [0, 2); z (no work) arrives at 0.5. server 1: z alone, arrives at 1.
    _admit(q, [0, 0, 0], [0, 0, 1], [0.0, 0.5, 1.0], [2.0, 0.0, 0.0], [0, 1, 2])
    dep, busy = q.serve(0.0, 4.0)
    want = {0: 2.0, 1: 2.0 if discipline == "fifo" else 0.5, 2: 1.0}
    assert dict(zip(_ids(dep), dep.time)) == want
    np.testing.assert_array_equal(busy, [[0.5, 0.0]])


def test_fifo_equal_arrivals_are_served_in_admission_order() -> None:
    """Two tasks arriving at the same instant are served in the order they were admitted,
    whichever slots they hold: y (admitted at 0) before z (admitted at 2 into a freed, lower
    slot), both arriving at 5."""
    q = ServerQueues(1, 1, 4, "fifo")
    _admit(q, [0, 0], [0, 0], [0.0, 5.0], [1.0, 1.0], [0, 1])  # x: slot 0, y: slot 1
    dep, _ = q.serve(0.0, 2.0)
    assert _ids(dep).tolist() == [0]  # slot 0 is free again
    _admit(q, [0], [0], [5.0], [1.0], [2])  # z
    dep, _ = q.serve(2.0, 10.0)
    assert dict(zip(_ids(dep), dep.time)) == {1: 6.0, 2: 7.0}


@pytest.mark.parametrize("t0", [1000.0, 1e5])
def test_ps_finishes_a_small_task_late_in_the_run(t0: float) -> None:
    """A 10 µs task (1e5 cycles at 10 GHz) arriving at t0 ends at t0 + 1e-5 s, far from
    float64's resolution at t0 (1e-13 s at 1000 s), and the server goes on serving the next
    one; FIFO does this, PS must too."""
    for discipline in DISCIPLINES:
        q = ServerQueues(1, 1, 4, discipline)
        q.speed[:] = 1e10
        _admit(q, [0, 0], [0, 0], [t0, t0 + 0.5], [1e5, 1e9], [0, 1])
        got: dict[int, float] = {}
        for i in range(3):
            dep, busy = q.serve(t0 + i, t0 + i + 1)
            got.update(zip(_ids(dep).tolist(), dep.time.tolist()))
        assert sorted(got) == [0, 1], f"{discipline}: finished {got}, backlog {q.work[0, 0]}"
        np.testing.assert_allclose([got[0], got[1]], [t0 + 1e-5, t0 + 0.6], rtol=1e-12)


# ---------------------------------------------------------------------------- 2. M/M/1
def _run_mm1(discipline: str, lam: float, mu: float, n_per_env: int, envs: int, step: float,
             slots: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``envs`` independent M/M/1 queues (one server each), tasks admitted one step ahead
    of their arrival. Returns arrival, service time and finish time of every task."""
    rng = np.random.default_rng(seed)
    speed = 2.0  # work units / s
    arrival = np.cumsum(rng.exponential(1.0 / lam, (envs, n_per_env)), axis=1)
    service = rng.exponential(1.0 / mu, (envs, n_per_env))
    work = service * speed
    q = ServerQueues(envs, 1, slots, discipline)
    q.speed[:] = speed
    ids = np.arange(envs * n_per_env).reshape(envs, n_per_env)
    finish = np.full((envs, n_per_env), np.nan)
    nxt = np.zeros(envs, int)
    t = 0.0
    refused = 0
    horizon = arrival[:, -1].min()
    while t < horizon:
        t1 = t + step
        end = np.array([np.searchsorted(arrival[e], t1) for e in range(envs)])
        cnt = end - nxt
        e_idx = np.repeat(np.arange(envs), cnt)
        j_idx = np.concatenate([np.arange(nxt[e], end[e]) for e in range(envs)])
        if e_idx.size:
            acc = q.admit(e_idx, np.zeros_like(e_idx), arrival[e_idx, j_idx], work[e_idx, j_idx],
                          np.zeros(e_idx.size), {"cycles": work[e_idx, j_idx],
                                                 "origin": ids[e_idx, j_idx].astype(float)})
            refused += int((~acc).sum())
        nxt = end
        dep, _ = q.serve(t, t1)
        tid = dep.attrs["origin"].astype(int)
        finish.flat[tid] = dep.time
        t = t1
    assert refused == 0, "a task was refused: the slot count is too small for this test"
    dep, _ = q.serve(t, t + 1e4 / mu)  # drain what was admitted
    finish.flat[dep.attrs["origin"].astype(int)] = dep.time
    assert q.occupancy().sum() == 0
    keep = arrival < horizon  # all of them admitted, all finished
    assert np.isfinite(finish[keep]).all()
    return arrival[keep], service[keep], finish[keep]


@pytest.mark.parametrize("rho, n_per_env, slots", [(0.5, 10_000, 128), (0.8, 15_000, 256)])
def test_mm1_fifo_mean_wait(rho: float, n_per_env: int, slots: int) -> None:
    """32 independent M/M/1 queues (one per env), 320k / 480k tasks."""
    mu = 2.0
    lam = rho * mu
    arrival, service, finish = _run_mm1("fifo", lam, mu, n_per_env, 32, 20.0 / mu, slots, seed=7)
    wait = finish - arrival - service
    assert wait.min() > -1e-9  # nobody is served before arriving
    assert wait.mean() == pytest.approx(mm1_mean_wait(lam, mu), rel=0.05)
    # and with the sojourn: 1 / (mu - lam)
    assert (finish - arrival).mean() == pytest.approx(1.0 / (mu - lam), rel=0.05)


@pytest.mark.parametrize("rho, n_per_env, slots", [(0.5, 2_500, 48), (0.8, 3_000, 96)])
def test_mm1_ps_mean_sojourn_overall_and_given_service(rho: float, n_per_env: int,
                                                        slots: int) -> None:
    """M/M/1-PS: E[T] = 1 / (mu - lam) and, what tells it from FIFO, E[T | x] = x / (1 - rho)
    for every service time x (checked on short and long tasks; FIFO gives ~3.6 and ~0.46 of
    that at rho = 0.8)."""
    mu = 1.0
    lam = rho * mu
    arrival, service, finish = _run_mm1("ps", lam, mu, n_per_env, 32, 4.0 / mu, slots, seed=3)
    sojourn = finish - arrival
    assert np.all(sojourn >= service - 1e-8)  # never faster than alone (to the clock's ulp)
    assert sojourn.mean() == pytest.approx(1.0 / (mu - lam), rel=0.05)
    for sel in (service < 0.5 / mu, service > 2.0 / mu):
        assert sel.sum() > 3000
        ratio = sojourn[sel].sum() / service[sel].sum()
        assert ratio == pytest.approx(1.0 / (1.0 - rho), rel=0.06)


# ---------------------------------------------------------------------------- 3. Little
@pytest.mark.parametrize("discipline", DISCIPLINES)
def test_littles_law_on_every_queue(discipline: str) -> None:
    """Time-average number in system (arrived and unfinished, sampled at step ends) equals
    arrival rate x mean sojourn on each of the B x K queues (different loads, transfers)."""
    rng = np.random.default_rng(5)
    B, K, Q = 3, 3, 64
    step = 0.05
    n_steps = 6_000
    horizon = n_steps * step
    mu = np.array([2.0, 3.0, 5.0])[None, :].repeat(B, 0)  # services per second
    rho = rng.uniform(0.4, 0.75, (B, K))
    lam = rho * mu
    q = ServerQueues(B, K, Q, discipline)
    q.speed[:] = rng.uniform(0.5, 8, (B, K))  # work units / s
    # Poisson admissions; each task then spends an exponential transfer time before arriving
    admit_t = [np.cumsum(rng.exponential(1 / lam[b, k], int(lam[b, k] * horizon * 1.2)))
               for b in range(B) for k in range(K)]
    admit_all = np.concatenate(admit_t)
    srv = np.concatenate([[i] * len(a) for i, a in enumerate(admit_t)])
    order = np.argsort(admit_all, kind="stable")
    admit_all, srv = admit_all[order], srv[order]
    arrival = admit_all + rng.exponential(0.1, admit_all.size)
    b_all, k_all = srv // K, srv % K
    work = rng.exponential(1.0, admit_all.size) / mu[b_all, k_all] * q.speed[b_all, k_all]
    finish = np.full(admit_all.size, np.nan)
    in_system = np.zeros((B, K))
    ptr = 0
    refused = 0
    for j in range(n_steps):
        t0, t1 = j * step, (j + 1) * step
        end = np.searchsorted(admit_all, t1)  # admitted during the step: at its start
        if end > ptr:
            sl = slice(ptr, end)
            acc = q.admit(b_all[sl], k_all[sl], arrival[sl], work[sl], np.zeros(end - ptr),
                          {"cycles": work[sl], "origin": np.arange(ptr, end, dtype=float)})
            refused += int((~acc).sum())
            ptr = end
        dep, _ = q.serve(t0, t1)
        finish[dep.attrs["origin"].astype(int)] = dep.time
        in_system += (q.valid & (q.arrival <= t1)).sum(-1)
    assert refused == 0
    L = in_system / n_steps
    arrived = arrival < horizon
    for b in range(B):
        for k in range(K):
            mine = arrived & (b_all == b) & (k_all == k)
            assert mine.sum() > 200
            # sojourn of the tasks that arrived, cut at the horizon for the unfinished ones
            out = np.where(np.isfinite(finish[mine]), np.minimum(finish[mine], horizon), horizon)
            soj = out - arrival[mine]
            rate = mine.sum() / horizon
            assert L[b, k] == pytest.approx(rate * soj.mean(), rel=0.02), (b, k)


# ---------------------------------------------------------------------------- 4. failures
@pytest.mark.parametrize("discipline", DISCIPLINES)
def test_down_server_completes_nothing_until_up(discipline: str) -> None:
    q = ServerQueues(2, 2, 4, discipline)
    q.speed[:] = 1.0
    _admit(q, [0, 0, 1], [0, 1, 0], [0.0, 0.0, 0.0], [2.0, 2.0, 2.0], [0, 1, 2])
    dep, _ = q.serve(0.0, 1.0)  # all three half done
    assert dep.count == 0
    q.up[0, 0] = False
    for t in (1.0, 2.0, 3.0):
        dep, busy = q.serve(t, t + 1)
        assert 0 not in _ids(dep)
        assert busy[0, 0] == 0.0
        if t == 1.0:  # the others are not affected
            assert dict(zip(_ids(dep), dep.time)) == {1: 2.0, 2: 2.0}
    assert q.occupancy()[0, 0] == 1
    q.up[0, 0] = True  # paused, not failed: the work done so far counts
    dep, busy = q.serve(4.0, 6.0)
    assert dict(zip(_ids(dep), dep.time)) == {0: 5.0}
    assert busy[0, 0] == 0.5


@pytest.mark.parametrize("discipline", DISCIPLINES)
def test_fail_losing_returns_every_task_and_frees_the_slots(discipline: str) -> None:
    q = ServerQueues(2, 2, 3, discipline)
    q.speed[:] = 1.0
    q.mem_cap[:] = 10.0
    # server (0, 1): one in service, one queued, one in transfer; (1, 1) untouched
    _admit(q, [0, 0, 0, 1], [1, 1, 1, 1], [0.0, 0.2, 5.0, 0.0], [3.0, 3.0, 3.0, 3.0],
           [0, 1, 2, 3], mem=[3.0, 3.0, 3.0, 3.0])
    q.serve(0.0, 1.0)
    failed = np.zeros((2, 2), bool)
    failed[0, 1] = True
    q.up[failed] = False
    dep = q.fail(failed, 1.5, lose=True)
    assert sorted(_ids(dep).tolist()) == [0, 1, 2]
    assert np.all(dep.time == 1.5)
    assert np.all(dep.b == 0) and np.all(dep.k == 1)
    np.testing.assert_array_equal(np.sort(dep.arrival), [0.0, 0.2, 5.0])
    np.testing.assert_array_equal(q.occupancy(), [[0, 0], [0, 1]])
    np.testing.assert_array_equal(q.mem_used(), [[0, 0], [0, 3.0]])
    assert q.backlog_s()[0, 1] == 0.0
    # nothing of them comes back later
    q.up[failed] = True
    dep, busy = q.serve(1.5, 10.0)
    assert _ids(dep).tolist() == [3] and busy[0, 1] == 0.0
    # all three slots and all the memory are free again
    acc = _admit(q, [0] * 4, [1] * 4, [10.0] * 4, [1.0] * 4, [4, 5, 6, 7], mem=[3.0] * 4)
    np.testing.assert_array_equal(acc, [True, True, True, False])


@pytest.mark.parametrize("discipline", DISCIPLINES)
def test_fail_keeping_restarts_the_work_from_the_full_cycles(discipline: str) -> None:
    q = ServerQueues(1, 2, 4, discipline)
    q.speed[:] = 2.0
    # (0, 0): a 8 cycles (4 s alone) from 0; (0, 1): the same, never fails
    _admit(q, [0, 0], [0, 1], [0.0, 0.0], [8.0, 8.0], [0, 1])
    q.serve(0.0, 3.0)  # 6 of 8 cycles done
    failed = np.array([[True, False]])
    dep = q.fail(failed, 3.0, lose=False)
    assert dep.count == 0
    q.up[failed] = False
    np.testing.assert_array_equal(q.occupancy(), [[1, 1]])
    np.testing.assert_allclose(q.backlog_s(), [[4.0, 1.0]])  # back to the full 8 cycles
    dep, busy = q.serve(3.0, 5.0)
    assert dict(zip(_ids(dep), dep.time)) == {1: 4.0}
    assert busy[0, 0] == 0.0
    q.up[failed] = True
    dep, busy = q.serve(5.0, 12.0)
    assert dict(zip(_ids(dep), dep.time)) == {0: 9.0}  # 4 s of work from 5
    assert dep.attrs["cycles"][0] == 8.0


@pytest.mark.parametrize("discipline", DISCIPLINES)
def test_drop_where_removes_exactly_the_masked_tasks(discipline: str) -> None:
    q = ServerQueues(1, 1, 4, discipline)
    q.speed[:] = 1.0
    _admit(q, [0, 0, 0], [0, 0, 0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0, 1, 2])
    mask = q.attrs["origin"] == 1
    mask &= q.valid
    dep = q.drop_where(mask | ~q.valid, 0.25)  # empty slots in the mask are ignored
    assert _ids(dep).tolist() == [1] and dep.time.tolist() == [0.25]
    assert q.occupancy()[0, 0] == 2
    dep, _ = q.serve(0.0, 5.0)
    assert sorted(_ids(dep).tolist()) == [0, 2]


# ---------------------------------------------------------------------------- 5. admission
def test_full_queue_refuses_and_earlier_entries_win() -> None:
    q = ServerQueues(2, 2, 3, "fifo")
    # five tasks for (0, 1), interleaved with two for (1, 0)
    b = [0, 1, 0, 0, 1, 0, 0]
    k = [1, 0, 1, 1, 0, 1, 1]
    acc = _admit(q, b, k, np.full(7, 1.0), np.ones(7), np.arange(7))
    np.testing.assert_array_equal(acc, [True, True, True, True, True, False, False])
    np.testing.assert_array_equal(q.occupancy(), [[0, 3], [2, 0]])
    # distinct slots: every accepted id sits in exactly one valid slot of its server
    np.testing.assert_array_equal(np.sort(q.attrs["origin"][0, 1][q.valid[0, 1]]), [0, 2, 3])
    np.testing.assert_array_equal(np.sort(q.attrs["origin"][1, 0][q.valid[1, 0]]), [1, 4])
    # a later call: (0, 1) is full, (1, 0) has one slot left
    acc = _admit(q, [0, 1, 1], [1, 0, 0], [2.0] * 3, [1.0] * 3, [7, 8, 9])
    np.testing.assert_array_equal(acc, [False, True, False])
    np.testing.assert_array_equal(np.sort(q.attrs["origin"][1, 0][q.valid[1, 0]]), [1, 4, 8])


def test_memory_over_the_cap_refuses() -> None:
    q = ServerQueues(1, 2, 8, "ps")
    q.mem_cap[:] = [[10.0, 5.0]]
    acc = _admit(q, [0, 0, 0], [0, 0, 0], [0.0] * 3, [1.0] * 3, [0, 1, 2], mem=[4.0, 4.0, 4.0])
    np.testing.assert_array_equal(acc, [True, True, False])  # 12 > 10
    np.testing.assert_array_equal(q.mem_used(), [[8.0, 0.0]])
    acc = _admit(q, [0, 0, 0], [0, 1, 1], [0.0] * 3, [1.0] * 3, [3, 4, 5], mem=[2.0, 5.0, 0.5])
    np.testing.assert_array_equal(acc, [True, True, False])  # exactly full is fine
    np.testing.assert_array_equal(q.mem_used(), [[10.0, 5.0]])
    acc = _admit(q, [0], [0], [0.0], [1.0], [6], mem=[1e-3])
    assert not acc[0]
    # the memory is given back when tasks leave
    q.serve(0.0, 100.0)
    np.testing.assert_array_equal(q.mem_used(), [[0.0, 0.0]])
    acc = _admit(q, [0], [0], [100.0], [1.0], [7], mem=[10.0])
    assert acc[0]


def test_down_server_refuses() -> None:
    q = ServerQueues(2, 2, 4, "fifo")
    q.up[1, 0] = False
    acc = _admit(q, [0, 1, 1, 0], [0, 0, 1, 1], [0.0] * 4, [1.0] * 4, [0, 1, 2, 3])
    np.testing.assert_array_equal(acc, [True, False, True, True])
    np.testing.assert_array_equal(q.occupancy(), [[1, 1], [0, 1]])


@pytest.mark.parametrize("discipline", DISCIPLINES)
def test_random_admissions_take_distinct_slots_and_never_overwrite(discipline: str) -> None:
    rng = np.random.default_rng(4)
    B, K, Q = 3, 2, 5
    q = ServerQueues(B, K, Q, discipline)
    q.mem_cap[:] = rng.uniform(5, 15, (B, K))
    held: dict[int, tuple[int, int]] = {}
    nid = 0
    for step in range(60):
        q.up[:] = rng.random((B, K)) > 0.15
        n = rng.integers(0, 12)
        b, k = rng.integers(0, B, n), rng.integers(0, K, n)
        mem = rng.uniform(0, 4, n)
        ids = np.arange(nid, nid + n)
        nid += n
        free_slots = Q - q.occupancy()
        free_mem = q.mem_cap - q.mem_used()
        acc = _admit(q, b, k, np.full(n, float(step)), rng.exponential(0.5, n), ids, mem=mem)
        for i in np.flatnonzero(acc):
            held[int(ids[i])] = (int(b[i]), int(k[i]))
        for bb in range(B):
            for kk in range(K):
                mine = (b == bb) & (k == kk)
                if not q.up[bb, kk]:
                    assert not acc[mine].any()
                # earlier entries win: the accepted ones are a prefix, within slots and memory
                first_no = np.flatnonzero(mine & ~acc)
                if first_no.size:
                    assert not acc[mine & (np.arange(n) > first_no[0])].any()
                assert acc[mine].sum() <= free_slots[bb, kk]
                assert mem[mine & acc].sum() <= free_mem[bb, kk] + 1e-9
                # what one more task would have found: a refusal has a reason
                if first_no.size and q.up[bb, kk]:
                    used = mem[mine & (np.arange(n) <= first_no[0])].sum()
                    assert (acc[mine].sum() >= free_slots[bb, kk]
                            or used > free_mem[bb, kk] + 1e-9)
        # every task held sits in exactly one valid slot, on its own server
        ids_in = q.attrs["origin"][q.valid].astype(int)
        assert len(ids_in) == len(set(ids_in.tolist())) == len(held)
        where = np.nonzero(q.valid)
        for tid, bb, kk in zip(ids_in, where[0], where[1]):
            assert held[tid] == (bb, kk)
        q.up[:] = True
        dep, _ = q.serve(float(step), float(step) + 0.5)
        for tid in _ids(dep):
            del held[int(tid)]
    assert nid > 200


def test_slot_fields_are_carried_through() -> None:
    q = ServerQueues(1, 1, 2, "fifo")
    attrs = {name: np.array([float(i + 1)]) for i, name in enumerate(SLOT_FIELDS)}
    attrs["cycles"] = np.array([4.0])
    q.admit(np.array([0]), np.array([0]), np.array([0.5]), np.array([4.0]), np.array([1.0]), attrs)
    dep, _ = q.serve(0.0, 10.0)
    assert dep.count == 1 and dep.time[0] == 4.5 and dep.arrival[0] == 0.5
    for name in SLOT_FIELDS:
        assert dep.attrs[name][0] == attrs[name][0], name


@pytest.mark.parametrize("discipline", DISCIPLINES)
def test_zero_work_task_arriving_on_a_step_boundary_leaves_then(discipline: str) -> None:
    """z (no work) arriving exactly at t1 leaves at t1 in that step; y (no work), admitted at
    the next step's start t0 = 1 with arrival 1, the server idle, leaves at 1 too, not at the
    next event (w's arrival at 1.5)."""
    q = ServerQueues(1, 1, 4, discipline)
    _admit(q, [0, 0], [0, 0], [1.0, 1.5], [0.0, 1.0], [0, 1])  # z, w
    dep, _ = q.serve(0.0, 1.0)
    assert dict(zip(_ids(dep), dep.time)) == {0: 1.0}
    _admit(q, [0], [0], [1.0], [0.0], [2])  # y
    dep, _ = q.serve(1.0, 4.0)
    assert dict(zip(_ids(dep), dep.time)) == {2: 1.0, 1: 2.5}


@pytest.mark.parametrize("discipline", DISCIPLINES)
def test_zero_work_task_that_arrived_while_down_leaves_when_up(discipline: str) -> None:
    q = ServerQueues(1, 1, 4, discipline)
    _admit(q, [0, 0], [0, 0], [0.5, 1.5], [0.0, 1.0], [0, 1])
    q.up[0, 0] = False
    dep, _ = q.serve(0.0, 1.0)
    assert dep.count == 0
    q.up[0, 0] = True
    dep, _ = q.serve(1.0, 4.0)
    assert dict(zip(_ids(dep), dep.time)) == {0: 1.0, 1: 2.5}
