"""Value normalisation: the critic predicts returns standardised by their running statistics.

Returns of long episodes are in the hundreds while value clipping moves a prediction by at
most ``value_clip`` per update, so an unnormalised critic barely learns; MAPPO's reference
implementation standardises the value targets (Yu et al. 2022, §4 "value normalization").
Here the statistics are the exact mean and variance of every return seen so far (merged batch
by batch, Chan et al.'s parallel formula), per value head; GAE uses the de-normalised values.
"""

from __future__ import annotations

from typing import Any

import torch


class ValueNorm:
    """Running mean and variance of ``K`` value heads' targets."""

    def __init__(self, n_values: int, eps: float = 1e-5) -> None:
        self.mean = torch.zeros(n_values, dtype=torch.float64)
        self.var = torch.ones(n_values, dtype=torch.float64)
        self.count = 0.0
        self.eps = eps

    def update(self, x: torch.Tensor) -> None:
        """Fold in targets ``x [M, K]``."""
        if x.shape[0] == 0:
            return
        x = x.to(torch.float64)
        n = float(x.shape[0])
        mean, var = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = mean - self.mean
        m2 = self.var * self.count + var * n + delta ** 2 * self.count * n / total
        self.mean = self.mean + delta * n / total
        self.var = m2 / total
        self.count = total

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / torch.sqrt(self.var + self.eps)).to(x.dtype)

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x * torch.sqrt(self.var + self.eps) + self.mean).to(x.dtype)

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.clone(), "var": self.var.clone(), "count": self.count}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.mean, self.var = sd["mean"].clone(), sd["var"].clone()
        self.count = float(sd["count"])
