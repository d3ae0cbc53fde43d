"""Seed 001's counterfactual baseline (COMA-style credit assignment) for the PG learners.

IMAPPO's advantage (seed 001, §3.2):

    A_i(t) = R_t - V(s_t) + [V(s_t) - V(s_t^{-i})] = R_t - b_i(t),
    b_i(t) = V(s_t^{-i}) = E_{a_i' ~ pi_i(.|o_i)} Q(s_t, a_{-i}, a_i')

with agent ``i``'s action marginalised out (Foerster et al. 2018, "Counterfactual multi-agent
policy gradients", eq. 4). ``R_t`` is GAE's lambda-return on the V critic (``gae``), ``Q`` an
action-value critic (:class:`~xr_codec_marl.learners.pg.networks.QCritic`) regressed on ``R_t``
for the joint action taken. The expectation over ``a_i'``:

- exact over agent ``i``'s categorical heads (every combination ``u``, weighted by
  ``prod_h pi_i(u_h)``, unavailable categories weighing 0), its continuous values at the
  policy's means, while the product of the head sizes is at most ``cf_exact_max`` (one head:
  its options). Not at the values taken: a baseline must not depend on ``a_i``, else it
  absorbs the credit of ``a_i``'s own continuous values and leaves their Gaussian heads
  without a learning signal (the policy gradient stays unbiased for any ``b_i`` independent
  of ``a_i``, and ``Q(u, mu)`` is such a one, deterministic);
- otherwise Monte-Carlo: the mean over ``cf_samples`` draws ``a_i' ~ pi_i`` (heads and
  continuous values, torch's global generator, so a resumed run draws the same).

With a decomposed critic ``Q`` has one output per reward component and so does ``b_i``; the
advantages are summed over the components, as GAE's are.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from xr_codec_marl.learners.pg.distributions import HybridDistribution
from xr_codec_marl.learners.pg.networks import QCritic, encode_actions

#: float entries of the largest ``[chunk, ..., N, U, hidden]`` tensor one baseline pass makes
_CHUNK_FLOATS = 1 << 23


def exact_alternatives(dist: HybridDistribution,
                       head_sizes: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Every combination ``u`` of the categorical heads: ``(alts [..., N, U, P], weights
    [..., N, U])`` with ``weights = prod_h pi(u_h)`` (0 where unavailable) and the continuous
    values at the policy's means (clipped to [-1, 1])."""
    combos = torch.cartesian_prod(*[torch.arange(n) for n in head_sizes]).reshape(-1, len(head_sizes))
    u = combos.shape[0]
    logw = sum(lp.index_select(-1, combos[:, h]) for h, lp in enumerate(dist.log_probs))
    assert isinstance(logw, torch.Tensor)
    table = encode_actions(combos, torch.zeros(u, 0), head_sizes)  # [U, sum(head_sizes)]
    lead = logw.shape[:-1]
    x = dist.mean if dist.mean is not None else torch.zeros(*lead, 0)
    alts = torch.cat([table.expand(*lead, u, table.shape[-1]),
                      x.clamp(-1.0, 1.0).unsqueeze(-2).expand(*lead, u, x.shape[-1])], dim=-1)
    return alts, logw.exp()


def sampled_alternatives(dist: HybridDistribution, samples: int,
                         head_sizes: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """``samples`` draws ``a' ~ pi``: ``(alts [..., N, S, P], weights [..., N, S] = 1 / S)``."""
    drawn = [dist.sample() for _ in range(samples)]
    enc = torch.stack([encode_actions(h, x, head_sizes) for h, x in drawn], dim=-2)
    return enc, torch.full(enc.shape[:-1], 1.0 / samples)


def alternatives(dist: HybridDistribution, head_sizes: tuple[int, ...],
                 exact_max: int, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact while ``prod(head_sizes) <= exact_max``, else Monte-Carlo (see the module doc)."""
    if math.prod(head_sizes) <= exact_max:
        return exact_alternatives(dist, head_sizes)
    return sampled_alternatives(dist, samples, head_sizes)


@torch.no_grad()
def counterfactual_baseline(
    q: QCritic, c: torch.Tensor, joint: torch.Tensor, alts: torch.Tensor, weights: torch.Tensor,
    denormalise: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """``b_i = sum_u w_i(u) Q(c_i, a_{-i}, u)`` ``[B, ..., N, K]`` for ``c [B, ..., N, I]``, the
    joint action taken ``joint [B, ..., N * P]`` and ``alts``/``weights`` as
    :func:`alternatives` gives them; ``denormalise`` maps Q's outputs to returns (value_norm).
    Evaluated in chunks of the leading dimension to bound memory."""
    per_item = max(1, alts[:1].numel() // alts.shape[-1] * q.hidden)
    step = max(1, _CHUNK_FLOATS // per_item)
    out = []
    for s in range(0, c.shape[0], step):
        qv = q.swapped(c[s : s + step], joint[s : s + step], alts[s : s + step])  # [..., N, U, K]
        if denormalise is not None:
            qv = denormalise(qv)
        out.append((weights[s : s + step, ..., None] * qv).sum(-2))
    return torch.cat(out, dim=0)
