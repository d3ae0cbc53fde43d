"""How spread out a policy's discrete actions are: counts per action, their entropy and the
share away from the most frequent one. Shared by the learners' logs and the evaluations'
diagnostics (a policy that holds one action shows 0 bits and 0 off-modal)."""

from __future__ import annotations

import numpy as np


def action_counts(actions: np.ndarray, choice: np.ndarray, n_actions: int) -> np.ndarray:
    """``[B, N, A]`` how often each agent took each action in ``actions [B, T, N]``, over the
    windows of ``choice [B, T, N]`` (where the agent had a choice)."""
    b, _, n = actions.shape
    counts = np.zeros((b, n, n_actions))
    bb, tt, nn = np.nonzero(choice)
    np.add.at(counts, (bb, nn, actions[bb, tt, nn].astype(np.int64)), 1.0)
    return counts


def spread(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(entropy bits, off-modal share)`` of ``counts [..., A]`` (nan where nothing counts)."""
    total = counts.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = counts / total[..., None]
        ent = -np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0).sum(-1)
        off = 1.0 - counts.max(-1) / total
    none = total == 0
    return np.where(none, np.nan, ent + 0.0), np.where(none, np.nan, off)
