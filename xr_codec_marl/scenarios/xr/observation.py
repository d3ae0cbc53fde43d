"""Observations (eq. 13) and the global state, built from per-UE KPIs of a window.

Shared by every backend so that an agent trained on the analytic model sees exactly the same
features on ns-3. Inputs are per-UE KPI arrays ``[B, N]`` and the previous joint action
``[B, N]``; outputs are ``obs [B, N, N + 2]`` and ``state [B, 5 N]`` (float32).
"""

from __future__ import annotations

import numpy as np

#: Delay normaliser for the state (the worst Table I interval bound), ms.
DELAY_SCALE_MS = 20.0


def build_observation(
    prev_actions: np.ndarray,
    n_rates: int,
    buffer_ratio: np.ndarray,
    pdr: np.ndarray,
    delay_ms: np.ndarray,
    drr: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(obs, state)``.

    Agent n observes (eq. 13) the team's previous codec choices, each as a fraction of its
    range (action index / (K_o - 1)), its own RLC buffer occupancy ratio and its own PDR.
    The state adds every UE's delay (over 20 ms, clipped at 5) and data-rate ratio.
    """
    b, n = prev_actions.shape
    choice = prev_actions.astype(np.float32) / float(max(n_rates - 1, 1))
    obs = np.empty((b, n, n + 2), dtype=np.float32)
    obs[:, :, :n] = choice[:, None, :]
    obs[:, :, n] = buffer_ratio
    obs[:, :, n + 1] = pdr
    state = np.stack(
        [
            choice,
            np.asarray(buffer_ratio, np.float32),
            np.asarray(pdr, np.float32),
            np.clip(np.asarray(delay_ms, np.float32) / DELAY_SCALE_MS, 0.0, 5.0),
            np.clip(np.asarray(drr, np.float32), 0.0, 2.0),
        ],
        axis=-1,
    ).reshape(b, n * 5)
    return obs, state
