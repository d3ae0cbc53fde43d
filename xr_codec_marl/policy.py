"""The policy seam: anything that maps a batch of observations to joint actions.

Rule-based baselines (a scenario's rules, max, min, random), trained learners loaded from checkpoints and
remote agents all implement :class:`Policy`, so runners, the CLI, sweeps and the explanation
framework treat them alike and backends never know which one is acting.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from xr_codec_marl.core.api import EnvSpec, Observation


@runtime_checkable
class Policy(Protocol):
    """Maps ``Observation`` (batch ``B``) to joint actions ``int64 [B, N]``.

    ``reset`` starts a new batch of episodes (recurrent state, internal rates, RNG);
    ``act`` is called once per window with the latest reset/step result, whose ``info``
    carries the per-UE KPIs of the window just finished.
    """

    name: str
    spec: EnvSpec

    def reset(self, num_envs: int, seed: int | None = None) -> None: ...

    def act(self, step: Observation, explore: bool = False) -> np.ndarray: ...


@runtime_checkable
class ExplainablePolicy(Policy, Protocol):
    """A policy with decomposed Q-values (the D / MH-D / MHA-D learners).

    ``q_values`` feeds the agents one window of observations together with the joint action
    that was actually taken before it (``prev_actions [B, N]``, which may come from another
    policy, e.g. the reference rule in the Fig. 6 evaluation framework; ``None`` at the first window, as in
    training), advances the recurrent state and
    returns the per-component Q-values ``float32 [B, N, C, A]`` (unavailable actions -inf).
    Component order is ``component_names``.

    Optional, for values that condition on the other agents' current actions (a
    policy-gradient run's action-value critic, ``Q_c(s, a_{-i}, u)``): ``needs_joint_actions``
    True makes the explanation framework pass the joint action taken at the window as
    ``q_values(step, prev_actions, joint_actions=...)``; ``chosen_actions(step) -> [B, N]`` is
    the policy's own action when it does not act by ``argmax_u Σ_c Q_c`` (an actor's mode).
    """

    component_names: tuple[str, ...]

    def q_values(self, step: Observation, prev_actions: np.ndarray | None) -> np.ndarray: ...
