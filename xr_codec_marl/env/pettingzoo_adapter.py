"""PettingZoo ``ParallelEnv`` view of any single-copy backend, for other MARL libraries.

Rewards are scalars in PettingZoo, so each agent receives the team's summed reward; the
component vector and the per-agent KPIs are in ``infos[agent]``, with the
action mask under ``infos[agent]["action_mask"]``.

A discrete action space is ``Discrete(n)``. A hybrid one is a ``Dict`` with one
``Discrete`` per categorical head (by the head's name) and ``"continuous"``, a ``Box`` of the
bounded dimensions; its ``action_mask`` is a dict of per-head masks (a head's category is
allowed when some available joint action has it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from xr_codec_marl.core.api import AgentSpec, HybridActions, Observation, VecMultiAgentEnv
from xr_codec_marl.core.spaces import HybridSpace


class MultiAgentParallelEnv(ParallelEnv):
    """Wraps a ``VecMultiAgentEnv`` with ``num_envs == 1`` as a PettingZoo parallel env."""

    metadata = {"name": "xr_codec_marl_v0", "render_modes": []}

    def __init__(self, env: VecMultiAgentEnv) -> None:
        if env.num_envs != 1:
            raise ValueError(f"MultiAgentParallelEnv wraps one environment copy, got num_envs={env.num_envs}")
        self._env = env
        spec = env.spec
        self.spec = spec
        self.possible_agents = list(spec.agent_ids)
        self.agents: list[str] = []
        self.observation_spaces = {
            a.agent_id: spaces.Box(-np.inf, np.inf, (spec.obs_size,), np.float32) for a in spec.agents
        }
        self.action_spaces = {a.agent_id: _action_space(a) for a in spec.agents}
        self._hybrid = not spec.is_discrete
        self.state_space = spaces.Box(-np.inf, np.inf, (spec.state_size,), np.float32)
        self._last: Observation | None = None
        #: after a seeded reset, reset() without a seed plays seed + 1, seed + 2, ...
        self._seed: int | None = None
        self._episode = 0

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def state(self) -> np.ndarray:
        if self._last is None:
            raise RuntimeError("call reset() first")
        return self._last.state[0]

    def _split(self, step: Observation) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        obs, infos = {}, {}
        kpis = step.info.get("kpis")
        glob = step.info.get("global_kpis")
        shared = ({} if glob is None else
                  dict(zip(self.spec.global_kpi_names, map(float, glob[0]))))
        for i, agent in enumerate(self.possible_agents):
            obs[agent] = step.obs[0, i]
            infos[agent] = {"action_mask": _mask(self.spec.agents[i], step.avail_actions[0, i])}
            if kpis is not None:
                infos[agent]["kpis"] = dict(zip(self.spec.kpi_names, map(float, kpis[0, i])))
            if shared:
                infos[agent]["global_kpis"] = shared
        return obs, infos

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        if seed is not None:
            self._seed, self._episode = seed, 0
        elif self._seed is not None:  # continue the seeded sequence: reproducible episodes
            self._episode += 1
            seed = self._seed + self._episode
        self._last = self._env.reset(seed=seed)
        self.agents = list(self.possible_agents)
        return self._split(self._last)

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError("episode is over; call reset()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"missing actions for agents: {', '.join(missing)}")
        if self._hybrid:
            result = self._env.step(self._hybrid_actions(actions))
        else:
            joint = np.array([[int(actions[a]) for a in self.possible_agents]], dtype=np.int64)
            result = self._env.step(joint)
        self._last = result
        obs, infos = self._split(result)
        components = dict(zip(self.spec.reward_components, map(float, result.rewards[0])))
        total = float(result.rewards[0].sum())
        for agent in self.agents:
            infos[agent]["reward_components"] = components
        rewards = {a: total for a in self.agents}
        terms = {a: bool(result.terminated[0]) for a in self.agents}
        truncs = {a: bool(result.truncated[0]) for a in self.agents}
        if result.done[0]:
            self.agents = []
        return obs, rewards, terms, truncs, infos

    def close(self) -> None:
        self._env.close()

    def _hybrid_actions(self, actions: dict[str, Any]) -> HybridActions:
        """The env's joint actions of one ``Dict`` action per agent."""
        n, d = self.spec.n_agents, self.spec.n_continuous
        joint = np.zeros((1, n), np.int64)
        values = np.zeros((1, n, d), np.float64)
        for i, agent in enumerate(self.spec.agents):
            space = agent.space
            act = actions[agent.agent_id]
            if isinstance(space, HybridSpace):
                heads = [int(act[h.name]) for h in space.heads]
                joint[0, i] = int(np.ravel_multi_index(heads, [h.n for h in space.heads])) \
                    if heads else 0
                cont = np.asarray(act["continuous"], np.float64).reshape(-1)
                values[0, i, : cont.size] = cont
            else:
                joint[0, i] = int(act)
        return HybridActions(joint, values)


def _action_space(agent: AgentSpec) -> spaces.Space:
    """``Discrete(n)``, or for a hybrid space a ``Dict`` of its heads and ``"continuous"``."""
    space = agent.space
    if not isinstance(space, HybridSpace):
        return spaces.Discrete(agent.n_actions)
    parts: dict[str, spaces.Space] = {h.name: spaces.Discrete(h.n) for h in space.heads}
    if "continuous" in parts:
        raise ValueError(f"agent {agent.agent_id}: a head may not be named 'continuous'")
    low = np.array([c.low for c in space.continuous], np.float32)
    high = np.array([c.high for c in space.continuous], np.float32)
    parts["continuous"] = spaces.Box(low, high, (len(space.continuous),), np.float32)
    return spaces.Dict(parts)


def _mask(agent: AgentSpec, avail: np.ndarray) -> Any:
    """The agent's action mask: int8 ``[n]``, or per head for a hybrid space."""
    space = agent.space
    if not isinstance(space, HybridSpace):
        return avail.astype(np.int8)
    sizes = [h.n for h in space.heads]
    grid = np.asarray(avail[: space.n_joint], bool).reshape(sizes)
    return {h.name: grid.any(axis=tuple(j for j in range(len(sizes)) if j != k)).astype(np.int8)
            for k, h in enumerate(space.heads)}
