"""The rule baselines MEC users expect (REFERENCE.md §7), for both presets.

Each rule reads the twin's view (``step.info["mec"]``: the pending tasks, the servers'
backlogs, speeds, memory and state, the devices' channel gains and queues) and estimates,
for every action, the completion time ``T`` (``max`` of the local part and upload + backlog
+ edge work) and the devices' energy ``E`` (:func:`estimates`). Then:

- ``local``: run every task where it is (device CPU; in ``aiot`` the node itself);
- ``round-robin``: full offload to servers in turn (``aiot``: forward in turn);
- ``nearest``: full offload at full power to the best-channel server that is up (``aiot``:
  the node itself, which is the devices' nearest);
- ``least-loaded``: join the shortest queue: agents in turn fully offload to the up server
  of least backlog (counting the load assigned before them) among those that can finish
  the task in time without waiting;
- ``greedy``: the action of least estimated completion time; an ``aiot`` node rejects a task
  no node can finish in time (admission control);
- ``min-energy``: the least-energy action that meets the deadline (else the fastest);
- ``balanced``: ``multi-mec`` only: per server the fraction nearest α* = t_l / (t_l + t_o)
  (both parts finish together), then the server of least completion time;
- ``vcg``: seed 000's auction: tasks bid priority / slack; in bid order each wins the
  option of least completion time given the load won before it (greedy winner
  determination of the welfare-maximising VCG allocation; payments are not needed for it).

The generic ``random`` and ``fixed:K`` rules come from the registry.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np

from xr_codec_marl.core.api import EnvSpec, HybridActions, Observation
from xr_codec_marl.scenarios.mec import models
from xr_codec_marl.scenarios.mec.actions import (
    LOCAL,
    REJECT,
    ActionTable,
    action_table,
    to_hybrid,
)
from xr_codec_marl.scenarios.mec.outputs import avail_actions
from xr_codec_marl.scenarios.mec.settings import MECSettings


def settings_of(spec: EnvSpec) -> MECSettings:
    """The MEC settings a spec was made from (``spec.extra["settings"]``)."""
    raw = dict(spec.extra.get("settings", {}))
    if not raw:
        raise ValueError(f"environment {spec.name!r} carries no MEC settings: not a mec env")
    names = {f.name for f in fields(MECSettings)}
    return MECSettings(**{k: tuple(v) if isinstance(v, list) else v
                          for k, v in raw.items() if k in names})


def estimates(view: dict[str, Any], table: ActionTable, s: MECSettings,
              backlog: np.ndarray | None = None,
              uploads: np.ndarray | None = None,
              agent_index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimated completion time ``T``, device energy ``E`` and feasibility (the server is
    up and has a slot and the memory) of every action, ``[B, A, n]`` each. ``backlog`` and
    ``uploads`` (``[B, K]``) override the view's (the auction adds the load it allocates);
    ``agent_index [B, A]`` says which node each row is in ``aiot`` (default: row order)."""
    backlog = view["server_backlog_s"] if backlog is None else backlog
    target = table.target[None, None, :]
    k = np.maximum(target, 0)
    b, a = view["has"].shape
    kk = np.broadcast_to(k, (b, a, table.n))

    def per_server(x: np.ndarray) -> np.ndarray:  # [B, K] -> [B, A, n]
        return np.take_along_axis(np.broadcast_to(x[:, None, :], (b, a, x.shape[1])), kk, -1)

    speed = per_server(view["server_speed"])
    wait = per_server(backlog)
    room = per_server(view["up"] & (view["server_free_slots"] > 0)) & (
        per_server(view["server_mem_cap"] - view["server_mem_used"]) >= view["memory"][..., None])
    c, d = view["cycles"][..., None], view["bits"][..., None]
    if s.preset == "aiot":
        me = np.arange(a)[None, :] if agent_index is None else agent_index
        here = me[..., None] == target
        transfer = np.where(here, 0.0, d / s.backhaul_bps + s.backhaul_latency_s)
        t = view["ready_s"][..., None] + transfer + wait + c / speed
        e = np.where(target >= 0, s.kappa_server * speed**2 * c if s.server_energy else 0.0, 0.0)
        t = np.where(target == REJECT, np.inf, t)
        return t, e, np.where(target >= 0, room, True)
    alpha = table.alpha[None, None, :]
    power = table.power_w[None, None, :]
    load = view["uploads_active"] if uploads is None else uploads
    share = s.bandwidth_hz / (per_server(load) + 1.0)
    gain = np.take_along_axis(view["gains"], kk, -1)
    interference = float(models.dbm_to_w(s.interference_dbm))
    rate = models.uplink_rate(share, power, gain, s.noise_figure_db, interference)
    tx = np.where(target >= 0, models.tx_time(alpha * d, np.where(target >= 0, rate, 1.0)), 0.0)
    local_s = view["local_wait_s"][..., None] + (1 - alpha) * c / s.f_local_hz
    remote = view["uplink_wait_s"][..., None] + tx + wait + alpha * c / speed
    t = np.where(target == LOCAL, view["local_wait_s"][..., None] + c / s.f_local_hz,
                 np.maximum(np.where(alpha < 1, local_s, 0.0), remote))
    e = models.local_energy((1 - alpha) * c, s.f_local_hz, s.kappa) + power * tx
    return t, e, np.where(target >= 0, room, True)


class MECRule:
    """Base of the MEC rules: settings, action table, and ``act`` = :meth:`choose` of the
    pending agents (action 0, a no-op, for the others)."""

    name = "rule"
    presets: tuple[str, ...] = ("multi-mec", "aiot")

    def __init__(self, spec: EnvSpec) -> None:
        self.spec = spec
        self.s = settings_of(spec)
        if self.s.preset not in self.presets:
            raise ValueError(f"rule {self.name!r} applies to preset(s) "
                             f"{', '.join(self.presets)}, not {self.s.preset!r}")
        self.table = action_table(self.s)
        self.t = 0

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        self.t = 0

    def act(self, step: Observation, explore: bool = False) -> np.ndarray | HybridActions:
        """The rule's choice per agent; with hybrid actions (``actions = "hybrid"``) the rule
        chooses in the discrete table and hands over the same decision as hybrid actions."""
        view = step.info.get("mec")
        if view is None:
            raise ValueError(f"rule {self.name!r} needs the MEC view (info['mec']) of the "
                             "analytic twin")
        hybrid = self.s.actions == "hybrid"
        avail = (avail_actions(self.table, view, self.s.preset == "multi-mec") if hybrid
                 else np.asarray(step.avail_actions, bool))
        choice = self.choose(view, avail)
        self.t += 1
        ok = np.take_along_axis(avail, choice[..., None], -1)[..., 0]
        # a choice that is not available falls back to what always is: local (multi-mec) or
        # reject (aiot); an agent without a task takes the no-op 0
        fallback = self.table.n - 1 if self.s.preset == "aiot" else 0
        out = np.where(view["has"], np.where(ok, choice, fallback), 0).astype(np.int64)
        return to_hybrid(self.s, self.table, out) if hybrid else out

    def choose(self, view: dict[str, Any], avail: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # helpers
    def _argmin(self, cost: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        return np.where(allowed, cost, np.inf).argmin(-1)

    def _full_offload(self, server: np.ndarray, avail: np.ndarray) -> np.ndarray:
        """The index of full offload at the highest power to ``server [B, A]``; the agent's
        first available action where that is not available (e.g. the server is down)."""
        if self.s.preset == "aiot":
            idx = server
        else:
            t = self.table
            power_rank = t.power_w == t.power_w[t.target >= 0].max()
            hit = (t.target[None, None, :] == server[..., None]) & (t.alpha == 1.0) & power_rank
            idx = hit.argmax(-1)
        ok = np.take_along_axis(avail, idx[..., None], -1)[..., 0]
        return np.where(ok, idx, avail.argmax(-1))

    def _local(self, avail: np.ndarray) -> np.ndarray:
        """Run every task where it is: the device's CPU, or in ``aiot`` the node itself."""
        if self.s.preset == "aiot":
            return self._full_offload(np.broadcast_to(np.arange(avail.shape[1]), avail.shape[:2]),
                                      avail)
        return np.zeros(avail.shape[:2], np.int64)

    def _nearest(self, view: dict[str, Any], avail: np.ndarray) -> np.ndarray:
        """Full offload at full power to the best-channel server that is up (``aiot``: the
        node holding the task, which is its devices' nearest)."""
        if self.s.preset == "aiot":
            return self._local(avail)
        gains = np.where(view["up"][:, None, :], view["gains"], -np.inf)
        return self._full_offload(gains.argmax(-1), avail)


class LocalRule(MECRule):
    name = "local"

    def choose(self, view: dict[str, Any], avail: np.ndarray) -> np.ndarray:
        return self._local(avail)


class RoundRobinRule(MECRule):
    name = "round-robin"

    def choose(self, view: dict[str, Any], avail: np.ndarray) -> np.ndarray:
        b, a = avail.shape[:2]
        k = self.s.servers
        up = view["up"]
        # the (i + t)-th server that is up, for agent i at step t
        order = (np.arange(a)[None, :] + self.t) % k
        cand = (order[..., None] + np.arange(k)) % k  # [1, A, K] next servers in turn
        cand = np.broadcast_to(cand, (b, a, k))
        ok = np.take_along_axis(np.broadcast_to(up[:, None, :], (b, a, k)), cand, -1)
        server = np.take_along_axis(cand, ok.argmax(-1)[..., None], -1)[..., 0]
        return self._full_offload(server, avail)


class NearestRule(MECRule):
    name = "nearest"

    def choose(self, view: dict[str, Any], avail: np.ndarray) -> np.ndarray:
        return self._nearest(view, avail)


class LeastLoadedRule(MECRule):
    """Join the shortest queue: each agent in turn (the load it adds counts for the next)
    fully offloads to the up server of least backlog among those its task can reach in time
    (the upload and the work alone fit the deadline); the nearest when none can."""

    name = "least-loaded"

    def choose(self, view: dict[str, Any], avail: np.ndarray) -> np.ndarray:
        tab = self.table
        backlog = view["server_backlog_s"].copy()
        rows = np.arange(avail.shape[0])
        full = (tab.target >= 0) & (tab.alpha == 1.0) & (tab.power_w == tab.power_w.max())
        fallback = self._nearest(view, avail)
        pick = fallback.copy()
        # which servers each task can reach in time does not depend on the queues: once
        t0, _, feasible = estimates(view, tab, self.s, np.zeros_like(backlog))
        reach_all = avail & feasible & full & (t0 <= view["slack_s"][..., None])
        for i in np.flatnonzero(view["has"].any(0)):  # agents with a task in some env
            reach = reach_all[:, i]
            cost = np.where(reach, backlog[:, np.maximum(tab.target, 0)], np.inf)
            choice = cost.argmin(-1)
            ok = np.isfinite(cost[rows, choice])
            pick[:, i] = np.where(ok, choice, fallback[:, i])
            k = tab.target[pick[:, i]]
            won = view["has"][:, i] & (k >= 0)
            kk = np.maximum(k, 0)
            backlog[rows[won], kk[won]] += view["cycles"][rows[won], i] / view["server_speed"][rows[won], kk[won]]
        return pick


class GreedyRule(MECRule):
    """Least estimated completion time; in ``aiot`` reject what no node finishes in time."""

    name = "greedy"

    def choose(self, view: dict[str, Any], avail: np.ndarray) -> np.ndarray:
        t, _, feasible = estimates(view, self.table, self.s)
        allowed = avail & feasible
        pick = self._argmin(t, allowed)
        if self.s.preset == "aiot":
            best = np.take_along_axis(np.where(allowed, t, np.inf), pick[..., None], -1)[..., 0]
            late = ~np.isfinite(best) | (best > view["slack_s"])
            pick = np.where(late, self.table.n - 1, pick)  # the reject action
        return pick


class MinEnergyRule(MECRule):
    """Least device energy among actions that meet the deadline; else the fastest."""

    name = "min-energy"

    def choose(self, view: dict[str, Any], avail: np.ndarray) -> np.ndarray:
        t, e, feasible = estimates(view, self.table, self.s)
        allowed = avail & feasible & (self.table.target[None, None, :] != REJECT)
        in_time = allowed & (t <= view["slack_s"][..., None])
        pick = self._argmin(e + 1e-9 * t, in_time)
        fastest = self._argmin(t, allowed)
        if self.s.preset == "aiot":  # no node can take it: reject
            fastest = np.where(allowed.any(-1), fastest, self.table.n - 1)
        return np.where(in_time.any(-1), pick, fastest)


class BalancedRule(MECRule):
    """Partial offloading: per server the fraction nearest α* = t_l / (t_l + t_o)."""

    name = "balanced"
    presets = ("multi-mec",)

    def choose(self, view: dict[str, Any], avail: np.ndarray) -> np.ndarray:
        tab = self.table
        t, _, feasible = estimates(view, tab, self.s)
        full = (tab.alpha == 1.0) & (tab.power_w == tab.power_w.max())
        # t_o per server: full-offload time at full power; t_l: all-local time
        t_local = t[..., 0]
        t_off = np.where(full[None, None, :], t, np.inf)  # [B, A, n]
        with np.errstate(invalid="ignore"):  # inf / inf where a server is out of reach
            alpha_star = np.nan_to_num(models.balanced_split(t_local[..., None], t_off))
        k_of = tab.target
        star = np.full(t.shape[:2] + (self.s.servers,), 0.0)
        idx = np.flatnonzero(full)
        star[..., k_of[idx]] = alpha_star[..., idx]
        want = np.take_along_axis(star, np.broadcast_to(np.maximum(k_of, 0), t.shape), -1)
        levels = np.asarray(self.s.offload_fractions)
        nearest = levels[np.abs(levels[:, None, None, None] - want[None]).argmin(0)]
        candidate = (k_of >= 0) & (tab.power_w == tab.power_w.max())
        candidate = candidate[None, None, :] & np.isclose(tab.alpha[None, None, :], nearest)
        allowed = avail & feasible & (candidate | (k_of == LOCAL)[None, None, :])
        return self._argmin(t, allowed)


class VCGRule(MECRule):
    """Seed 000's auction: tasks in order of bid (priority / slack) win the option of least
    completion time given the load allocated before them."""

    name = "vcg"

    def choose(self, view: dict[str, Any], avail: np.ndarray) -> np.ndarray:
        b, a = avail.shape[:2]
        backlog = view["server_backlog_s"].copy()
        uploads = view.get("uploads_active")
        uploads = None if uploads is None else uploads.copy()
        bid = np.where(view["has"], view["priority"] / np.maximum(view["slack_s"], 1e-3), -np.inf)
        order = np.argsort(-bid, axis=1, kind="stable")  # [B, A]
        pick = np.zeros((b, a), np.int64)
        rows = np.arange(b)
        tab = self.table
        for r in range(int(view["has"].sum(1).max(initial=0))):  # pending agents sort first
            i = order[:, r]
            t, _, feasible = estimates(_agents(view, i), tab, self.s, backlog, uploads, i[:, None])
            allowed = avail[rows, i][:, None] & feasible
            choice = self._argmin(t, allowed)[:, 0]
            best = np.where(allowed, t, np.inf)[rows, 0, choice]
            if self.s.preset == "aiot":
                choice = np.where(~np.isfinite(best) | (best > view["slack_s"][rows, i]),
                                  tab.n - 1, choice)
            pick[rows, i] = choice
            k = tab.target[choice]
            won = view["has"][rows, i] & (k >= 0)
            kk = np.maximum(k, 0)
            speed = view["server_speed"][rows, kk]
            work = tab.alpha[choice] * view["cycles"][rows, i]
            backlog[rows[won], kk[won]] += work[won] / speed[won]
            if uploads is not None:
                uploads[rows[won], kk[won]] += 1.0
        return pick


def _agents(view: dict[str, Any], i: np.ndarray) -> dict[str, Any]:
    """The view restricted to agent ``i[b]`` of each env (agent axis of size 1)."""
    rows = np.arange(i.size)
    out = dict(view)
    for key, v in view.items():
        if isinstance(v, np.ndarray) and v.ndim >= 2 and key in _PER_AGENT:
            out[key] = v[rows, i][:, None]
    return out


_PER_AGENT = ("has", "bits", "cycles", "priority", "memory", "slack_s", "ready_s", "local_wait_s",
              "uplink_wait_s", "local_full", "gains", "snr_full", "aoi_s")


RULES: dict[str, Any] = {cls.name: cls for cls in (
    LocalRule, RoundRobinRule, NearestRule, LeastLoadedRule, GreedyRule, MinEnergyRule,
    BalancedRule, VCGRule)}
