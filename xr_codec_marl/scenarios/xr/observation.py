"""Observations (eq. 13) and the global state, built from per-UE KPIs of a window.

Shared by every backend so that an agent trained on the analytic model sees exactly the same
features on ns-3. Inputs are per-UE KPI arrays ``[B, N]`` and the previous joint action
``[B, N]``; outputs are ``obs [B, N, N + 2]`` and ``state [B, 5 N]`` (float32), or with the
UEs' SINR (``observation="channel"``) ``obs [B, N, N + 3]`` and ``state [B, 6 N]``.
"""

from __future__ import annotations

import numpy as np

#: Delay normaliser for the state (the worst Table I interval bound), ms.
DELAY_SCALE_MS = 20.0
#: SINR normaliser, dB: 30 dB (the top of the CQI tables) maps to 1.
SINR_SCALE_DB = 30.0


def observation_sizes(n_agents: int, channel: bool) -> tuple[int, int]:
    """``(obs, state)`` sizes: eq. 13's N + 2 and 5 N, one more each per UE with its SINR."""
    extra = int(channel)
    return n_agents + 2 + extra, n_agents * (5 + extra)


def sinr_feature(sinr_db: np.ndarray) -> np.ndarray:
    """A UE's mean SINR as a feature of the same order as the others: dB / 30, clipped to
    [-1, 2] (outages below -30 dB and beam peaks above 60 dB say nothing more)."""
    return np.clip(np.asarray(sinr_db, np.float32) / SINR_SCALE_DB, -1.0, 2.0)


def rate_choice(rate_mbps: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """A codec rate ``[B, N]`` as a fraction of its user's range [d_min, d_max] (``low``,
    ``high`` ``[N]``): the continuous actions' counterpart of eq. 13's action index /
    (K_o - 1), equal to it at the rates of the table; 1 where the range is one rate."""
    rate = np.asarray(rate_mbps, np.float64)
    span = np.asarray(high, np.float64) - np.asarray(low, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(span > 0, (rate - low) / np.where(span > 0, span, 1.0), 1.0)
    return np.clip(frac, 0.0, 1.0).astype(np.float32)


def build_observation(
    prev_actions: np.ndarray,
    n_rates: int,
    buffer_ratio: np.ndarray,
    pdr: np.ndarray,
    delay_ms: np.ndarray,
    drr: np.ndarray,
    sinr_db: np.ndarray | None = None,
    prev_choice: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(obs, state)``.

    Agent n observes (eq. 13) the team's previous codec choices, each as a fraction of its
    range (action index / (K_o - 1)), its own RLC buffer occupancy ratio and its own PDR;
    given ``sinr_db``, also its own downlink SINR (:func:`sinr_feature`). The state adds every
    UE's delay (over 20 ms, clipped at 5) and data-rate ratio (and SINR, given it).
    ``prev_choice [B, N]``: those fractions given directly (continuous codec rates:
    :func:`rate_choice`), instead of ``prev_actions`` and ``n_rates``.
    """
    b, n = prev_actions.shape
    extra = 0 if sinr_db is None else 1
    choice = (prev_actions.astype(np.float32) / float(max(n_rates - 1, 1)) if prev_choice is None
              else np.asarray(prev_choice, np.float32))
    obs = np.empty((b, n, n + 2 + extra), dtype=np.float32)
    obs[:, :, :n] = choice[:, None, :]
    obs[:, :, n] = buffer_ratio
    obs[:, :, n + 1] = pdr
    columns = [
        choice,
        np.asarray(buffer_ratio, np.float32),
        np.asarray(pdr, np.float32),
        np.clip(np.asarray(delay_ms, np.float32) / DELAY_SCALE_MS, 0.0, 5.0),
        np.clip(np.asarray(drr, np.float32), 0.0, 2.0),
    ]
    if sinr_db is not None:
        obs[:, :, n + 2] = sinr_feature(sinr_db)
        columns.append(sinr_feature(sinr_db))
    state = np.stack(columns, axis=-1).reshape(b, n * len(columns))
    return obs, state
