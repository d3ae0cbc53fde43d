"""MHA: Algorithm 3 of the paper, adaptive per-component loss weighting.

The learner's loss becomes ``L = (1/C) sum_c w_c * l_c * L_c`` with

- ``w_c``: GradNorm-style weights (eq. 30) with their own optimiser. With ``G_c`` the norm of
  the gradient of ``w_c l_c L_c`` on the last shared layer, ``r_c`` the loss ratio
  ``L_c / L_c(0)`` over its mean, and ``alpha > 0``, they minimise
  ``L_grad = sum_c |G_c - mean(G) * r_c**alpha|`` (the target is a constant), then are
  renormalised to sum to C (Algorithm 3 line 15).
- ``l_c``: importance weights recomputed from each episode's component rewards,
  ``softmax_c(mean_c + sinh(std_c))`` (eq. 35), or ``softmax_c(mean_c)`` (eq. 36).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def importance_weights(rewards: np.ndarray, filled: np.ndarray, with_variance: bool = True) -> np.ndarray:
    """l_{c,e} for each episode: ``rewards [E, T, C]``, ``filled [E, T]`` -> ``[E, C]``.

    Mean (eq. 33) and sample standard deviation (eq. 34, 1/(T-1)) over the filled steps of
    each episode, then eq. 35 (``with_variance``) or eq. 36.
    """
    mask = filled.astype(np.float64)[..., None]
    n = mask.sum(axis=1)  # [E, 1]
    mean = (rewards * mask).sum(axis=1) / np.maximum(n, 1.0)
    var = (((rewards - mean[:, None, :]) ** 2) * mask).sum(axis=1) / np.maximum(n - 1.0, 1.0)
    logits = mean + np.sinh(np.sqrt(var)) if with_variance else mean
    logits = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


class AdaptiveWeights:
    """The state of Algorithm 3: loss weights ``w`` (trained), importance ``l`` (from episodes)."""

    def __init__(self, n_components: int, alpha: float, lr: float, with_variance: bool) -> None:
        self.n = n_components
        self.alpha = alpha
        self.with_variance = with_variance
        self.w = torch.nn.Parameter(torch.ones(n_components))
        self.opt = torch.optim.Adam([self.w], lr=lr)
        self.l = torch.ones(n_components) / n_components
        self.initial_losses: torch.Tensor | None = None

    def update_importance(self, rewards: np.ndarray, filled: np.ndarray) -> np.ndarray:
        """Recompute l_c from the latest episodes (averaged over a vectorised batch); return per-episode l."""
        per_episode = importance_weights(rewards, filled, self.with_variance)
        self.l = torch.from_numpy(per_episode.mean(axis=0))
        return per_episode

    def loss_scale(self) -> torch.Tensor:
        """``w_c * l_c`` as constants for the network loss."""
        return self.w.detach() * self.l

    def step(self, losses: torch.Tensor, shared: list[torch.nn.Parameter]) -> dict[str, float]:
        """One GradNorm update of ``w`` from the component losses ``[C]`` (graph still alive).

        ``G_c = w_c l_c ||grad_W L_c||``; only ``w`` receives gradients from ``L_grad``.
        """
        if self.initial_losses is None:
            self.initial_losses = losses.detach().clamp_min(1e-8).clone()
        norms = []
        for c in range(self.n):
            grads = torch.autograd.grad(losses[c], shared, retain_graph=True, allow_unused=True)
            sq = sum((g.pow(2).sum() for g in grads if g is not None), torch.zeros(()))
            norms.append(sq.sqrt())
        gnorm = torch.stack(norms).detach()
        g = self.w * self.l * gnorm  # G_c, differentiable in w only
        ratio = losses.detach() / self.initial_losses
        ratio = ratio / ratio.mean().clamp_min(1e-12)
        target = (g.mean() * ratio.pow(self.alpha)).detach()
        l_grad = (g - target).abs().sum()
        self.opt.zero_grad()
        l_grad.backward()
        self.opt.step()
        with torch.no_grad():  # renormalise: sum_c w_c = C, and keep weights positive
            self.w.clamp_(min=1e-3)
            self.w.mul_(self.n / self.w.sum())
        return {"l_grad": float(l_grad.detach())}

    def state_dict(self) -> dict[str, Any]:
        return {
            "w": self.w.detach().clone(),
            "l": self.l.clone(),
            "opt": self.opt.state_dict(),
            "initial_losses": None if self.initial_losses is None else self.initial_losses.clone(),
        }

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        with torch.no_grad():
            self.w.copy_(sd["w"])
        self.l = sd["l"].clone()
        self.opt.load_state_dict(sd["opt"])
        self.initial_losses = None if sd["initial_losses"] is None else sd["initial_losses"].clone()
