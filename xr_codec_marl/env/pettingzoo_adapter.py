"""PettingZoo ``ParallelEnv`` view of any single-copy backend, for other MARL libraries.

Rewards are scalars in PettingZoo, so each agent receives the team's summed reward; the
component vector and the per-agent KPIs are in ``infos[agent]``, with the
action mask under ``infos[agent]["action_mask"]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from xr_codec_marl.core.api import Observation, VecMultiAgentEnv


class MultiAgentParallelEnv(ParallelEnv):
    """Wraps a ``VecMultiAgentEnv`` with ``num_envs == 1`` as a PettingZoo parallel env."""

    metadata = {"name": "xr_codec_marl_v0", "render_modes": []}

    def __init__(self, env: VecMultiAgentEnv) -> None:
        if not env.spec.is_discrete:
            raise ValueError("the PettingZoo adapter takes discrete action spaces only so far")
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
        self.action_spaces = {a.agent_id: spaces.Discrete(a.n_actions) for a in spec.agents}
        self.state_space = spaces.Box(-np.inf, np.inf, (spec.state_size,), np.float32)
        self._last: Observation | None = None

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
            infos[agent] = {"action_mask": step.avail_actions[0, i].astype(np.int8)}
            if kpis is not None:
                infos[agent]["kpis"] = dict(zip(self.spec.kpi_names, map(float, kpis[0, i])))
            if shared:
                infos[agent]["global_kpis"] = shared
        return obs, infos

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        self._last = self._env.reset(seed=seed)
        self.agents = list(self.possible_agents)
        return self._split(self._last)

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError("episode is over; call reset()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"missing actions for agents: {', '.join(missing)}")
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
