"""Actor and critic networks of the policy-gradient learners (feed-forward, CleanRL-style).

- Actor (shared by all agents, decentralised): ``[o_i, onehot(i)] -> MLP ->`` the logits
  of every categorical head and the means of the Gaussian dimensions; the log standard
  deviations are free parameters (state-independent, as in CleanRL's continuous PPO).
- Critic, by its input (``critic`` setting):
  ``"state"``: the environment state ``s`` (MAPPO's centralised critic, one value per step);
  ``"obs"``: the agent's own ``[o_i, onehot(i)]`` (IPPO);
  ``"aggregated"``: ``[s, mean_j o_j, o_i, onehot(i)]`` (seed 001's centralised critic over an
  aggregated state: the global state, the agents' observations pooled and the agent's own).
  It outputs ``K`` values: 1, or one per reward component (a decomposed critic).
- Action-value critic :class:`QCritic` (seed 001's counterfactual baseline): the same input
  per agent plus the encoded joint action (:func:`encode_actions`), ``K`` values.

Orthogonal initialisation with the usual gains (sqrt 2 hidden, 0.01 policy output, 1 value
output), as in CleanRL and the MAPPO reference implementation.
"""

from __future__ import annotations

import math

import torch
from torch import nn

CRITICS = ("state", "obs", "aggregated")


def _layer(inp: int, out: int, gain: float) -> nn.Linear:
    layer = nn.Linear(inp, out)
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def mlp(inp: int, hidden: int, out: int, out_gain: float) -> nn.Sequential:
    """Two tanh hidden layers."""
    g = math.sqrt(2.0)
    return nn.Sequential(_layer(inp, hidden, g), nn.Tanh(), _layer(hidden, hidden, g), nn.Tanh(),
                         _layer(hidden, out, out_gain))


def with_ids(obs: torch.Tensor) -> torch.Tensor:
    """``[..., N, O]`` -> ``[..., N, O + N]``: each agent's observation and its id one-hot."""
    n = obs.shape[-2]
    return torch.cat([obs, torch.eye(n, dtype=obs.dtype).expand(*obs.shape[:-2], n, n)], dim=-1)


def critic_inputs(obs: torch.Tensor, state: torch.Tensor, critic: str) -> torch.Tensor:
    """The critic's input per agent ``[..., N, I]`` from ``obs [..., N, O]``, ``state [..., S]``."""
    n = obs.shape[-2]
    s = state.unsqueeze(-2).expand(*state.shape[:-1], n, state.shape[-1])
    if critic == "state":
        return s
    if critic == "obs":
        return with_ids(obs)
    pooled = obs.mean(dim=-2, keepdim=True).expand_as(obs)
    return torch.cat([s, pooled, with_ids(obs)], dim=-1)


def critic_values(critic: nn.Module, obs: torch.Tensor, state: torch.Tensor, kind: str) -> torch.Tensor:
    """The critic's values per agent ``[..., N, K]``. The ``"state"`` critic's input is the
    same for every agent, so it runs once per step and its values are broadcast to the ``N``
    agents (equal to running it on :func:`critic_inputs`, ``N`` times cheaper)."""
    if kind == "state":
        v = critic(state).unsqueeze(-2)
        return v.expand(*v.shape[:-2], obs.shape[-2], v.shape[-1])
    return critic(critic_inputs(obs, state, kind))


def critic_input_size(obs_size: int, state_size: int, n_agents: int, critic: str) -> int:
    return {"state": state_size, "obs": obs_size + n_agents,
            "aggregated": state_size + 2 * obs_size + n_agents}[critic]


class Actor(nn.Module):
    """Shared decentralised actor: per agent, categorical logits and Gaussian means."""

    def __init__(self, obs_size: int, n_agents: int, head_sizes: tuple[int, ...], n_gaussian: int,
                 hidden: int, log_std_init: float) -> None:
        super().__init__()
        self.head_sizes = head_sizes
        self.body = mlp(obs_size + n_agents, hidden, sum(head_sizes) + n_gaussian, 0.01)
        self.log_std = nn.Parameter(torch.full((n_gaussian,), float(log_std_init)))

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """``x [..., obs + N]`` (see :func:`with_ids`) -> (logits per head, means, log stds)."""
        out = self.body(x)
        logits = list(out[..., : sum(self.head_sizes)].split(self.head_sizes, dim=-1))
        return logits, out[..., sum(self.head_sizes):], self.log_std


class Critic(nn.Module):
    """``K`` value heads on the chosen input (see :func:`critic_inputs`)."""

    def __init__(self, input_size: int, n_values: int, hidden: int) -> None:
        super().__init__()
        self.body = mlp(input_size, hidden, n_values, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def encode_actions(heads: torch.Tensor, x: torch.Tensor, head_sizes: tuple[int, ...]) -> torch.Tensor:
    """Each agent's action as a vector ``[..., P]``, ``P = sum(head_sizes) + G``: one one-hot per
    categorical head (``heads [..., H]``), then the Gaussian values ``x [..., G]`` in policy
    units, clipped to [-1, 1] as the environment gets them."""
    parts = [nn.functional.one_hot(heads[..., h], n).to(x.dtype) for h, n in enumerate(head_sizes)]
    return torch.cat([*parts, x.clamp(-1.0, 1.0)], dim=-1)


class QCritic(nn.Module):
    """``Q(c_i, enc(a)) -> K`` values: the critic input of agent ``i`` and the joint action
    ``enc(a) = [enc(a_1), ..., enc(a_N)]`` (``N * P``), for the counterfactual baseline.

    The joint action enters the first layer linearly, ``h_0 = W_c c_i + W_a enc(a) + b``, so
    replacing agent ``j``'s slot by ``e'`` changes ``h_0`` by ``W_a^{(j)} (e' - enc(a_j))``:
    :meth:`swapped` evaluates many alternative actions of every agent from one encoding of the
    joint action, without a Python loop over agents.
    """

    def __init__(self, input_size: int, n_agents: int, per_agent: int, n_values: int,
                 hidden: int) -> None:
        super().__init__()
        self.n_agents, self.per_agent, self.hidden = n_agents, per_agent, hidden
        g = math.sqrt(2.0)
        self.inp = _layer(input_size, hidden, g)
        self.act = nn.Linear(n_agents * per_agent, hidden, bias=False)
        nn.init.orthogonal_(self.act.weight, g)
        self.body = nn.Sequential(nn.Tanh(), _layer(hidden, hidden, g), nn.Tanh(),
                                  _layer(hidden, n_values, 1.0))

    def forward(self, c: torch.Tensor, joint: torch.Tensor) -> torch.Tensor:
        """``c [..., I]``, ``joint [..., N * P]`` -> ``[..., K]``."""
        return self.body(self.inp(c) + self.act(joint))

    def taken(self, c: torch.Tensor, joint: torch.Tensor) -> torch.Tensor:
        """Every agent's Q of the joint action taken: ``c [..., N, I]``, ``joint [..., N * P]``
        (one per step) -> ``[..., N, K]`` (the joint action's term computed once per step)."""
        return self.body(self.inp(c) + self.act(joint).unsqueeze(-2))

    def swapped(self, c: torch.Tensor, joint: torch.Tensor, alts: torch.Tensor) -> torch.Tensor:
        """``Q(c_i, a_{-i}, a_i')`` for alternatives ``alts [..., N, U, P]`` of each agent ``i``
        (``c [..., N, I]``, ``joint [..., N * P]``) -> ``[..., N, U, K]``."""
        w = self.act.weight.view(self.hidden, self.n_agents, self.per_agent)  # [H, N, P]
        own = joint.view(*joint.shape[:-1], self.n_agents, self.per_agent)
        base = self.inp(c) + self.act(joint).unsqueeze(-2)  # [..., N, H]
        base = base - torch.einsum("...np,hnp->...nh", own, w)  # agent i's slot emptied
        return self.body(base.unsqueeze(-2) + torch.einsum("...nup,hnp->...nuh", alts, w))
