"""The hybrid action distribution: categorical heads times diagonal Gaussian dimensions.

An agent's action is one category per head plus ``D`` real values. The policy factorises

    pi(a | o) = prod_h Cat(a_h; softmax(l_h)) * prod_d N(x_d; mu_d, sigma_d^2)

so ``log pi`` is the sum of the per-head log-probabilities and the entropy the sum of the
per-head entropies; both are also returned per head (``parts``), because PPO weighs the
entropy bonus of the categorical heads and of the Gaussian dimensions separately.

- Categorical head (masked): ``log p(k) = l_k - logsumexp_{j available} l_j``;
  ``H = -sum_k p_k log p_k`` over the available categories.
- Gaussian dimension: ``log N(x) = -(x - mu)^2 / (2 sigma^2) - log sigma - log(2 pi) / 2``;
  ``H = 1/2 + log(2 pi) / 2 + log sigma``.

The Gaussian is not squashed (no tanh): samples live in unbounded policy units, the actor
hands the environment the sample *clipped* to the bounds, and the rollout stores the
unclipped sample whose log-probability this module computes (CleanRL's continuous PPO does
the same: the clipping belongs to the environment, not to the policy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class HybridDistribution:
    """``len(logits)`` categorical heads and ``mean.shape[-1]`` Gaussian dimensions over a
    batch of leading shape ``[...]`` (``logits[h]``: ``[..., n_h]``; ``mean``: ``[..., D]``;
    ``log_std``: ``[D]`` or ``[..., D]``; ``masks[h]``: bool ``[..., n_h]``, True = allowed)."""

    def __init__(
        self, logits: Sequence[torch.Tensor], mean: torch.Tensor | None = None,
        log_std: torch.Tensor | None = None, masks: Sequence[torch.Tensor] | None = None,
    ) -> None:
        if masks is not None and len(masks) != len(logits):
            raise ValueError(f"{len(masks)} masks for {len(logits)} heads")
        if (mean is None) != (log_std is None):
            raise ValueError("Gaussian dimensions need both mean and log_std")
        self.masks = list(masks) if masks is not None else [torch.ones_like(l, dtype=torch.bool)
                                                             for l in logits]
        # log-probabilities of each category; -inf where masked
        self.log_probs = [torch.log_softmax(l.masked_fill(~m, float("-inf")), dim=-1)
                          for l, m in zip(logits, self.masks)]
        self.mean = mean
        self.log_std = None if log_std is None or mean is None else log_std.expand_as(mean)

    @property
    def n_heads(self) -> int:
        return len(self.log_probs)

    @property
    def n_continuous(self) -> int:
        return 0 if self.mean is None else int(self.mean.shape[-1])

    # --- acting ---
    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(heads long [..., H], x [..., D])`` drawn with torch's global generator."""
        cats = []
        for lp in self.log_probs:
            probs = lp.exp().reshape(-1, lp.shape[-1])
            cats.append(torch.multinomial(probs, 1).view(lp.shape[:-1]))
        return self._stack(cats), self._gauss(lambda m, s: m + s * torch.randn_like(m))

    def mode(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The most likely action: each head's argmax (over available categories), the means."""
        return self._stack([lp.argmax(dim=-1) for lp in self.log_probs]), self._gauss(lambda m, s: m)

    # --- scoring ---
    def log_prob_parts(self, heads: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """Per-head log-probabilities ``[..., H + D]`` (heads first, then dimensions)."""
        parts = [lp.gather(-1, heads[..., h : h + 1]).squeeze(-1)
                 for h, lp in enumerate(self.log_probs)]
        if self.mean is not None:
            assert self.log_std is not None and x is not None
            z = (x - self.mean) * torch.exp(-self.log_std)
            parts += list((-0.5 * z * z - self.log_std - _HALF_LOG_2PI).unbind(-1))
        return torch.stack(parts, dim=-1)

    def log_prob(self, heads: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """Joint log-probability ``[...]``: the sum over heads and dimensions."""
        return self.log_prob_parts(heads, x).sum(-1)

    def entropy_parts(self) -> torch.Tensor:
        """Per-head entropies ``[..., H + D]`` (nats; masked categories count as probability 0)."""
        parts = [-(lp.exp() * lp.masked_fill(~m, 0.0)).sum(-1)
                 for lp, m in zip(self.log_probs, self.masks)]
        if self.log_std is not None:
            parts += list((0.5 + _HALF_LOG_2PI + self.log_std).unbind(-1))
        return torch.stack(parts, dim=-1)

    def entropy(self) -> torch.Tensor:
        """Joint entropy ``[...]`` (the heads are independent given the observation)."""
        return self.entropy_parts().sum(-1)

    # --- helpers ---
    def _stack(self, cats: list[torch.Tensor]) -> torch.Tensor:
        if cats:
            return torch.stack(cats, dim=-1)
        lead = self.mean.shape[:-1] if self.mean is not None else ()
        return torch.zeros(*lead, 0, dtype=torch.int64)

    def _gauss(self, draw: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        if self.mean is None:
            lead = self.log_probs[0].shape[:-1]
            return torch.zeros(*lead, 0)
        assert self.log_std is not None
        return draw(self.mean, torch.exp(self.log_std))
