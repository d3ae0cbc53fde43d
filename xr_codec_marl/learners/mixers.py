"""Mixers: from per-agent utilities to the joint value, one output per reward component.

Value mixers map chosen utilities ``q [M, C, N]`` and the state ``s [M, S]`` to
``Q_tot [M, C]``:

- :class:`VDNMixer`: Q_tot,c = sum_i Q_i,c (no parameters; works for any C).
- :class:`QMixer`: one QMIX mixer (two-layer hypernetworks of the state, abs() weights, ELU,
  state-value bias V(s)); :class:`DecomposedQMixer` holds C of them (DQMIX, vanilla = C 1).
- :class:`MultiHeadQMixer`: eq. 26, one hypernetwork trunk shared by C heads.

:class:`NoMixer` (independent Q-learning, seed 001's "independent Q" baseline) mixes nothing:
each agent's utility is its own Q-value, trained on the team reward.

QTRAN is not a mixer of utilities but a pair of extra critics, :class:`QTranCritics`:
a joint Q_jt,c(s, u) and a state value V_c(s), per component (D form: separate networks;
MH form: shared trunk and C heads).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class VDNMixer(nn.Module):
    """Q_tot = sum over agents (Sunehag et al.)."""

    def forward(self, q: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return q.sum(dim=-1)


class NoMixer(nn.Module):
    """No joint value (IQL): ``q [M, C, N]`` is returned as is; the learner gives every agent
    its own TD target (Tan 1993; Tampuu et al. 2017)."""

    def forward(self, q: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return q


def _mlp(inp: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inp, hidden), nn.ReLU(), nn.Linear(hidden, out))


def _monotonic_mix(
    q: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, wf: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    """QMIX forward for one component: ``q [M, N]``, raw hypernet outputs -> ``[M]``.

    abs() on both weight layers makes dQ_tot/dQ_i >= 0 (monotonicity); biases stay free.
    """
    m, n = q.shape
    w1 = w1.abs().view(m, n, -1)
    hidden = F.elu(torch.bmm(q.unsqueeze(1), w1).squeeze(1) + b1)
    return (hidden * wf.abs()).sum(dim=-1) + v.squeeze(-1)


class QMixer(nn.Module):
    """Standard QMIX mixer for one component (Rashid et al., pymarl's two-layer hypernets)."""

    def __init__(self, n_agents: int, state_size: int, embed: int, hyper_hidden: int) -> None:
        super().__init__()
        self.hyper_w1 = _mlp(state_size, hyper_hidden, embed * n_agents)
        self.hyper_b1 = nn.Linear(state_size, embed)
        self.hyper_wf = _mlp(state_size, hyper_hidden, embed)
        self.value = _mlp(state_size, embed, 1)

    def forward(self, q: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """``q [M, N]``, ``state [M, S]`` -> ``[M]``."""
        return _monotonic_mix(
            q, self.hyper_w1(state), self.hyper_b1(state), self.hyper_wf(state), self.value(state)
        )


class DecomposedQMixer(nn.Module):
    """DQMIX: C independent QMIX mixers, one per reward component (C = 1 is vanilla QMIX)."""

    def __init__(
        self, n_agents: int, state_size: int, n_components: int, embed: int, hyper_hidden: int
    ) -> None:
        super().__init__()
        self.mixers = nn.ModuleList(
            QMixer(n_agents, state_size, embed, hyper_hidden) for _ in range(n_components)
        )

    def forward(self, q: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return torch.stack([mix(q[:, c], state) for c, mix in enumerate(self.mixers)], dim=1)


class MultiHeadQMixer(nn.Module):
    """MH-QMIX (eq. 26): shared hypernetwork trunks phi_sh(s), C heads producing each mixer.

    The trunks (first hypernetwork layer, ReLU so already >= 0) are shared; each head turns
    the trunk features into its component's mixing weights, abs() keeps them non-negative.
    """

    def __init__(
        self, n_agents: int, state_size: int, n_components: int, embed: int, hyper_hidden: int
    ) -> None:
        super().__init__()
        self.n_components = n_components
        self.trunk_w1 = nn.Sequential(nn.Linear(state_size, hyper_hidden), nn.ReLU())
        self.trunk_wf = nn.Sequential(nn.Linear(state_size, hyper_hidden), nn.ReLU())
        self.head_w1 = nn.ModuleList(nn.Linear(hyper_hidden, embed * n_agents) for _ in range(n_components))
        self.head_wf = nn.ModuleList(nn.Linear(hyper_hidden, embed) for _ in range(n_components))
        self.head_b1 = nn.ModuleList(nn.Linear(state_size, embed) for _ in range(n_components))
        self.head_v = nn.ModuleList(_mlp(state_size, embed, 1) for _ in range(n_components))

    def forward(self, q: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        z1, zf = self.trunk_w1(state), self.trunk_wf(state)
        out = [
            _monotonic_mix(
                q[:, c], self.head_w1[c](z1), self.head_b1[c](state), self.head_wf[c](zf),
                self.head_v[c](state),
            )
            for c in range(self.n_components)
        ]
        return torch.stack(out, dim=1)


def _mlp3(inp: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inp, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)
    )


class _MultiHeadMLP(nn.Module):
    """Shared two-layer trunk, C two-layer heads with one output each -> ``[M, C]``."""

    def __init__(self, inp: int, hidden: int, n_components: int) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(inp, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.heads = nn.ModuleList(_mlp(hidden, hidden, 1) for _ in range(n_components))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.trunk(x)
        return torch.cat([head(z) for head in self.heads], dim=-1)


class _SeparateMLPs(nn.Module):
    """C independent three-layer MLPs with one output each -> ``[M, C]``."""

    def __init__(self, inp: int, hidden: int, n_components: int) -> None:
        super().__init__()
        self.nets = nn.ModuleList(_mlp3(inp, hidden) for _ in range(n_components))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([net(x) for net in self.nets], dim=-1)


class QTranCritics(nn.Module):
    """QTRAN-base critics per component: joint Q_jt,c(s, u) and state value V_c(s).

    The joint network sees the state and the one-hot joint action; V sees the state.
    ``multi_head`` selects the MH form (shared trunks) over the D form (separate networks).
    """

    def __init__(
        self, n_agents: int, n_actions: int, state_size: int, n_components: int, hidden: int,
        multi_head: bool,
    ) -> None:
        super().__init__()
        make = _MultiHeadMLP if multi_head else _SeparateMLPs
        self.n_actions = n_actions
        self.joint = make(state_size + n_agents * n_actions, hidden, n_components)
        self.value = make(state_size, hidden, n_components)

    def q_joint(self, state: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``state [M, S]``, ``actions [M, N]`` (int) -> Q_jt ``[M, C]``."""
        onehot = F.one_hot(actions, self.n_actions).to(state.dtype).flatten(1)
        return self.joint(torch.cat([state, onehot], dim=-1))

    def v(self, state: torch.Tensor) -> torch.Tensor:
        """``state [M, S]`` -> V ``[M, C]``."""
        return self.value(state)


def build_mixer(
    mixer: str, structure: str, n_agents: int, n_actions: int, state_size: int, n_components: int,
    embed: int, hyper_hidden: int, qtran_hidden: int,
) -> nn.Module:
    """The mixer (or QTRAN critics) for a learner; ``n_components`` is 1 for vanilla learners."""
    if mixer == "vdn":
        return VDNMixer()
    if mixer == "none":
        return NoMixer()
    if mixer == "qmix":
        if structure == "mh":
            return MultiHeadQMixer(n_agents, state_size, n_components, embed, hyper_hidden)
        return DecomposedQMixer(n_agents, state_size, n_components, embed, hyper_hidden)
    if mixer == "qtran":
        return QTranCritics(n_agents, n_actions, state_size, n_components, qtran_hidden, structure == "mh")
    raise ValueError(f"unknown mixer {mixer!r}")
