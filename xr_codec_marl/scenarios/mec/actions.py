"""The agents' action spaces of the two presets, as tables the twin and the rules index.

``multi-mec`` (device agents, seed 001): action 0 runs the pending task locally; action
``1 + (k·F + f)·P + p`` offloads fraction ``offload_fractions[f]`` of it to server ``k`` at
transmit power ``tx_power_dbm[p]`` (the rest runs locally at the same time). That is the
discrete product of seed 001's three choices; :func:`hybrid_space` is the same decision with
the fraction and the power continuous, for the policy-gradient learners (``actions =
"hybrid"``): :func:`head_table` is its target head as a table (what availability is computed
on), :func:`decode_hybrid` turns head and values into target, fraction and power, and
:func:`to_hybrid` turns a discrete-table choice (a rule's) into hybrid actions.

``aiot`` (edge-node agents, seed 000): action ``j < K`` runs the pending task on node ``j``
(``j`` = the agent itself: run it here; otherwise forward it over the backhaul); action ``K``
rejects it — 26 actions with 25 nodes, as the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xr_codec_marl.core.spaces import ContinuousDim, DiscreteSpace, HybridSpace
from xr_codec_marl.core.api import HybridActions
from xr_codec_marl.scenarios.mec.models import dbm_to_w
from xr_codec_marl.scenarios.mec.settings import MECSettings

LOCAL = -1  #: target of running on the device itself
REJECT = -2  #: target of rejecting the task


@dataclass(frozen=True)
class ActionTable:
    """Per action index: the target (server/node, :data:`LOCAL` or :data:`REJECT`), the
    offloaded fraction and the transmit power (W); labels for plots and explanations."""

    target: np.ndarray  # int64 [n]
    alpha: np.ndarray  # float64 [n]
    power_w: np.ndarray  # float64 [n]
    labels: tuple[str, ...]

    @property
    def n(self) -> int:
        return int(self.target.size)


def action_table(s: MECSettings) -> ActionTable:
    """The action table of the settings' preset."""
    if s.preset == "aiot":
        k = s.servers
        target = np.r_[np.arange(k), REJECT]
        labels = tuple(f"n{j}" for j in range(k)) + ("reject",)
        return ActionTable(target.astype(np.int64), np.r_[np.ones(k), 0.0], np.zeros(k + 1), labels)
    target, alpha, power, labels = [LOCAL], [0.0], [0.0], ["local"]
    for k in range(s.servers):
        for a in s.offload_fractions:
            for p in s.tx_power_dbm:
                target.append(k)
                alpha.append(a)
                power.append(float(dbm_to_w(p)))
                labels.append(f"s{k} a{a:g} {p:g}dBm")
    return ActionTable(np.asarray(target, np.int64), np.asarray(alpha), np.asarray(power),
                       tuple(labels))


def discrete_space(s: MECSettings) -> DiscreteSpace:
    """The default, discrete form (what the value learners take); unordered."""
    t = action_table(s)
    return DiscreteSpace(t.n, labels=t.labels, name="target" if s.preset == "aiot" else "action")


def hybrid_space(s: MECSettings) -> HybridSpace:
    """``multi-mec`` with continuous fraction and power: a target head (local or server k)
    plus ``alpha`` in [0, 1] and ``power_dbm`` in the power levels' range."""
    head = DiscreteSpace(s.servers + 1, labels=("local", *(f"s{k}" for k in range(s.servers))),
                         name="target")
    lo, hi = min(s.tx_power_dbm), max(s.tx_power_dbm)
    return HybridSpace((head,), (ContinuousDim("alpha", 0.0, 1.0),
                                 ContinuousDim("power_dbm", lo, hi, "dBm")))


def head_table(s: MECSettings) -> ActionTable:
    """The hybrid space's target head as a table: local, or a full offload to server k at the
    highest power (what a server head can always do, even with the device's CPU queue full)."""
    k = s.servers
    top = float(dbm_to_w(max(s.tx_power_dbm)))
    return ActionTable(np.r_[LOCAL, np.arange(k)].astype(np.int64), np.r_[0.0, np.ones(k)],
                       np.r_[0.0, np.full(k, top)], hybrid_space(s).heads[0].labels)


def decode_hybrid(s: MECSettings, head: np.ndarray, values: np.ndarray,
                  local_full: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(target, alpha, power_w)`` ``[B, N]`` of the target head ``[B, N]`` and the values
    ``[B, N, 2]`` (fraction, power in dBm). With the device's CPU queue full a server head
    offloads all of the task (a partial one needs a local slot); a fraction of 0 runs it
    locally."""
    target = np.where(head == 0, LOCAL, head - 1)
    alpha = np.clip(values[..., 0], 0.0, 1.0)
    alpha = np.where(local_full & (target >= 0), 1.0, alpha)
    offload = (target >= 0) & (alpha > 0.0)
    lo, hi = min(s.tx_power_dbm), max(s.tx_power_dbm)
    power = dbm_to_w(np.clip(values[..., 1], lo, hi))
    return (np.where(offload, target, LOCAL).astype(np.int64), np.where(offload, alpha, 0.0),
            np.where(offload, power, 0.0))


def to_hybrid(s: MECSettings, table: ActionTable, index: np.ndarray) -> HybridActions:
    """The hybrid actions that do what the discrete-table actions ``index [B, N]`` do."""
    target = table.target[index]
    lo, hi = min(s.tx_power_dbm), max(s.tx_power_dbm)
    with np.errstate(divide="ignore"):
        dbm = np.where(target >= 0, 10.0 * np.log10(np.maximum(table.power_w[index], 1e-30)) + 30.0,
                       lo)
    values = np.stack([table.alpha[index], np.clip(dbm, lo, hi)], axis=-1)
    return HybridActions(np.where(target >= 0, target + 1, 0).astype(np.int64), values)
