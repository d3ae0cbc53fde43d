"""The environment seam: specs and the batched reset/step contract every backend implements.

Every backend (the analytic model, the live ns-3 co-simulation, toy games in tests) is a
*vectorised* multi-agent environment: arrays carry a leading batch dimension ``B`` of
independent environment copies, then the agent dimension ``N``. Policies and learners only
ever see this API, so they run unchanged against any backend.

Shapes (``A`` = max actions over agents, ``C`` = reward components, ``K`` = KPIs):

- ``obs``           float32 ``[B, N, obs_size]``
- ``state``         float32 ``[B, state_size]``
- ``avail_actions`` bool    ``[B, N, A]``
- ``rewards``       float32 ``[B, C]``  (team reward, one value per component)
- ``terminated``    bool    ``[B]``     (true end of the task: no bootstrapping)
- ``truncated``     bool    ``[B]``     (time limit or a failed simulator: bootstrap / discard)
- ``info["kpis"]``  float32 ``[B, N, K]`` per-agent KPIs of the step, names in ``spec.kpi_names``
- ``info["global_kpis"]`` float32 ``[B, G]`` KPIs of the whole environment (when
  ``spec.global_kpi_names`` is not empty)
- ``info["agent_rewards"]`` float32 ``[B, N, C]`` per-agent reward components, when the
  backend has them (optional)

Actions are ``int [B, N]`` joint discrete indices; agents with a hybrid action space also
take ``float [B, N, D]`` continuous values (:class:`HybridActions`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, runtime_checkable

import numpy as np

from xr_codec_marl.core.kpis import KpiSpec, RewardSpec, headline, kpis_from_names
from xr_codec_marl.core.spaces import ActionSpace, DiscreteSpace


@dataclass(frozen=True)
class AgentSpec:
    """One agent: its id, kind, observation size and action space.

    ``n_actions`` is the size of the joint discrete index (what ``avail_actions`` masks);
    ``action_values`` the physical values of a discrete space's actions (empty when actions
    are abstract). Without an explicit ``action_space`` the agent has a discrete one of
    ``n_actions``, ordered exactly when it has action values.
    """

    agent_id: str
    kind: str
    obs_size: int
    n_actions: int
    action_values: tuple[float, ...] = ()
    action_space: ActionSpace | None = None

    def __post_init__(self) -> None:
        if self.action_space is None:
            object.__setattr__(self, "action_space", DiscreteSpace(
                self.n_actions, tuple(self.action_values), ordered=bool(self.action_values)))
        elif self.action_space.n_joint != self.n_actions:
            raise ValueError(f"agent {self.agent_id}: n_actions {self.n_actions} is not its "
                             f"action space's {self.action_space.n_joint}")

    @property
    def space(self) -> ActionSpace:
        assert self.action_space is not None
        return self.action_space

    @property
    def n_continuous(self) -> int:
        return len(self.space.continuous)


@dataclass(frozen=True)
class EnvSpec:
    """Everything a policy or learner needs to size itself for an environment (the sizes
    derived from the agents are computed once: they sit on every step's path).

    ``kpis``/``rewards`` are the scenario's declarations (units, directions, labels); a spec
    read off the wire, which carries names only, gets plain ones."""

    name: str
    agents: tuple[AgentSpec, ...]
    state_size: int
    reward_components: tuple[str, ...]
    kpi_names: tuple[str, ...]
    step_interval_s: float
    episode_limit: int
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    global_kpi_names: tuple[str, ...] = ()
    kpis: tuple[KpiSpec, ...] = field(default=(), compare=False)
    rewards: tuple[RewardSpec, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not self.kpis:
            object.__setattr__(self, "kpis", kpis_from_names(self.kpi_names, self.global_kpi_names))
        if not self.rewards:
            object.__setattr__(self, "rewards", tuple(RewardSpec(c) for c in self.reward_components))

    @cached_property
    def n_agents(self) -> int:
        return len(self.agents)

    @cached_property
    def agent_ids(self) -> tuple[str, ...]:
        return tuple(a.agent_id for a in self.agents)

    @cached_property
    def obs_size(self) -> int:
        """Largest per-agent observation (smaller ones are zero-padded)."""
        return max(a.obs_size for a in self.agents)

    @cached_property
    def n_actions(self) -> int:
        """Largest per-agent joint discrete index (unavailable actions are masked)."""
        return max(a.n_actions for a in self.agents)

    @cached_property
    def n_continuous(self) -> int:
        """Largest number of continuous action dimensions of an agent (0: all discrete)."""
        return max(a.n_continuous for a in self.agents)

    @cached_property
    def is_discrete(self) -> bool:
        """Every agent has a discrete action space (what value learners need)."""
        return all(a.space.is_discrete for a in self.agents)

    @property
    def n_components(self) -> int:
        return len(self.reward_components)

    def kpi_index(self, name: str) -> int:
        try:
            return self.kpi_names.index(name)
        except ValueError:
            raise KeyError(f"unknown KPI {name!r}; known: {', '.join(self.kpi_names)}") from None

    def kpi(self, key: str) -> KpiSpec:
        """The declaration of a KPI by its result key or its reported name."""
        for k in self.kpis:
            if key in (k.key, k.name):
                return k
        raise KeyError(f"unknown KPI {key!r}; known: {', '.join(k.key for k in self.kpis)}")

    @property
    def headline_kpis(self) -> tuple[KpiSpec, ...]:
        """The declared headline KPIs (every KPI when none is marked headline)."""
        return headline(self.kpis)


@dataclass
class Observation:
    """What a reset or a step hands the agents (see the module docstring for shapes)."""

    obs: np.ndarray
    state: np.ndarray
    avail_actions: np.ndarray
    #: backend facts: per-agent KPIs ``[B, N, K]`` under ``"kpis"`` (zeros at reset), global
    #: ones ``[B, G]`` under ``"global_kpis"``
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepResult(Observation):
    """One joint step of ``B`` environments."""

    rewards: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    terminated: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    truncated: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    @property
    def done(self) -> np.ndarray:
        return self.terminated | self.truncated


@runtime_checkable
class VecMultiAgentEnv(Protocol):
    """A batch of ``num_envs`` independent copies of one multi-agent environment.

    All copies run in lockstep with the same episode limit. After any copy is done the
    caller must ``reset`` before stepping again (runners do this per episode batch).
    ``info["truncation_reason"]`` (list of ``B`` strings, empty when not truncated early)
    says why a copy was cut short, e.g. a simulator that died.
    """

    spec: EnvSpec
    num_envs: int

    def reset(self, seed: int | None = None) -> Observation: ...

    def step(self, actions: np.ndarray) -> StepResult: ...

    def close(self) -> None: ...


@dataclass
class HybridActions:
    """Joint actions of agents with hybrid spaces: the discrete index ``[B, N]`` and the
    continuous values ``[B, N, D]`` (``D = spec.n_continuous``; unused columns ignored)."""

    discrete: np.ndarray
    continuous: np.ndarray


def split_actions(actions: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """``(discrete [B, N], continuous [B, N, D] or None)`` of an action array or HybridActions."""
    if isinstance(actions, HybridActions):
        return np.asarray(actions.discrete), np.asarray(actions.continuous, np.float64)
    return np.asarray(actions), None


def continuous_choice(spec: EnvSpec) -> np.ndarray:
    """``bool [N]``: the agents whose whole choice is continuous — one discrete value (no head
    to choose in) and a continuous dimension of non-empty range. Availability cannot take
    their choice away, so :func:`had_choice` counts them as choosing in every window."""
    return np.array([not a.space.is_discrete and a.n_actions == 1
                     and any(d.high > d.low for d in a.space.continuous)  # type: ignore[union-attr]
                     for a in spec.agents])


def had_choice(spec: EnvSpec, avail: np.ndarray) -> np.ndarray:
    """``bool [..., N]``: whether each agent had something to decide given ``avail [..., N, A]``
    — more than one available discrete action, or a wholly continuous choice."""
    return (np.asarray(avail, bool).sum(-1) > 1) | continuous_choice(spec)


def validate_actions(spec: EnvSpec, actions: Any, avail: np.ndarray) -> np.ndarray:
    """Check joint actions against shapes, bounds and availability; return the discrete
    indices ``[B, N]`` as int64 (continuous values, when given, are checked in place).

    Raises ``ValueError`` naming the first problem, so a bad policy fails loudly instead of
    silently indexing out of range.
    """
    actions, cont = split_actions(actions)
    if cont is not None:
        _validate_continuous(spec, cont, avail.shape[0])
    elif spec.n_continuous:
        raise ValueError("this environment has continuous action dimensions: pass "
                         "HybridActions(discrete, continuous)")
    if actions.ndim != 2 or actions.shape[1] != spec.n_agents or actions.shape[0] != avail.shape[0]:
        raise ValueError(
            f"actions must have shape [{avail.shape[0]}, {spec.n_agents}], got {list(actions.shape)}"
        )
    if not np.issubdtype(actions.dtype, np.integer):
        if not np.all(np.equal(np.mod(actions, 1), 0)):
            raise ValueError("actions must be integer action indices")
    actions = actions.astype(np.int64)
    if actions.min() < 0 or actions.max() >= avail.shape[2]:
        raise ValueError(
            f"action index out of range [0, {avail.shape[2] - 1}]: "
            f"min {actions.min()}, max {actions.max()}"
        )
    ok = np.take_along_axis(avail, actions[..., None], axis=2)[..., 0]
    if not ok.all():
        b, n = np.argwhere(~ok)[0]
        raise ValueError(
            f"unavailable action {actions[b, n]} for agent {spec.agents[n].agent_id} (env {b})"
        )
    return actions


def _validate_continuous(spec: EnvSpec, cont: np.ndarray, batch: int) -> None:
    d = spec.n_continuous
    if cont.shape != (batch, spec.n_agents, d):
        raise ValueError(f"continuous actions must have shape [{batch}, {spec.n_agents}, {d}], "
                         f"got {list(cont.shape)}")
    if not np.isfinite(cont).all():
        raise ValueError("continuous actions must be finite")
    for n, agent in enumerate(spec.agents):
        for j, dim in enumerate(agent.space.continuous):
            v = cont[:, n, j]
            if (v < dim.low).any() or (v > dim.high).any():
                raise ValueError(f"continuous action {dim.name!r} of agent {agent.agent_id} out "
                                 f"of [{dim.low:g}, {dim.high:g}]: {v.min():g}..{v.max():g}")
