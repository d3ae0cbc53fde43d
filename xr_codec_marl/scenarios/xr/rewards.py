"""Reward components, XR Quality Index and potential-based shaping (seed 002, Table I, eqs. 15-23).

This is the one definition of the reward maths: the analytic backend and the ns-3 backend
(which sends raw per-UE KPIs over the wire) both call these functions, so the two backends
cannot drift apart. All functions are vectorised numpy and broadcast over any leading dims.
"""

from __future__ import annotations

import numpy as np

#: Delay reward intervals (ms, upper bounds inclusive) and their values, eq. 15 / Table I.
DELAY_BOUNDS_MS = np.array([7.0, 10.0, 13.0, 20.0])
DELAY_VALUES = np.array([1.0, 0.75, 0.5, 0.25, 0.0])
#: PDR reward thresholds (lower bounds) and values, eq. 16.
PDR_BOUNDS = np.array([0.95, 0.99])
PDR_VALUES = np.array([0.0, 0.5, 1.0])


def delay_reward(delay_ms: np.ndarray) -> np.ndarray:
    """Eq. 15: 1 if d <= 7 ms, 0.75 if <= 10, 0.5 if <= 13, 0.25 if <= 20, else 0."""
    idx = np.searchsorted(DELAY_BOUNDS_MS, np.asarray(delay_ms, dtype=np.float64), side="left")
    return DELAY_VALUES[idx]


def pdr_reward(pdr: np.ndarray) -> np.ndarray:
    """Eq. 16: 1 if PDR >= 99 %, 0.5 if >= 95 %, else 0."""
    idx = np.searchsorted(PDR_BOUNDS, np.asarray(pdr, dtype=np.float64), side="right")
    return PDR_VALUES[idx]


def drr_reward(throughput_mbps: np.ndarray, max_rate_mbps: np.ndarray) -> np.ndarray:
    """Eq. 17: data-rate ratio, measured throughput over the agent's maximum codec rate."""
    return np.asarray(throughput_mbps, dtype=np.float64) / np.asarray(max_rate_mbps, dtype=np.float64)


def xr_quality_index(pdr: np.ndarray, delay_ms: np.ndarray) -> np.ndarray:
    """Table I: XQI 5 (PDR >= 99 %, PDB <= 7 ms), 4 (99 %, 10), 3 (95 %, 13), 2 (95 %, 20), else 1."""
    pdr = np.asarray(pdr, dtype=np.float64)
    d = np.asarray(delay_ms, dtype=np.float64)
    hi, mid = pdr >= 0.99, pdr >= 0.95
    return np.select(
        [hi & (d <= 7.0), hi & (d <= 10.0), mid & (d <= 13.0), mid & (d <= 20.0)],
        [5.0, 4.0, 3.0, 2.0],
        default=1.0,
    )


def _potential(x: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Eq. 23 with the normaliser equal to the goal: phi(x, g) = 1 - x / g (0 where g is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(goal > 0, 1.0 - x / goal, 0.0)


def delay_goal(delay_ms: np.ndarray) -> np.ndarray:
    """g(x) for delay: the upper bound of the eq. 15 interval x falls in (x itself past 20 ms)."""
    d = np.asarray(delay_ms, dtype=np.float64)
    idx = np.searchsorted(DELAY_BOUNDS_MS, d, side="left")
    bounds = np.append(DELAY_BOUNDS_MS, np.inf)[idx]
    return np.where(np.isinf(bounds), d, bounds)


def pdr_goal(pdr: np.ndarray) -> np.ndarray:
    """g(x) for PDR: the upper bound of the eq. 16 interval x falls in (0.95, 0.99 or 1)."""
    idx = np.searchsorted(PDR_BOUNDS, np.asarray(pdr, dtype=np.float64), side="right")
    return np.array([0.95, 0.99, 1.0])[idx]


def shaping_term(
    component: str, x: np.ndarray, x_next: np.ndarray, gamma_p: float = 1.0
) -> np.ndarray:
    """Eq. 22: F_c = gamma_p * phi(x_next, g(x_next)) - phi(x, g(x)) for one component's KPI.

    ``x``/``x_next`` are the KPI (delay ms, PDR, or DRR) of the previous and current window.
    For delay the potential is sign-flipped (lower delay is better), so that an improvement
    inside an interval earns a positive bonus for every component.
    """
    x = np.asarray(x, dtype=np.float64)
    x_next = np.asarray(x_next, dtype=np.float64)
    if component == "delay":
        # phi = 1 - d/g is larger for smaller delay: use it as-is (bigger potential = better).
        return gamma_p * _potential(x_next, delay_goal(x_next)) - _potential(x, delay_goal(x))
    if component == "pdr":
        # phi = 1 - p/g is *smaller* for better PDR: use its negation as the potential.
        return -(gamma_p * _potential(x_next, pdr_goal(x_next)) - _potential(x, pdr_goal(x)))
    if component == "drr":
        one = np.ones_like(x)
        return -(gamma_p * _potential(x_next, one) - _potential(x, one))
    raise ValueError(f"unknown reward component {component!r}; known: delay, pdr, drr")


def per_ue_rewards(
    delay_ms: np.ndarray, pdr: np.ndarray, throughput_mbps: np.ndarray, max_rate_mbps: np.ndarray
) -> np.ndarray:
    """Per-UE reward components ``[..., N, 3]`` (delay, pdr, drr) from per-UE KPIs ``[..., N]``."""
    return np.stack(
        [delay_reward(delay_ms), pdr_reward(pdr), drr_reward(throughput_mbps, max_rate_mbps)],
        axis=-1,
    )


def team_rewards(
    kpis_now: dict[str, np.ndarray],
    max_rate_mbps: np.ndarray,
    kpis_prev: dict[str, np.ndarray] | None = None,
    shaping: bool = False,
    gamma_p: float = 1.0,
) -> np.ndarray:
    """Team reward components ``[..., 3]``: min over UEs of each component (eqs. 18-20).

    ``kpis_now``/``kpis_prev`` map ``delay_ms``, ``pdr``, ``throughput_mbps`` to ``[..., N]``
    arrays. With ``shaping`` (and a previous window) each UE's component gets the eq. 21
    potential-based bonus before the minimum is taken.
    """
    r = per_ue_rewards(
        kpis_now["delay_ms"], kpis_now["pdr"], kpis_now["throughput_mbps"], max_rate_mbps
    )
    if shaping and kpis_prev is not None:
        drr_now = drr_reward(kpis_now["throughput_mbps"], max_rate_mbps)
        drr_prev = drr_reward(kpis_prev["throughput_mbps"], max_rate_mbps)
        r = r + np.stack(
            [
                shaping_term("delay", kpis_prev["delay_ms"], kpis_now["delay_ms"], gamma_p),
                shaping_term("pdr", kpis_prev["pdr"], kpis_now["pdr"], gamma_p),
                shaping_term("drr", drr_prev, drr_now, gamma_p),
            ],
            axis=-1,
        )
    return r.min(axis=-2)
