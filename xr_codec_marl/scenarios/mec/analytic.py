"""The analytic twin of the multi-MEC scenario: ``B`` copies in lockstep, seeded.

Each decision step ``[t, t + dt)``:

1. every agent with a waiting task decides it (:mod:`.actions`): ``multi-mec`` devices run
   it locally, or upload a fraction α to a server at a power level (Shannon rate over the
   server cell's OFDMA share, split among the uploads in progress there) while the rest runs
   locally; ``aiot`` nodes run it, forward it over the backhaul to another node, or reject
   it. A server admits a task into its compute queue (:mod:`.queues`) if it is up, has a
   free slot and the memory; otherwise the task is rejected;
2. the servers serve their queues over the step (FIFO or processor sharing), the devices
   their CPU queues; tasks finish, possibly late (a deadline miss), or, with ``drop_late``,
   are dropped at their deadline;
3. tasks that waited past their deadline for a decision are dropped, new tasks arrive
   (Poisson per device; in ``aiot`` they are uploaded to the nearest node that is up),
   devices walk, and servers fail or are repaired (their tasks lost or restarted).

The step returns the five team reward components (:data:`.settings.REWARD_COMPONENTS`, each
in [0, 1], times ``reward_weights``), the KPIs of :mod:`.kpis` and, for rule policies,
``info["mec"]``: the view the observations are built from.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from xr_codec_marl.core.api import EnvSpec, Observation, StepResult, split_actions, validate_actions
from xr_codec_marl.scenarios.mec import models, observation, outputs
from xr_codec_marl.scenarios.mec.actions import (
    LOCAL,
    REJECT,
    action_table,
    decode_hybrid,
    head_table,
)
from xr_codec_marl.scenarios.mec.buffers import LocalSlots, TaskBuffer
from xr_codec_marl.scenarios.mec.kpis import MEC_GLOBAL_KPI_NAMES
from xr_codec_marl.scenarios.mec.processes import FailureProcess, TaskSampler
from xr_codec_marl.scenarios.mec.queues import Departed, ServerQueues
from xr_codec_marl.scenarios.mec.radio import Radio, uploads_per_server
from xr_codec_marl.scenarios.mec.settings import MECSettings
from xr_codec_marl.scenarios.mec.tally import StepTally, update_aoi


class AnalyticMECEnv:
    """Vectorised analytic multi-MEC environment implementing :class:`VecMultiAgentEnv`."""

    def __init__(self, settings: MECSettings, spec: EnvSpec, num_envs: int = 1) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.s = settings.validate()
        self.spec = spec
        self.num_envs = num_envs
        self.hybrid = self.s.actions == "hybrid"
        # hybrid: the target head's table (availability); fraction and power come as values
        self.table = head_table(self.s) if self.hybrid else action_table(self.s)
        self.multi = self.s.preset == "multi-mec"
        self._weights = np.asarray(self.s.reward_weights, np.float32)
        self._started = False

    # ------------------------------------------------------------------ reset
    def reset(self, seed: int | None = None) -> Observation:
        s, b = self.s, self.num_envs
        n, k = s.devices, s.servers
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.t = 0.0
        self.steps = 0
        self.radio = Radio(s, b, n, k, rng)
        self.tasks = TaskSampler(s, b, rng)
        self.failures = FailureProcess(s, b, k, rng)
        self.queues = ServerQueues(b, k, s.server_slots, s.queue)
        hetero = s.variant == "heterogeneous"
        mid = lambda r: np.full((b, k), 0.5 * (r[0] + r[1]))  # noqa: E731
        self.queues.speed = rng.uniform(*s.f_server_hz, (b, k)) if hetero else mid(s.f_server_hz)
        self.queues.mem_cap = (rng.uniform(*s.server_memory_gb, (b, k)) if hetero
                               else mid(s.server_memory_gb))
        agents = n if self.multi else k
        self.buffer = TaskBuffer(b, agents, s.agent_buffer)
        self.local = LocalSlots(b, n, s.local_slots)
        self.local_free = np.zeros((b, n))
        self.up_free = np.zeros((b, n))
        self.up_server = np.full((b, n), -1, np.int64)
        self.newest = np.zeros((b, n))  # generation time of the newest completed update
        self._gains = self.radio.gains()
        # the tasks of the step before t = 0, so the first decision has something to decide
        warm = StepTally(b, s.high_priority)
        self._arrivals(-s.decision_step_s, warm)
        #: the last step's event counts and server busy fractions (a raw report's; zeros here)
        self.last_counts, self.last_busy = StepTally(b, s.high_priority).c, np.zeros((b, k))
        self._started = True
        self._last_return = time.perf_counter()
        return self._observe(Observation, {})

    # ------------------------------------------------------------------ step
    def step(self, actions: Any) -> StepResult:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        decision_ms = (time.perf_counter() - self._last_return) * 1e3
        act = validate_actions(self.spec, actions, self._avail)
        s, dt = self.s, self.s.decision_step_s
        t0, t1 = self.t, self.t + dt
        tally = StepTally(self.num_envs, s.high_priority)
        if self.hybrid:
            values = split_actions(actions)[1]
            assert values is not None  # validate_actions asked for them
            target, alpha, power = decode_hybrid(s, act, values, self.local.full)
        else:
            target, alpha, power = self.table.target[act], self.table.alpha[act], \
                self.table.power_w[act]
        decided, offloaded = self._decide(target, alpha, power, t0, tally)
        done, busy = self.queues.serve(t0, t1)
        self._remote_done(done, tally)
        if s.drop_late:
            late = self.queues.valid & (self.queues.attrs["deadline"] < t1)
            self._remote_lost(self.queues.drop_where(late, t1), tally)
        self._resolve_local(t1, tally)
        expired = self.buffer.remove(self.buffer.valid & (self.buffer.f["deadline"] < t1))
        tally.drop(expired["b"], expired["priority"])
        self._arrivals(t0, tally)
        self.radio.move(dt)
        self._gains = self.radio.gains()
        self._fail(t1, tally)
        self.t, self.steps = t1, self.steps + 1
        self.last_counts, self.last_busy = tally.c, busy
        aoi = self._aoi()
        rewards = outputs.reward_components(s, tally.c, busy, aoi) * self._weights
        info = {"kpis": np.stack([decided, offloaded, self.buffer.count.astype(np.float64)],
                                 axis=-1).astype(np.float32),
                "global_kpis": outputs.global_kpis(tally.c, busy, aoi, decision_ms)}
        trunc = np.full(self.num_envs, self.steps >= s.episode_limit)
        result = self._observe(StepResult, info, rewards=rewards.astype(np.float32),
                               terminated=np.zeros(self.num_envs, bool), truncated=trunc)
        self._last_return = time.perf_counter()
        return result

    def close(self) -> None:
        """Nothing to release."""

    # ------------------------------------------------------------------ decisions
    def _decide(self, target: np.ndarray, alpha: np.ndarray, power: np.ndarray, t0: float,
                tally: StepTally) -> tuple[np.ndarray, np.ndarray]:
        """Every agent's decision (``[B, N]`` target, offloaded fraction, power in W)."""
        s = self.s
        has, slot = self._head
        if self.multi:  # a local task with the device's CPU queue full waits in its buffer
            has = has & ~((target == LOCAL) & self.local.full)
        task = self.buffer.take(slot, has)
        offload = has & (target >= 0)
        b_idx = np.nonzero(has)[0]
        tally.add("energy_tasks", b_idx)
        if self.multi:
            self._decide_devices(task, has, offload, target, alpha, power, t0, tally)
        else:
            reject = has & (target == REJECT)
            bb, aa = np.nonzero(reject)
            tally.reject(bb, task["priority"][bb, aa])
            fwd = has & (target >= 0)
            here = np.arange(s.servers)[None, :]
            start = np.maximum(t0, task["ready"])
            transfer = np.where(target == here, 0.0,
                                task["bits"] / s.backhaul_bps + s.backhaul_latency_s)
            self._admit(fwd, target, start + transfer, task["cycles"], task, -1, tally,
                        server_energy=True)
            offload = fwd & (target != here)
        return has.astype(np.float64), offload.astype(np.float64)

    def _decide_devices(self, task: dict[str, np.ndarray], has: np.ndarray, offload: np.ndarray,
                        target: np.ndarray, alpha: np.ndarray, power: np.ndarray, t0: float,
                        tally: StepTally) -> None:
        s = self.s
        # uploads in progress share each server's cell with the new ones
        rate = self.radio.rates(np.where(offload, target, -1), power, self._gains,
                                self._uploads_active(t0),
                                active=(self.up_free > t0) & (self.up_server >= 0))
        up_bits = alpha * task["bits"]
        start = np.maximum(t0, self.up_free)
        tx = np.where(offload, models.tx_time(up_bits, np.where(offload, rate, 1.0)), 0.0)
        arrival = start + tx
        # the local part and local-only tasks take a CPU slot (the actions need a free one)
        local_part = has & (alpha < 1.0)
        accepted = self._admit(offload, target, arrival, alpha * task["cycles"], task,
                               np.where(local_part, self.local.valid.argmin(-1), -1), tally)
        go_up = offload & accepted
        go_local = local_part & (~offload | accepted)
        local_s = (1.0 - alpha) * task["cycles"] / s.f_local_hz
        finish = np.maximum(t0, self.local_free) + local_s
        self.local_free = np.where(go_local, finish, self.local_free)
        self.local.push(go_local, {
            "created": task["created"], "deadline": task["deadline"],
            "priority": task["priority"], "local_finish": finish,
            "remote_finish": np.where(go_up, np.inf, -np.inf), "lost": 0.0})
        self.up_free = np.where(go_up, arrival, self.up_free)
        self.up_server = np.where(go_up, target, self.up_server)
        energy = np.where(go_local, models.local_energy((1 - alpha) * task["cycles"], s.f_local_hz,
                                                       s.kappa), 0.0)
        # every attempted upload was sent, the refused ones too (their server said no at the
        # end), until it ended or its device gave up (task_timeout_s after the deadline)
        air = np.minimum(tx, np.maximum(task["deadline"] + s.task_timeout_s - start, 0.0))
        energy += np.where(offload, power * air, 0.0)
        bb, nn = np.nonzero(has)
        tally.add("energy_j", bb, energy[bb, nn])
        bb, nn = np.nonzero(go_up)
        tally.add("uploads", bb)
        tally.add("outages", bb, (rate[bb, nn] < s.outage_rate_bps).astype(float))

    def _uploads_active(self, t: float) -> np.ndarray:
        """``[B, K]`` uploads still in progress at ``t`` to each server (they share its cell)."""
        return uploads_per_server((self.up_free > t) & (self.up_server >= 0), self.up_server,
                                  self.s.servers)

    def _admit(self, mask: np.ndarray, target: np.ndarray, arrival: np.ndarray,
               work: np.ndarray, task: dict[str, np.ndarray], link: np.ndarray | int,
               tally: StepTally, server_energy: bool = False) -> np.ndarray:
        """Offer the tasks of ``mask [B, A]`` to their servers, most urgent priority first;
        the refused ones (no slot, memory or server, or an arrival after the deadline) are
        rejected. Returns the accepted mask ``[B, A]``."""
        # a task whose upload or transfer alone ends after its deadline cannot finish: refused
        bb, aa = np.nonzero(mask & (arrival > task["deadline"]))
        tally.reject(bb, task["priority"][bb, aa])
        mask = mask & (arrival <= task["deadline"])
        bb, aa = np.nonzero(mask)
        order = np.argsort(-task["priority"][bb, aa], kind="stable")
        bb, aa = bb[order], aa[order]
        link_arr = np.broadcast_to(np.asarray(link, np.float64), mask.shape)
        origin = task["origin"] if not self.multi else np.broadcast_to(
            np.arange(mask.shape[1], dtype=np.float64), mask.shape)
        attrs = {"created": task["created"][bb, aa], "deadline": task["deadline"][bb, aa],
                 "priority": task["priority"][bb, aa], "origin": origin[bb, aa],
                 "link": link_arr[bb, aa], "cycles": work[bb, aa]}
        ok = self.queues.admit(bb, target[bb, aa], arrival[bb, aa], work[bb, aa],
                               task["memory"][bb, aa], attrs)
        accepted = np.zeros(mask.shape, bool)
        accepted[bb[ok], aa[ok]] = True
        tally.reject(bb[~ok], attrs["priority"][~ok])
        if server_energy and self.s.server_energy:
            f = self.queues.speed[bb[ok], target[bb[ok], aa[ok]]]
            tally.add("energy_j", bb[ok], self.s.kappa_server * f**2 * work[bb[ok], aa[ok]])
        return accepted

    # ------------------------------------------------------------------ completions
    def _remote_done(self, dep: Departed, tally: StepTally) -> None:
        full = dep.attrs["link"] < 0
        dev = dep.attrs["origin"].astype(np.int64)
        tally.complete(dep.b[full], dep.time[full], dep.attrs["created"][full],
                       dep.attrs["deadline"][full], dep.attrs["priority"][full])
        update_aoi(self.newest, dep.b[full], dev[full], dep.time[full],
                   dep.attrs["created"][full], tally)
        part = ~full
        self.local.f["remote_finish"][dep.b[part], dev[part],
                                      dep.attrs["link"][part].astype(np.int64)] = dep.time[part]

    def _remote_lost(self, dep: Departed, tally: StepTally) -> None:
        """Server tasks lost (failure) or dropped (deadline): whole tasks are dropped here,
        partial ones when their device's part resolves."""
        full = dep.attrs["link"] < 0
        tally.drop(dep.b[full], dep.attrs["priority"][full])
        part = ~full
        dev = dep.attrs["origin"].astype(np.int64)
        self.local.f["lost"][dep.b[part], dev[part], dep.attrs["link"][part].astype(np.int64)] = 1.0

    def _resolve_local(self, t1: float, tally: StepTally) -> None:
        loc = self.local
        lost = loc.valid & (loc.f["lost"] > 0)
        out = loc.remove(lost)
        tally.drop(out["b"], out["priority"])
        done_at = loc.done_at
        out = loc.remove(loc.valid & (done_at <= t1))
        if out["b"].size:
            t = np.maximum(out["local_finish"], out["remote_finish"])
            tally.complete(out["b"], t, out["created"], out["deadline"], out["priority"])
            update_aoi(self.newest, out["b"], out["a"], t, out["created"], tally)
        if self.s.drop_late:
            out = loc.remove(loc.valid & (loc.f["deadline"] < t1))
            tally.drop(out["b"], out["priority"])

    # ------------------------------------------------------------------ arrivals, failures
    def _arrivals(self, t0: float, tally: StepTally) -> None:
        s = self.s
        new = self.tasks.sample(max(t0, 0.0), s.devices)
        b, n, m = new.valid.shape
        created = t0 + new.offset_s
        tally.add("arrived", np.repeat(np.arange(b), n * m)[new.valid.ravel()])
        if self.multi:
            for j in range(m):
                ok, _ = self.buffer.push(new.valid[..., j], {
                    "created": created[..., j], "deadline": created[..., j] + new.deadline_s[..., j],
                    "priority": new.priority[..., j], "bits": new.bits[..., j],
                    "cycles": new.cycles[..., j], "memory": new.memory_gb[..., j],
                    "ready": created[..., j], "origin": 0.0})
                bb, nn = np.nonzero(new.valid[..., j] & ~ok)
                tally.reject(bb, new.priority[bb, nn, j])
            return
        # aiot: each device uploads to its nearest node that is up, sharing its cell
        up = self.queues.up
        gains = np.where(up[:, None, :], self._gains, -np.inf)
        node = gains.argmax(-1)
        none_up = ~up.any(-1)
        p = float(models.dbm_to_w(s.device_tx_power_dbm))
        for j in range(m):
            v = new.valid[..., j]
            rate = self.radio.rates(np.where(v, node, -1), p, self._gains)
            tx = models.tx_time(new.bits[..., j], rate)
            ready = created[..., j] + tx
            lost = v & none_up[:, None]
            bb, nn = np.nonzero(lost)
            tally.reject(bb, new.priority[bb, nn, j])
            send = v & ~lost
            # one task per node per push: devices of a node go in turn
            bb, nn = np.nonzero(send)
            tally.add("uploads", bb)
            tally.add("outages", bb, (rate[bb, nn] < s.outage_rate_bps).astype(float))
            tally.add("energy_j", bb, p * tx[bb, nn])
            self._push_to_nodes(send, node, created[..., j], new, j, ready, tally)

    def _push_to_nodes(self, send: np.ndarray, node: np.ndarray, created: np.ndarray, new: Any,
                       j: int, ready: np.ndarray, tally: StepTally) -> None:
        """Put devices' tasks ``[B, N]`` into their nodes' buffers (full: rejected)."""
        b, n = send.shape
        k = self.s.servers
        remaining = send.copy()
        while remaining.any():
            # the first remaining device of each node this round
            key = np.where(remaining, node, k)
            first = np.zeros((b, k + 1), np.int64) + n
            rows = np.repeat(np.arange(b), n)
            np.minimum.at(first, (rows, key.ravel()), np.tile(np.arange(n), b))
            first = first[:, :k]
            has = first < n
            dev = np.minimum(first, n - 1)
            vals = {
                "created": np.take_along_axis(created, dev, 1),
                "deadline": np.take_along_axis(created + new.deadline_s[..., j], dev, 1),
                "priority": np.take_along_axis(new.priority[..., j], dev, 1),
                "bits": np.take_along_axis(new.bits[..., j], dev, 1),
                "cycles": np.take_along_axis(new.cycles[..., j], dev, 1),
                "memory": np.take_along_axis(new.memory_gb[..., j], dev, 1),
                "ready": np.take_along_axis(ready, dev, 1), "origin": dev.astype(np.float64)}
            ok, _ = self.buffer.push(has, vals)
            bb, kk = np.nonzero(has & ~ok)
            tally.reject(bb, vals["priority"][bb, kk])
            bb, kk = np.nonzero(has)
            remaining[bb, dev[bb, kk]] = False

    def _fail(self, now: float, tally: StepTally) -> None:
        up, failed = self.failures.step()
        self.queues.up = up
        if not failed.any():
            return
        lose = self.s.on_failure == "lose"
        self._remote_lost(self.queues.fail(failed, now, lose), tally)
        if not self.multi and lose:  # the node's waiting tasks go down with it
            out = self.buffer.remove(self.buffer.valid & failed[..., None])
            tally.drop(out["b"], out["priority"])

    # ------------------------------------------------------------------ outputs
    def _aoi(self) -> np.ndarray:
        return self.t - self.newest

    def view(self) -> dict[str, np.ndarray]:
        """What the agents and the rules may know now (``info["mec"]``)."""
        s, q = self.s, self.queues
        has, slot = self._head
        b, a = slot.shape
        flat = (np.arange(b * a) * self.buffer.valid.shape[-1] + slot.ravel())
        head = {name: v.reshape(-1)[flat].reshape(b, a) for name, v in self.buffer.f.items()}
        v = {"has": has, "bits": head["bits"], "cycles": head["cycles"],
             "priority": head["priority"], "memory": head["memory"],
             "slack_s": np.where(has, head["deadline"] - self.t, 0.0),
             "ready_s": np.where(has, np.maximum(head["ready"] - self.t, 0.0), 0.0),
             "server_backlog_s": q.backlog_s(), "server_speed": q.speed, "up": q.up.copy(),
             "server_mem_used": q.mem_used(), "server_mem_cap": q.mem_cap,
             "server_free_slots": (~q.valid).sum(-1), "aoi_s": self._aoi(), "t": self.t}
        if self.multi:
            load = self._uploads_active(self.t)
            v.update({"local_wait_s": np.maximum(self.local_free - self.t, 0.0),
                      "uplink_wait_s": np.maximum(self.up_free - self.t, 0.0),
                      "local_full": self.local.full, "gains": self._gains,
                      "uploads_active": load,
                      "snr_full": outputs.snr_full(s, self._gains, load,
                                                   self.radio.interference_w)})
        return v

    def _observe(self, cls: type, info: dict[str, Any], **extra: Any) -> Any:
        s = self.s
        self._head = self.buffer.head(self.t, s.prioritisation, s.priority_weights,
                                      observation.scales(s)["cycles"])
        view = self.view()
        self._avail = outputs.avail_actions(self.table, view, self.multi)
        obs, state = observation.build(s, view)
        info = {"kpis": np.zeros((self.num_envs, self.spec.n_agents, 3), np.float32),
                "global_kpis": np.zeros((self.num_envs, len(MEC_GLOBAL_KPI_NAMES)), np.float32),
                **info, "mec": view}
        return cls(obs=obs, state=state, avail_actions=self._avail.copy(), info=info, **extra)
