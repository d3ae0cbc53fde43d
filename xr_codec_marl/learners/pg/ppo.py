"""PPO's maths, CleanRL-style: GAE, the clipped surrogate, value clipping, entropy per head.

Every function is pure (tensors in, tensors out) and masks out steps that hold no data
(``mask`` False: padding after an episode ended, or windows the environment did not measure).

- GAE (Schulman et al. 2016, "High-dimensional continuous control using generalized
  advantage estimation", eqs. 11-16): ``delta_t = r_t + gamma (1 - d_t) V(s_{t+1}) - V(s_t)``,
  ``A_t = delta_t + gamma lambda (1 - d_t) A_{t+1}``, ``R_t = A_t + V(s_t)`` (the critic's
  target). ``d_t`` is *termination*: a time limit is bootstrapped from ``V(s_{t+1})``.
- Clipped surrogate (Schulman et al. 2017, "Proximal policy optimization algorithms", eq. 7):
  ``L^CLIP = E[min(rho_t A_t, clip(rho_t, 1 - eps, 1 + eps) A_t)]``,
  ``rho_t = exp(log pi(a_t|o_t) - log pi_old(a_t|o_t))``; we minimise ``-L^CLIP``.
- Value clipping (the PPO2 baselines implementation; Yu et al. 2022, "The surprising
  effectiveness of PPO in cooperative multi-agent games", §4 / eq. 2 of its appendix):
  ``L^V = 1/2 E[max((V - R)^2, (V_old + clip(V - V_old, -eps_v, eps_v) - R)^2)]``.
- Entropy bonus per head (eq. 9's ``c_2 S``, one coefficient per head):
  ``L = -L^CLIP + c_v L^V - sum_h c_h E[H_h]``.
- Advantage normalisation: none, per agent, or jointly across agents (seed 001's third
  improvement, "normalised advantage across agents").
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over the entries where ``mask`` (broadcast to ``x``) is True."""
    m = mask.to(x.dtype).expand_as(x)
    return (x * m).sum() / m.sum().clamp_min(1.0)


def gae(
    rewards: torch.Tensor, values: torch.Tensor, terminated: torch.Tensor, mask: torch.Tensor,
    gamma: float, lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns, both shaped like ``rewards`` ``[B, T, ...]``.

    ``values`` is ``[B, T + 1, ...]`` (the last entry: the state after the last step);
    ``terminated`` and ``mask`` are ``[B, T]``. A step after which ``mask`` turns False is an
    episode's last: its advantage bootstraps from ``V(s_{t+1})`` and takes no ``A_{t+1}``.
    """
    b, steps = rewards.shape[:2]
    extra = rewards.dim() - 2
    term = terminated.to(rewards.dtype).reshape(b, steps, *([1] * extra))
    filled = mask.reshape(b, steps, *([1] * extra))
    not_done = 1.0 - term
    adv = torch.zeros_like(rewards)
    nxt = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(steps)):
        if t + 1 < steps:
            nxt = torch.where(filled[:, t + 1], adv[:, t + 1], torch.zeros_like(nxt))
        delta = rewards[:, t] + gamma * not_done[:, t] * values[:, t + 1] - values[:, t]
        adv[:, t] = torch.where(filled[:, t], delta + gamma * lam * not_done[:, t] * nxt,
                                torch.zeros_like(delta))
    return adv, adv + values[:, :steps]


def normalise_advantages(adv: torch.Tensor, mask: torch.Tensor, mode: str,
                         eps: float = 1e-8) -> torch.Tensor:
    """``adv [B, T, N]`` standardised over the counted entries (``mask [B, T]`` or
    ``[B, T, N]``): ``"none"``; ``"agent"``: each agent with its own mean and std;
    ``"joint"``: one mean and std across all agents (seed 001's IMAPPO), which keeps the
    agents' advantages on one scale."""
    if mode == "none":
        return adv
    m = (mask[..., None] if mask.dim() == 2 else mask).to(adv.dtype).expand_as(adv)
    dims = (0, 1) if mode == "agent" else (0, 1, 2)
    count = m.sum(dims, keepdim=True).clamp_min(1.0)
    mean = (adv * m).sum(dims, keepdim=True) / count
    var = (((adv - mean) * m) ** 2).sum(dims, keepdim=True) / (count - 1.0).clamp_min(1.0)
    return (adv - mean) / (var.sqrt() + eps) * m


def clipped_surrogate(logp: torch.Tensor, logp_old: torch.Tensor, adv: torch.Tensor,
                      clip: float, mask: torch.Tensor) -> torch.Tensor:
    """``-L^CLIP`` (eq. 7), to minimise; all inputs one shape, ``mask`` True = counted."""
    ratio = torch.exp(logp - logp_old)
    surrogate = torch.minimum(ratio * adv, ratio.clamp(1.0 - clip, 1.0 + clip) * adv)
    return -masked_mean(surrogate, mask)


def value_loss(v: torch.Tensor, v_old: torch.Tensor, returns: torch.Tensor, clip: float,
               mask: torch.Tensor) -> torch.Tensor:
    """``L^V`` with clipping around the rollout's values (``clip`` <= 0: plain squared error);
    ``v, v_old, returns [..., K]`` (K value heads, averaged), ``mask [...]``."""
    err = (v - returns) ** 2
    if clip > 0:
        clipped = v_old + (v - v_old).clamp(-clip, clip)
        err = torch.maximum(err, (clipped - returns) ** 2)
    return 0.5 * masked_mean(err, mask[..., None])


@dataclass(frozen=True)
class PPOLoss:
    """The loss and its parts (for logs)."""

    total: torch.Tensor
    policy: torch.Tensor
    value: torch.Tensor
    entropy: torch.Tensor  # [P] mean entropy per head
    approx_kl: torch.Tensor  # E[(rho - 1) - log rho] (Schulman's k3 estimator), no gradient
    clip_fraction: torch.Tensor


def ppo_loss(
    logp: torch.Tensor, logp_old: torch.Tensor, adv: torch.Tensor, v: torch.Tensor,
    v_old: torch.Tensor, returns: torch.Tensor, entropy_parts: torch.Tensor,
    entropy_coefs: torch.Tensor, mask: torch.Tensor, clip: float, value_clip: float,
    value_coef: float, value_mask: torch.Tensor | None = None,
) -> PPOLoss:
    """``-L^CLIP + c_v L^V - sum_h c_h E[H_h]`` on one minibatch.

    ``logp, logp_old, adv, mask [M]``; ``v, v_old, returns [M, K]``; ``entropy_parts [M, P]``
    with one coefficient per head in ``entropy_coefs [P]``. ``mask`` selects the samples of
    the policy and entropy terms, ``value_mask`` (default: ``mask``) those of the value term.
    """
    pg = clipped_surrogate(logp, logp_old, adv, clip, mask)
    vl = value_loss(v, v_old, returns, value_clip, mask if value_mask is None else value_mask)
    ent = torch.stack([masked_mean(entropy_parts[:, p], mask)
                       for p in range(entropy_parts.shape[-1])]) if entropy_parts.shape[-1] else \
        torch.zeros(0)
    total = pg + value_coef * vl - (entropy_coefs * ent).sum()
    with torch.no_grad():
        log_ratio = logp - logp_old
        kl = masked_mean(torch.exp(log_ratio) - 1.0 - log_ratio, mask)
        frac = masked_mean(((torch.exp(log_ratio) - 1.0).abs() > clip).to(logp.dtype), mask)
    return PPOLoss(total, pg, vl, ent, kl, frac)
