"""XR traffic of TR 38.838: frame sizes and frame arrival jitter (truncated Gaussians).

Vectorised: draws whole ``[..., frames]`` arrays from a ``numpy.random.Generator`` so an entire
window of a batch of environments costs a handful of calls.
"""

from __future__ import annotations

import numpy as np


def truncated_normal(
    rng: np.random.Generator, shape: tuple[int, ...], low: float, high: float
) -> np.ndarray:
    """Standard normal draws conditioned on ``low <= z <= high`` (redraws the rare misses)."""
    z = rng.standard_normal(shape)
    bad = (z < low) | (z > high)
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = (z < low) | (z > high)
    return z


def frame_sizes_bytes(
    rng: np.random.Generator,
    rate_mbps: np.ndarray,
    n_frames: int,
    fps: float,
    std_frac: float = 0.105,
    trunc: tuple[float, float] = (0.5, 1.5),
) -> np.ndarray:
    """Frame sizes ``[..., n_frames]``: mean M = R / fps, std ``std_frac`` M, within trunc x M."""
    mean = np.asarray(rate_mbps, dtype=np.float64)[..., None] * 1e6 / 8.0 / fps
    shape = mean.shape[:-1] + (n_frames,)
    lo, hi = (trunc[0] - 1.0) / std_frac, (trunc[1] - 1.0) / std_frac
    return mean * (1.0 + std_frac * truncated_normal(rng, shape, lo, hi))


def frame_jitter_ms(
    rng: np.random.Generator, shape: tuple[int, ...], std_ms: float = 2.0, bound_ms: float = 4.0
) -> np.ndarray:
    """Frame arrival jitter ``N(0, std)`` truncated to ``[-bound, bound]`` ms."""
    if std_ms <= 0:
        return np.zeros(shape)
    return std_ms * truncated_normal(rng, shape, -bound_ms / std_ms, bound_ms / std_ms)
