"""Collect a batch of whole episodes for an on-policy update (one per env copy).

Like the value learners' :class:`~xr_codec_marl.learners.runner.EpisodeRunner`: all copies
run in lockstep; the batch ends at the episode limit or when any copy is done (copies cut
short that way are not ``terminated``, so GAE bootstraps from their last state); a window the
environment did not measure (``info["measured"]`` False) is not learnt from (``filled``
False from then on for that copy) nor averaged into the KPIs. What it stores is the policy's
own action (heads and unclipped Gaussian samples), which the env got mapped and clipped.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from xr_codec_marl.core.action_spread import action_counts, spread
from xr_codec_marl.core.api import VecMultiAgentEnv
from xr_codec_marl.learners.pg.layout import ActionLayout
from xr_codec_marl.learners.runner import RolloutStats, mean_over_measured

#: ``(obs [B, N, O], avail [B, N, A]) -> (heads [B, N, H], x [B, N, G])``
ActFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def collect(env: VecMultiAgentEnv, act: ActFn, layout: ActionLayout,
            seed: int | None) -> tuple[dict[str, np.ndarray], RolloutStats]:
    """One batch of episodes -> (arrays with leading ``[B, T(+1)]``, stats)."""
    spec, b = env.spec, env.num_envs
    obs, state, avail, heads, xs, joint = [], [], [], [], [], []
    rewards, terminated, filled = [], [], []
    step = env.reset(seed=seed)
    kpi_sum: np.ndarray | None = None
    alive = np.ones(b, dtype=bool)
    n_measured = np.zeros(b, dtype=np.int64)
    reasons: list[str] = []
    for _ in range(spec.episode_limit):
        obs.append(step.obs)
        state.append(step.state)
        avail.append(np.asarray(step.avail_actions, bool))
        h, x = act(step.obs, avail[-1])
        res = env.step(layout.to_env(h, x))
        heads.append(h)
        xs.append(x)
        joint.append(layout.joint_index(h))
        rewards.append(res.rewards)
        terminated.append(res.terminated)
        info = res.info if isinstance(res.info, dict) else {}
        if info.get("measured") is not None:
            alive = alive & np.asarray(info["measured"], bool)
        filled.append(alive.copy())
        n_measured += alive
        kpis = info.get("kpis")
        if kpis is not None and np.size(kpis):
            part = np.where(alive[:, None, None], np.asarray(kpis, np.float64), 0.0)
            kpi_sum = part if kpi_sum is None else kpi_sum + part
        step = res
        if np.any(res.done):
            reasons = list(info.get("truncation_reason", []) or [])
            break
    obs.append(step.obs)
    state.append(step.state)
    avail.append(np.asarray(step.avail_actions, bool))
    batch = {
        "obs": np.stack(obs, 1).astype(np.float32), "state": np.stack(state, 1).astype(np.float32),
        "avail": np.stack(avail, 1), "heads": np.stack(heads, 1).astype(np.int64),
        "x": np.stack(xs, 1).astype(np.float32), "rewards": np.stack(rewards, 1).astype(np.float32),
        "terminated": np.stack(terminated, 1).astype(bool), "filled": np.stack(filled, 1),
    }
    length = len(heads)
    acts = np.stack(joint, 1)
    choice = batch["filled"][:, :, None] & (batch["avail"][:, :length].sum(-1) > 1)
    entropy, off_modal = spread(action_counts(acts, choice, spec.n_actions))
    stats = RolloutStats(
        length=length,
        returns=(batch["rewards"] * batch["filled"][..., None]).sum(axis=1),
        kpis=None if kpi_sum is None else mean_over_measured(kpi_sum, n_measured),
        measured=n_measured,
        truncation_reasons=[r for r in reasons if r and r != "time limit"],
        action_entropy=entropy,
        off_modal=off_modal,
    )
    return batch, stats
