"""Agent networks: the per-agent utility Q_i(tau_i, u_i), shared across agents (pymarl's RNN agent).

Input of agent i at time t: its observation, its last action (one-hot) and its id (one-hot),
so one set of weights serves every agent. All networks map ``x [M, input]`` and a recurrent
state ``h [M, slots, H]`` to ``q [M, C_out, A]`` and the next state; ``C_out`` is 1 for the
vanilla learners and C (reward components) for the decomposed ones.
"""

from __future__ import annotations

import torch
from torch import nn


class RNNAgent(nn.Module):
    """Linear -> ReLU -> GRUCell -> Linear: the vanilla pymarl agent, one Q per action."""

    n_out = 1
    slots = 1

    def __init__(self, input_size: int, n_actions: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.fc1 = nn.Linear(input_size, hidden)
        self.rnn = nn.GRUCell(hidden, hidden)
        self.fc2 = nn.Linear(hidden, n_actions)

    def init_hidden(self, m: int) -> torch.Tensor:
        return torch.zeros(m, self.slots, self.hidden)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.rnn(torch.relu(self.fc1(x)), h[:, 0])
        return self.fc2(z).unsqueeze(1), z.unsqueeze(1)


class DecomposedAgent(nn.Module):
    """D variant: C independent :class:`RNNAgent` networks, one per reward component.

    With C = 1 it is parameter-for-parameter the vanilla agent (same initialisation under the
    same seed), which the decomposition-consistency test relies on.
    """

    slots: int

    def __init__(self, input_size: int, n_actions: int, hidden: int, n_components: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.n_out = self.slots = n_components
        self.nets = nn.ModuleList(RNNAgent(input_size, n_actions, hidden) for _ in range(n_components))

    def init_hidden(self, m: int) -> torch.Tensor:
        return torch.zeros(m, self.slots, self.hidden)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        qs, hs = zip(*(net(x, h[:, c : c + 1]) for c, net in enumerate(self.nets)))
        return torch.cat(qs, dim=1), torch.cat(hs, dim=1)


class MultiHeadAgent(nn.Module):
    """MH variant (eq. 25): shared Linear -> ReLU -> GRUCell trunk, C two-layer heads."""

    slots = 1

    def __init__(
        self, input_size: int, n_actions: int, hidden: int, n_components: int, head_hidden: int
    ) -> None:
        super().__init__()
        self.hidden = hidden
        self.n_out = n_components
        self.fc1 = nn.Linear(input_size, hidden)
        self.rnn = nn.GRUCell(hidden, hidden)
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden, head_hidden), nn.ReLU(), nn.Linear(head_hidden, n_actions))
            for _ in range(n_components)
        )

    def init_hidden(self, m: int) -> torch.Tensor:
        return torch.zeros(m, self.slots, self.hidden)

    def shared_parameters(self) -> list[nn.Parameter]:
        """The last shared layer (the GRU), where MHA measures per-component gradient norms."""
        return [self.rnn.weight_ih, self.rnn.weight_hh]

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.rnn(torch.relu(self.fc1(x)), h[:, 0])
        return torch.stack([head(z) for head in self.heads], dim=1), z.unsqueeze(1)


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
