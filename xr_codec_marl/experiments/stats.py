"""Small statistics for results: mean and 95 % confidence half-width across episodes/seeds."""

from __future__ import annotations

import math

import numpy as np

# Two-sided 97.5 % quantiles of Student's t for df = 1..30 (then a few anchors).
_T975 = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
]
_T975_ANCHORS = [(40, 2.021), (60, 2.000), (120, 1.980)]


def t_quantile_975(df: int) -> float:
    """The t critical value for a two-sided 95 % interval with ``df`` degrees of freedom."""
    if df < 1:
        return math.nan
    if df <= 30:
        return _T975[df - 1]
    for anchor, value in _T975_ANCHORS:
        if df <= anchor:
            return value
    return 1.960


def mean_ci95(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the half-width of its 95 % t-interval along ``axis`` (nan with < 2 samples)."""
    v = np.asarray(values, dtype=np.float64)
    n = v.shape[axis]
    mean = v.mean(axis=axis)
    if n < 2:
        return mean, np.full_like(mean, np.nan)
    sem = v.std(axis=axis, ddof=1) / math.sqrt(n)
    return mean, t_quantile_975(n - 1) * sem
