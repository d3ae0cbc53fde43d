"""Collect a batch of whole episodes from any ``VecMultiAgentEnv`` (one per env copy).

All copies run in lockstep; the batch ends when the episode limit is reached or when any
copy reports done (the API requires a reset then). Copies cut short that way are stored as
truncated (no ``terminated`` flag), so the learner bootstraps from their last state.
A window the environment did not measure (``info["measured"]`` False: its simulator died or
went silent, so its rewards and KPIs are placeholders) is neither learnt from (not
``filled``, from then on for that copy) nor averaged into the episode's KPIs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from xr_codec_marl.core.action_spread import action_counts, spread
from xr_codec_marl.core.api import VecMultiAgentEnv
from xr_codec_marl.learners.learner import AgentController, epsilon_greedy
from xr_codec_marl.learners.replay import episode_shapes


@dataclass
class RolloutStats:
    """What one batch of episodes looked like (for logs and progress bars)."""

    length: int
    returns: np.ndarray  # [B, C] undiscounted return per component
    kpis: np.ndarray | None = None  # [B, N, K] mean per-UE KPIs over measured windows (nan: none)
    measured: np.ndarray | None = None  # [B] measured windows per copy
    truncation_reasons: list[str] = field(default_factory=list)
    #: [B, N] per episode and agent: entropy (bits) of the actions taken where the agent had a
    #: choice, and the share of those windows away from its most frequent action
    action_entropy: np.ndarray | None = None
    off_modal: np.ndarray | None = None


class EpisodeRunner:
    """Plays ``num_envs`` episodes at once with an ε-greedy agent controller."""

    def __init__(self, env: VecMultiAgentEnv, controller: AgentController) -> None:
        self.env = env
        self.controller = controller
        spec = env.spec
        self.shapes = episode_shapes(
            spec.episode_limit, spec.n_agents, spec.obs_size, spec.state_size, spec.n_actions,
            spec.n_components,
        )

    def run(
        self, epsilon: float, rng: np.random.Generator, seed: int | None,
        weights: torch.Tensor | None = None,
    ) -> tuple[dict[str, np.ndarray], RolloutStats]:
        """One batch of episodes -> (padded episode arrays with leading ``B``, stats)."""
        env, spec = self.env, self.env.spec
        b = env.num_envs
        ep = {k: np.zeros((b, *shape), dtype=_DTYPES[k]) for k, shape in self.shapes.items()}
        step = env.reset(seed=seed)
        self.controller.reset(b)
        last: np.ndarray | None = None
        kpi_sum: np.ndarray | None = None
        alive = np.ones(b, dtype=bool)  # copies whose windows so far were all measured
        n_measured = np.zeros(b, dtype=np.int64)
        reasons: list[str] = []
        t = 0
        for t in range(spec.episode_limit):
            ep["obs"][:, t], ep["state"][:, t], ep["avail"][:, t] = step.obs, step.state, step.avail_actions
            q = self.controller.q_values(step.obs, last)
            actions = epsilon_greedy(q, np.asarray(step.avail_actions, bool), epsilon, rng, weights)
            res = env.step(actions)
            ep["actions"][:, t] = actions
            ep["rewards"][:, t] = res.rewards
            ep["terminated"][:, t] = res.terminated
            info = res.info if isinstance(res.info, dict) else {}
            if info.get("measured") is not None:  # envs that do not say measure every window
                alive &= np.asarray(info["measured"], bool)
            ep["filled"][:, t] = alive
            n_measured += alive
            kpis = info.get("kpis")
            if kpis is not None and np.size(kpis):
                part = np.where(alive[:, None, None], np.asarray(kpis, np.float64), 0.0)
                kpi_sum = part if kpi_sum is None else kpi_sum + part
            step, last = res, actions
            if np.any(res.done):
                reasons = list(res.info.get("truncation_reason", []) or [])
                break
        length = t + 1
        ep["obs"][:, length], ep["state"][:, length] = step.obs, step.state
        ep["avail"][:, length] = step.avail_actions
        choice = ep["filled"][:, :length, None] & (ep["avail"][:, :length].sum(-1) > 1)
        entropy, off_modal = spread(action_counts(ep["actions"][:, :length], choice,
                                                  spec.n_actions))
        stats = RolloutStats(
            length=length,
            action_entropy=entropy,
            off_modal=off_modal,
            returns=(ep["rewards"] * ep["filled"][..., None]).sum(axis=1),
            kpis=None if kpi_sum is None else mean_over_measured(kpi_sum, n_measured),
            measured=n_measured,
            truncation_reasons=[r for r in reasons if r and r != "time limit"],
        )
        return ep, stats


def mean_over_measured(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``total / count`` per copy, nan for a copy without a measured window."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count[:, None, None] > 0, total / np.maximum(count, 1)[:, None, None],
                        np.nan)


_DTYPES: dict[str, Any] = {
    "obs": np.float32, "state": np.float32, "avail": np.bool_, "actions": np.int64,
    "rewards": np.float32, "terminated": np.bool_, "filled": np.bool_,
}
