"""Run a policy for N episodes on any backend and summarise its KPIs with 95 % CIs.

The same runner serves ``xr-marl evaluate``, sweeps and benchmarks, so every number in the
project is computed one way: a KPI's episode value is its mean over the episode's *measured*
windows; the reported value is the mean over episodes with a 95 % t-interval across episodes.

A window is measured when the environment reported it (``info["measured"]``, True where an
environment does not say): the step on which an ns-3 simulator died carries zero placeholders,
not a window, and averaging it would pull delay and loss down. Each episode's number of
measured windows and, for episodes cut short, the reason, are part of the result.

Which KPIs, in what order, and how per-agent values make the team value all come from the
spec's declarations (``spec.kpis``, from the scenario): headline KPIs first.

The action diagnostics (:mod:`.actions`) count each agent's discrete choice; an agent whose
space is one bounded continuous dimension and no head is counted by the level of
:data:`CONTINUOUS_LEVELS` (even bins of its bounds, lowest first) its value falls in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xr_codec_marl.core.api import EnvSpec, VecMultiAgentEnv, had_choice, split_actions
from xr_codec_marl.core.kpis import KpiSpec
from xr_codec_marl.core.registry import recorded_settings
from xr_codec_marl.experiments.actions import action_diagnostics
from xr_codec_marl.experiments.stats import mean_ci95
from xr_codec_marl.policy import Policy

#: bins of a continuous-only action's bounds that the action diagnostics count as its levels
CONTINUOUS_LEVELS = 10


def _continuous_only(spec: EnvSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(which [N], low [N], high [N])``: the agents whose action space is one bounded
    continuous dimension and no categorical head, and its bounds; None when there are none."""
    which = np.array([not a.space.is_discrete and not a.space.heads  # type: ignore[union-attr]
                      and len(a.space.continuous) == 1 for a in spec.agents])
    if not which.any():
        return None
    low = np.array([a.space.continuous[0].low if w else 0.0 for a, w in zip(spec.agents, which)])
    high = np.array([a.space.continuous[0].high if w else 0.0
                     for a, w in zip(spec.agents, which)])
    return which, low, high


def _levels(index: np.ndarray, values: np.ndarray | None,
            only: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """The diagnosed action ``[B, N]``: continuous-only agents' level of their value
    (:data:`CONTINUOUS_LEVELS`), the others' as given."""
    which, low, high = only
    if values is None:
        return index
    span = np.where(high > low, high - low, 1.0)
    level = np.clip(np.floor((values[..., 0] - low) / span * CONTINUOUS_LEVELS), 0,
                    CONTINUOUS_LEVELS - 1).astype(index.dtype)
    return np.where(which, level, index)

@dataclass
class EpisodeBatch:
    """Raw record of a batch of episodes: per-window KPIs and team rewards, plus a mask."""

    kpis: np.ndarray  # [T, B, N, K]
    rewards: np.ndarray  # [T, B, C]
    global_kpis: np.ndarray  # [T, B, G]
    valid: np.ndarray  # [T, B] a measured window of a running episode (not done before it)
    truncation_reasons: list[str]  # [B] "" or why an episode ended early
    actions: np.ndarray | None = None  # [T, B, N] the discrete action taken
    choice: np.ndarray | None = None  # [T, B, N] valid, and the agent had > 1 action available
    #: [B] each copy's own seed, for envs that seed copies one by one (``info["seeds"]``:
    #: ns-3 workers get seed, seed + 1, ...); None: one generator for the whole batch
    seeds: list[int] | None = None

    @property
    def windows(self) -> np.ndarray:
        """``[B]`` measured windows per episode."""
        return self.valid.sum(axis=0).astype(np.int64)


@dataclass
class EvalResult:
    """Episode-level KPI values and their summaries."""

    policy: str
    backend: str
    seed: int
    agent_ids: tuple[str, ...]
    component_names: tuple[str, ...]
    #: result key -> [E, N] episode means per agent (agent-scope KPIs)
    episode_kpis: dict[str, np.ndarray]
    #: [E, C] mean team reward per window, per component
    episode_rewards: np.ndarray
    truncation_reasons: list[str] = field(default_factory=list)
    #: [E] measured windows per episode (KPIs of an episode without any are nan, and skipped)
    episode_windows: np.ndarray | None = None
    #: windows an episode has when nothing cuts it short
    episode_limit: int = 0
    #: the scenario settings the episodes ran with (``spec.extra["settings"]``), if known
    settings: dict[str, Any] = field(default_factory=dict)
    #: result key -> [E] episode means of global KPIs
    episode_global: dict[str, np.ndarray] = field(default_factory=dict)
    #: the declarations of the KPIs above, in report order
    kpi_specs: tuple[KpiSpec, ...] = ()
    #: the scenario (``--env``) name
    env: str = ""
    #: settings copied to the top level of the summary (the scenario's ``record_settings``)
    record: dict[str, Any] = field(default_factory=dict)
    #: per agent, did the policy adapt (:mod:`xr_codec_marl.experiments.actions`)
    action_stats: dict[str, Any] = field(default_factory=dict)

    @property
    def episodes(self) -> int:
        return int(self.episode_rewards.shape[0])

    def windows(self) -> np.ndarray:
        """``[E]`` measured windows per episode (the episode limit when not recorded)."""
        if self.episode_windows is None:
            return np.full(self.episodes, self.episode_limit, np.int64)
        return np.asarray(self.episode_windows, np.int64)

    def team_values(self, key: str) -> np.ndarray:
        """``[E]`` the team value of a KPI per episode (agents combined per its declaration)."""
        if key in self.episode_global:
            return self.episode_global[key]
        spec = next((k for k in self.kpi_specs if k.key == key), None)
        how = spec.team if spec is not None else "mean"
        return getattr(np, how)(self.episode_kpis[key], axis=1)

    def summary(self) -> dict[str, Any]:
        """The ``--json`` object of DESIGN.md §4 (plus ``ci95``, rewards and extras).

        Means and intervals run over the episodes with at least one measured window;
        ``windows`` lists every episode's measured windows and ``truncated`` the episodes cut
        short (index, windows, reason)."""
        order = [k.key for k in self.kpi_specs if k.headline] + \
            [k.key for k in self.kpi_specs if not k.headline]
        names = [k for k in order if k in self.episode_kpis or k in self.episode_global]
        names += [k for k in (*self.episode_kpis, *self.episode_global) if k not in names]
        windows = self.windows()
        ok = windows > 0
        kpis, ci, per_agent, per_agent_ci = {}, {}, {}, {}
        for name in names:
            m, h = mean_ci95(self.team_values(name)[ok])
            kpis[name], ci[name] = _num(m), _num(h)
        agent_names = [k for k in names if k in self.episode_kpis]
        for i, agent in enumerate(self.agent_ids):
            per_agent[agent], per_agent_ci[agent] = {}, {}
            for name in agent_names:
                m, h = mean_ci95(self.episode_kpis[name][ok, i])
                per_agent[agent][name], per_agent_ci[agent][name] = _num(m), _num(h)
        rm, rh = mean_ci95(self.episode_rewards[ok])
        tm, th = mean_ci95(self.episode_rewards[ok].sum(-1))  # the team reward: the objective
        reasons = self.truncation_reasons or [""] * self.episodes
        return {
            "policy": self.policy,
            "env": self.env,
            "backend": self.backend,
            **self.record,
            "episodes": self.episodes,
            "seed": self.seed,
            "kpis": kpis,
            "per_agent": per_agent,
            "ci95": ci,
            "per_agent_ci95": per_agent_ci,
            "rewards": {c: _num(rm[j]) for j, c in enumerate(self.component_names)},
            "rewards_ci95": {c: _num(rh[j]) for j, c in enumerate(self.component_names)},
            "team_reward": _num(tm),
            "team_reward_ci95": _num(th),
            "truncated_episodes": sum(1 for r in self.truncation_reasons if r),
            "episode_limit": self.episode_limit,
            "windows": [int(w) for w in windows],
            "measured_windows": int(windows.sum()),
            "truncated": [{"episode": e, "windows": int(windows[e]), "reason": r}
                          for e, r in enumerate(reasons) if r],
            "settings": self.settings,
            "actions": self.action_stats,
        }


def _num(x: float | np.floating) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def _weighted_mean(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Mean over windows (axis 0) weighted by ``weight``; nan where nothing weighs."""
    total = weight.sum(0)
    num = (values * weight).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, num / np.where(total > 0, total, 1.0), np.nan)


def run_episodes(
    env: VecMultiAgentEnv, policy: Policy, seed: int, explore: bool = False
) -> EpisodeBatch:
    """One batch of ``env.num_envs`` episodes in lockstep; windows after a done are masked."""
    step = env.reset(seed=seed)
    policy.reset(env.num_envs, seed=seed)
    seeds = step.info.get("seeds")
    b = env.num_envs
    done = np.zeros(b, bool)
    reasons = [""] * b
    kpis, rewards, valid, global_kpis, actions, choice = [], [], [], [], [], []
    limit = env.spec.episode_limit
    g = len(env.spec.global_kpi_names)
    only = _continuous_only(env.spec)
    for t in range(limit):
        act = policy.act(step, explore=explore)
        discrete, values = split_actions(act)
        discrete = np.asarray(discrete)
        index = discrete.reshape(b, -1)[:, :env.spec.n_agents] if discrete.ndim > 2 else discrete
        if only is not None:
            index = _levels(index, values, only)
        actions.append(index)
        chose = had_choice(env.spec, step.avail_actions)  # [B, N], before the step
        result = env.step(act)
        kpis.append(result.info["kpis"])
        global_kpis.append(result.info["global_kpis"] if g else np.zeros((b, 0), np.float32))
        rewards.append(result.rewards)
        measured = np.asarray(result.info.get("measured", np.ones(b, bool)), bool)
        valid.append(~done & measured)
        choice.append(chose & valid[-1][:, None])
        # truncation at the last window is the time limit; earlier, or for another reason
        # (a simulator dying on the last window), it is a failure to report
        why = result.info.get("truncation_reason", [""] * b)
        early = result.truncated & ~done & ((t < limit - 1) | ~measured)
        for i in np.flatnonzero(early):
            reasons[i] = why[i] or "truncated"
        done |= result.done
        step = result
        if done.all():
            break
    return EpisodeBatch(np.stack(kpis), np.stack(rewards), np.stack(global_kpis),
                        np.stack(valid), reasons, np.stack(actions), np.stack(choice),
                        None if seeds is None else [int(s) for s in seeds])


def evaluate_policy(
    make_env_batch: Any,
    policy: Policy,
    episodes: int,
    seed: int,
    backend: str,
    batch_size: int = 256,
) -> EvalResult:
    """Evaluate ``policy`` over ``episodes`` episodes, ``batch_size`` at a time.

    ``make_env_batch(num_envs)`` builds an environment of that batch size; batch ``j`` is
    reset with seed ``seed + j``, so two policies evaluated with the same seed meet the
    same random draws (common random numbers). An env that seeds its copies one by one
    (``info["seeds"]``, e.g. ns-3 workers seed, seed + 1, ...) is reset past the last seed
    it used instead, so no episode is played twice.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    per_kpi: dict[str, list[np.ndarray]] = {}
    per_global: dict[str, list[np.ndarray]] = {}
    rewards: list[np.ndarray] = []
    reasons: list[str] = []
    windows: list[np.ndarray] = []
    acts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per batch, padded to the limit
    env = None
    done_eps, j = 0, 0
    next_seed = seed
    spec: EnvSpec | None = None
    while done_eps < episodes:
        n = min(batch_size, episodes - done_eps)
        if env is None or env.num_envs != n:
            if env is not None:
                env.close()
            env = make_env_batch(n)
        spec = env.spec
        batch = run_episodes(env, policy, next_seed)
        next_seed = max(batch.seeds) + 1 if batch.seeds else seed + j + 1
        w = batch.valid.astype(np.float64)  # [T, B] measured windows only
        denom = np.where(w.sum(0) > 0, w.sum(0), np.nan)  # [B]; nan: nothing measured
        for k in spec.kpis:
            if k.scope == "global":
                values = batch.global_kpis[..., spec.global_kpi_names.index(k.name)]
                weight = (batch.global_kpis[..., spec.global_kpi_names.index(k.per)] * w
                          if k.per else w)
                per_global.setdefault(k.key, []).append(_weighted_mean(values, weight))
            elif k.name in spec.kpi_names:
                values = batch.kpis[..., spec.kpi_index(k.name)]
                weight = (batch.kpis[..., spec.kpi_index(k.per)] * w[..., None]
                          if k.per else np.broadcast_to(w[..., None], values.shape))
                per_kpi.setdefault(k.key, []).append(_weighted_mean(values, weight))
        rewards.append((batch.rewards * w[..., None]).sum(0) / denom[:, None])
        reasons += batch.truncation_reasons
        windows.append(batch.windows)
        acts.append(_padded(batch, int(spec.episode_limit)))
        done_eps += n
        j += 1
    assert env is not None and spec is not None
    env.close()
    return EvalResult(
        policy=getattr(policy, "name", type(policy).__name__),
        backend=backend,
        seed=seed,
        agent_ids=spec.agent_ids,
        component_names=spec.reward_components,
        episode_kpis={k: np.concatenate(v) for k, v in per_kpi.items()},
        episode_rewards=np.concatenate(rewards),
        truncation_reasons=reasons,
        episode_windows=np.concatenate(windows),
        episode_limit=int(spec.episode_limit),
        settings=dict(spec.extra.get("settings", {})),
        episode_global={k: np.concatenate(v) for k, v in per_global.items()},
        kpi_specs=tuple(k for k in spec.kpis if k.key in per_kpi or k.key in per_global),
        env=str(spec.extra.get("scenario", spec.name)),
        record=recorded_settings(spec),
        action_stats=action_diagnostics(
            np.concatenate([a for a, _, _ in acts], axis=1),
            np.concatenate([c for _, c, _ in acts], axis=1),
            np.concatenate([k for _, _, k in acts], axis=1),
            max(spec.n_actions, CONTINUOUS_LEVELS if _continuous_only(spec) else 0),
            spec.agent_ids, spec.kpi_names),
    )


def _padded(batch: EpisodeBatch, limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The batch's actions, choice mask and KPIs padded to ``limit`` windows (no choice)."""
    t = batch.actions.shape[0]
    pad = limit - t

    def grow(x: np.ndarray, fill: Any) -> np.ndarray:
        return np.concatenate([x, np.full((pad, *x.shape[1:]), fill, x.dtype)]) if pad else x

    return grow(batch.actions, 0), grow(batch.choice, False), grow(batch.kpis, 0)
