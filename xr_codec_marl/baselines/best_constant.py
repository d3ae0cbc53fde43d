"""``best-fixed``: the best constant action, tuned on seeds the evaluation never uses.

A tuned constant is the yardstick an adaptive policy must beat (issue 14): a learner that
settles on one action adds nothing a constant does not. When built for a spec, this rule plays
every constant action ``fixed:K`` on the scenario's analytic twin of the spec's env (its
settings; for an ns-3 env the twin calibrated to its RAN: ``Scenario.analytic_twin``) for ``TUNE_EPISODES`` episodes from ``TUNE_SEED`` (far from the
evaluation seeds, which start at 0), and keeps the one of highest mean team reward (the sum of
the reward components per window). It then acts as that constant; its name says which
(``best-fixed:K``). It takes ordered action spaces (rates), as ``max`` and ``min`` do: an
unordered space's constants are choices of another kind (``fixed:K``).
"""

from __future__ import annotations

import numpy as np

from xr_codec_marl.baselines.rules import ConstantPolicy
from xr_codec_marl.core.api import EnvSpec, Observation

#: tuning seeds start here (evaluations use 0, 1, ...; training seeds are small too)
TUNE_SEED = 1_000_003
TUNE_EPISODES = 16


def _team_reward_per_window(env, policy, seed: int) -> float:
    """Mean team reward per window (reward components summed) of one batch of episodes."""
    step = env.reset(seed=seed)
    total, windows = 0.0, 0
    for _ in range(env.spec.episode_limit):
        step = env.step(policy.act(step))
        total += float(np.asarray(step.rewards, np.float64).sum())
        windows += env.num_envs
        if np.all(step.terminated | step.truncated):
            break
    return total / max(windows, 1)


def twin_scores(spec: EnvSpec, policies: list, episodes: int, seed: int) -> np.ndarray:
    """Each policy's mean team reward per window on ``episodes`` episodes from ``seed`` of the
    analytic twin of the env ``spec`` describes (``Scenario.analytic_twin``; the same
    episodes for every policy): what rules tuned on the twin choose among."""
    from xr_codec_marl.core.registry import get_scenario

    scenario = get_scenario(str(spec.extra.get("scenario", spec.name)))
    settings, options = scenario.analytic_twin(spec)
    env = scenario.make_analytic(settings, episodes, None, **options)
    try:
        return np.array([_team_reward_per_window(env, p, seed) for p in policies])
    finally:
        env.close()


class BestConstantPolicy:
    """The constant action of highest team reward on the tuning seeds (see the module)."""

    def __init__(self, spec: EnvSpec, episodes: int = TUNE_EPISODES,
                 seed: int = TUNE_SEED) -> None:
        if not all(a.space.ordered for a in spec.agents):
            raise ValueError(f"best-fixed tunes a constant rate: it needs ordered actions, "
                             f"{spec.name} has unordered ones (use fixed:K)")
        n = min(a.n_actions for a in spec.agents)
        scores = twin_scores(spec, [ConstantPolicy(spec, k) for k in range(n)], episodes, seed)
        self.k = int(np.argmax(scores))
        self.scores = scores
        self.spec = spec
        self.name = f"best-fixed:{self.k}"
        self._const = ConstantPolicy(spec, self.k)

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        """Stateless."""

    def act(self, step: Observation, explore: bool = False) -> np.ndarray:
        return self._const.act(step, explore)
