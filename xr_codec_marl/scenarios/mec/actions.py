"""The agents' action spaces of the two presets, as tables the twin and the rules index.

``multi-mec`` (device agents, seed 001): action 0 runs the pending task locally; action
``1 + (k·F + f)·P + p`` offloads fraction ``offload_fractions[f]`` of it to server ``k`` at
transmit power ``tx_power_dbm[p]`` (the rest runs locally at the same time). That is the
discrete product of seed 001's three choices; :func:`hybrid_space` is the same decision with
the fraction and the power continuous, for the policy-gradient learners.

``aiot`` (edge-node agents, seed 000): action ``j < K`` runs the pending task on node ``j``
(``j`` = the agent itself: run it here; otherwise forward it over the backhaul); action ``K``
rejects it — 26 actions with 25 nodes, as the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xr_codec_marl.core.spaces import ContinuousDim, DiscreteSpace, HybridSpace
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
