"""Agent networks: the per-agent utility Q_i(tau_i, u_i), shared across agents (pymarl's RNN agent).

Input of agent i at time t: its observation, its last action (one-hot) and its id (one-hot),
so one set of weights serves every agent. Every network is split in three stages so that
training can run the feed-forward parts on whole episodes at once and loop only over the
recurrence (far fewer autograd nodes, hence a faster backward pass):

- ``embed(x [..., input]) -> e [..., slots, H]`` (Linear -> ReLU),
- ``recur(e [M, slots, H], h [M, slots, H]) -> h'`` (GRUCell),
- ``head(h [..., slots, H]) -> q [..., K, A]`` (output layer(s)).

``slots`` is the number of recurrent states per agent (C for the D variant, else 1) and ``K``
the number of Q outputs per action (1 for vanilla learners, C for decomposed ones).
"""

from __future__ import annotations

import torch
from torch import nn


class _AgentBase(nn.Module):
    hidden: int
    slots: int
    n_out: int

    def init_hidden(self, m: int) -> torch.Tensor:
        return torch.zeros(m, self.slots, self.hidden)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One window: ``x [M, input]``, ``h [M, slots, H]`` -> ``q [M, K, A]``, ``h'``."""
        h = self.recur(self.embed(x), h)
        return self.head(h), h

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def recur(self, e: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def head(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class RNNAgent(_AgentBase):
    """Linear -> ReLU -> GRUCell -> Linear: the vanilla pymarl agent, one Q per action."""

    def __init__(self, input_size: int, n_actions: int, hidden: int) -> None:
        super().__init__()
        self.hidden, self.slots, self.n_out = hidden, 1, 1
        self.fc1 = nn.Linear(input_size, hidden)
        self.rnn = nn.GRUCell(hidden, hidden)
        self.fc2 = nn.Linear(hidden, n_actions)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc1(x)).unsqueeze(-2)

    def recur(self, e: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.rnn(e[:, 0], h[:, 0]).unsqueeze(1)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return self.fc2(h)


class DecomposedAgent(_AgentBase):
    """D variant: C independent :class:`RNNAgent` networks, one per reward component.

    With C = 1 it is parameter-for-parameter the vanilla agent (same initialisation under the
    same seed), which the decomposition-consistency test relies on.
    """

    def __init__(self, input_size: int, n_actions: int, hidden: int, n_components: int) -> None:
        super().__init__()
        self.hidden, self.slots, self.n_out = hidden, n_components, n_components
        self.nets = nn.ModuleList(RNNAgent(input_size, n_actions, hidden) for _ in range(n_components))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([net.embed(x) for net in self.nets], dim=-2)

    def recur(self, e: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [net.recur(e[:, c : c + 1], h[:, c : c + 1]) for c, net in enumerate(self.nets)], dim=1
        )

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return torch.cat([net.head(h[..., c : c + 1, :]) for c, net in enumerate(self.nets)], dim=-2)


class MultiHeadAgent(_AgentBase):
    """MH variant (eq. 25): shared Linear -> ReLU -> GRUCell trunk, C two-layer heads."""

    def __init__(
        self, input_size: int, n_actions: int, hidden: int, n_components: int, head_hidden: int
    ) -> None:
        super().__init__()
        self.hidden, self.slots, self.n_out = hidden, 1, n_components
        self.fc1 = nn.Linear(input_size, hidden)
        self.rnn = nn.GRUCell(hidden, hidden)
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden, head_hidden), nn.ReLU(), nn.Linear(head_hidden, n_actions))
            for _ in range(n_components)
        )

    def shared_parameters(self) -> list[nn.Parameter]:
        """The last shared layer (the GRU), where MHA measures per-component gradient norms."""
        return [self.rnn.weight_ih, self.rnn.weight_hh]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc1(x)).unsqueeze(-2)

    def recur(self, e: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.rnn(e[:, 0], h[:, 0]).unsqueeze(1)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        z = h[..., 0, :]
        return torch.stack([head(z) for head in self.heads], dim=-2)


def build_agent(
    structure: str, input_size: int, n_actions: int, n_components: int, hidden: int, head_hidden: int
) -> nn.Module:
    """Agent network for a learner structure (``vanilla`` | ``d`` | ``mh``)."""
    if structure == "vanilla":
        return RNNAgent(input_size, n_actions, hidden)
    if structure == "d":
        return DecomposedAgent(input_size, n_actions, hidden, n_components)
    if structure == "mh":
        return MultiHeadAgent(input_size, n_actions, hidden, n_components, head_hidden)
    raise ValueError(f"unknown agent structure {structure!r}")
