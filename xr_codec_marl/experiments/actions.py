"""Does a policy adapt? Diagnostics of the actions it took, per agent.

A policy that settles on one action looks, in KPI tables, like a tuned constant: these make
the difference visible. Counted over the windows in which the agent had a choice (more than
one available action) of measured, running episodes:

- ``histogram``: how often each action was taken;
- ``modal`` and ``off_modal``: the most frequent action and the share of windows away from it;
- ``entropy_bits``: the entropy of the histogram (0: one action always);
- ``changes``: the share of windows whose action differs from the agent's previous one;
- ``follows``: Spearman's rank correlation of the action with each per-agent KPI of the window
  before it (e.g. a rate vs buffer occupancy or loss): how the action tracks the state
  (None where either side is constant, or where the KPI only echoes the action taken).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xr_codec_marl.core.action_spread import action_counts, spread


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Rank correlation, or None when either side does not vary (or fewer than 3 pairs)."""
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None

    def ranks(v: np.ndarray) -> np.ndarray:
        order = v.argsort(kind="stable")
        r = np.empty(v.size)
        r[order] = np.arange(v.size)
        # ties share their mean rank
        _, inv, counts = np.unique(v, return_inverse=True, return_counts=True)
        sums = np.bincount(inv, weights=r)
        return (sums / counts)[inv]

    rx, ry = ranks(x), ranks(y)
    c = np.corrcoef(rx, ry)[0, 1]
    return None if np.isnan(c) else float(c)


def action_diagnostics(actions: np.ndarray, choice: np.ndarray, kpis: np.ndarray,
                       n_actions: int, agent_ids: tuple[str, ...],
                       kpi_names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Per agent, the diagnostics above from ``actions [T, B, N]`` (the discrete choice),
    ``choice [T, B, N]`` (the agent had a choice in a measured window) and the KPIs of each
    window ``kpis [T, B, N, K]`` (measured after the action of the same window)."""
    out: dict[str, dict[str, Any]] = {}
    t = actions.shape[0]
    # pooled over every episode: [N, A] counts, and their entropy and off-modal share
    counts = action_counts(actions.swapaxes(0, 1), choice.swapaxes(0, 1), n_actions).sum(0)
    entropy, off_modal = spread(counts)
    for i, agent in enumerate(agent_ids):
        a, m = actions[..., i], choice[..., i]
        hist = counts[i].astype(np.int64)
        total = int(hist.sum())
        if total == 0:
            out[agent] = {"windows": 0}
            continue
        modal = int(hist.argmax())
        # consecutive windows of one episode, both with a choice
        both = m[1:] & m[:-1] if t > 1 else np.zeros((0, *m.shape[1:]), bool)
        changed = (a[1:] != a[:-1])[both] if t > 1 else np.zeros(0, bool)
        follows = {}
        if t > 1:
            prev_kpis = kpis[:-1, :, i, :][both]  # [P, K] the window before each action
            now = a[1:][both].astype(np.float64)
            prev = a[:-1][both].astype(np.float64)
            for j, name in enumerate(kpi_names):
                x = prev_kpis[:, j].astype(np.float64)
                echo = _spearman(prev, x)
                # a KPI that only echoes the action taken (e.g. the rate it set) is no state
                follows[name] = None if echo is not None and abs(echo) > 0.99 else \
                    _spearman(now, x)
        out[agent] = {
            "windows": total,
            "histogram": [int(h) for h in hist],
            "modal": modal,
            "off_modal": float(off_modal[i]),
            "entropy_bits": float(entropy[i]),
            "changes": float(changed.mean()) if changed.size else 0.0,
            "follows": follows,
        }
    return out


def describe(diag: dict[str, dict[str, Any]], labels: dict[str, list[str]] | None = None) -> str:
    """One line per agent: modal action and share, entropy, changes, strongest follow."""
    lines = []
    for agent, d in diag.items():
        if not d.get("windows"):
            lines.append(f"{agent}: no window with a choice")
            continue
        modal = d["modal"]
        name = labels[agent][modal] if labels and agent in labels and labels[agent] else modal
        follows = {k: v for k, v in d["follows"].items() if v is not None}
        best = max(follows, key=lambda k: abs(follows[k]), default=None)
        tail = f", tracks {best} (ρ {follows[best]:+.2f})" if best else ""
        lines.append(f"{agent}: action {name} in {100 * (1 - d['off_modal']):.0f} % of "
                     f"{d['windows']} windows, entropy {d['entropy_bits']:.2f} bits, changes "
                     f"{100 * d['changes']:.0f} %{tail}")
    return "\n".join(lines)
