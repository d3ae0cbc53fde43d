"""A trained learner as an :class:`~xr_codec_marl.policy.ExplainablePolicy`.

Acts greedily on argmax_u sum_c Q_c (or sum_c l_c Q_c for MHA runs trained with
``importance_in_action``) and exposes the per-component Q-values for the explanation
framework. Vanilla learners expose one component, ``"total"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from xr_codec_marl.core.api import EnvSpec, Observation
from xr_codec_marl.errors import UsageError
from xr_codec_marl.learners.agents import build_agent
from xr_codec_marl.learners.checkpoint import check_spec, read_checkpoint
from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.learners.learner import AgentController, epsilon_greedy, require_discrete
from xr_codec_marl.learners.registry import PG_ALGOS, get_algo

if TYPE_CHECKING:
    from xr_codec_marl.learners.pg.policy import PGPolicy


class CheckpointPolicy:
    """Greedy decentralised execution of a trained agent network.

    ``act`` and ``q_values`` each advance the recurrent state by one window: call one of them
    per window. At the first window after ``reset`` the agents see no previous action (as in
    training), whatever ``prev_actions`` says.
    """

    def __init__(
        self, name: str, spec: EnvSpec, agent: torch.nn.Module, component_names: tuple[str, ...],
        action_weights: torch.Tensor | None = None, epsilon: float = 0.05,
    ) -> None:
        require_discrete(spec)
        self.name = name
        self.spec = spec
        self.component_names = component_names
        self.agent = agent.eval()
        self.action_weights = action_weights
        self.epsilon = epsilon
        self._ctl = AgentController(agent, spec.n_agents, spec.n_actions)
        self._last: np.ndarray | None = None
        self._rng = np.random.default_rng(0)

    @classmethod
    def from_checkpoint(cls, path: str | Path, spec: EnvSpec) -> CheckpointPolicy:
        data = read_checkpoint(path)
        try:
            algo = get_algo(data["algo"])
            cfg = LearnerConfig.from_dict(data["config"])
            saved = data["spec"]
            check_spec(saved, spec, algo.decomposed, str(path))
            n_q = len(saved["reward_components"]) if algo.decomposed else 1
            input_size = saved["obs_size"] + saved["n_actions"] + len(saved["agent_ids"])
            agent = build_agent(algo.structure, input_size, saved["n_actions"], n_q,
                                cfg.rnn_hidden, cfg.head_hidden)
            agent.load_state_dict(data["learner"]["agent"])
            adaptive = data["learner"].get("adaptive")
        except UsageError:
            raise
        except (KeyError, TypeError, RuntimeError, ValueError) as exc:
            raise UsageError(f"checkpoint {path} is incomplete or inconsistent: {exc}") from None
        weights = adaptive["l"].clone() if adaptive is not None and cfg.importance_in_action else None
        names = tuple(saved["reward_components"]) if algo.decomposed else ("total",)
        return cls(algo.name, spec, agent, names, weights, cfg.epsilon_finish)

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        self._ctl.reset(num_envs)
        self._last = None
        self._rng = np.random.default_rng(seed)

    def _q(self, step: Observation, prev: np.ndarray | None) -> torch.Tensor:
        if self._ctl.h is None or self._ctl.h.shape[0] != step.obs.shape[0] * self.spec.n_agents:
            self.reset(step.obs.shape[0])
            prev = None
        q = self._ctl.q_values(step.obs, prev)
        return q

    def act(self, step: Observation, explore: bool = False) -> np.ndarray:
        """Greedy joint action ``[B, N]`` (ε-greedy with the final ε if ``explore``)."""
        q = self._q(step, self._last)
        avail = np.asarray(step.avail_actions, bool)
        actions = epsilon_greedy(q, avail, self.epsilon if explore else 0.0, self._rng, self.action_weights)
        self._last = actions
        return actions

    def q_values(self, step: Observation, prev_actions: np.ndarray | None) -> np.ndarray:
        """Per-component Q-values ``float32 [B, N, C, A]`` (-inf where unavailable).

        ``prev_actions`` is the joint action taken before this window; ``None`` (or the
        first call after ``reset``) means "no previous action", as at an episode's start.
        """
        first = self._last is None
        prev = None if first or prev_actions is None else np.asarray(prev_actions, np.int64)
        q = self._q(step, prev).numpy().astype(np.float32)
        b = step.obs.shape[0]
        self._last = prev if prev is not None else np.zeros((b, self.spec.n_agents), np.int64)
        avail = np.asarray(step.avail_actions, bool)
        return np.where(avail[:, :, None, :], q, -np.inf).astype(np.float32)


def load_policy(path: str | Path, spec: EnvSpec) -> CheckpointPolicy | PGPolicy:
    """The greedy policy of the run directory or checkpoint file at ``path`` for ``spec``
    (a value learner's :class:`CheckpointPolicy`, or a policy-gradient learner's actor)."""
    data = read_checkpoint(path)
    if data["algo"] in PG_ALGOS:
        from xr_codec_marl.learners.pg.policy import PGPolicy

        return PGPolicy.from_checkpoint_data(data, spec, str(path))
    return CheckpointPolicy.from_checkpoint(str(path), spec)
