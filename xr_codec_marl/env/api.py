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
- ``info["kpis"]``  float32 ``[B, N, K]`` per-UE KPIs of the window, names in ``spec.kpi_names``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: The reward components of the XR codec problem (seed 002, eqs. 15-20), in this order.
XR_REWARD_COMPONENTS: tuple[str, ...] = ("delay", "pdr", "drr")

#: Per-UE KPIs every XR backend reports in ``info["kpis"]``, in this order.
XR_KPI_NAMES: tuple[str, ...] = (
    "delay_ms",
    "jitter_ms",
    "pdr",
    "plr",
    "throughput_mbps",
    "xqi",
    "buffer_ratio",
    "codec_rate_mbps",
)


@dataclass(frozen=True)
class AgentSpec:
    """One agent: its id (``AR``), kind (``xr``/``cg``), observation and action sizes.

    ``action_values`` are the physical values the discrete actions stand for (codec rates in
    Mbps for the XR problem); empty when actions are abstract.
    """

    agent_id: str
    kind: str
    obs_size: int
    n_actions: int
    action_values: tuple[float, ...] = ()


@dataclass(frozen=True)
class EnvSpec:
    """Everything a policy or learner needs to size itself for an environment."""

    name: str
    agents: tuple[AgentSpec, ...]
    state_size: int
    reward_components: tuple[str, ...]
    kpi_names: tuple[str, ...]
    step_interval_s: float
    episode_limit: int
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def agent_ids(self) -> tuple[str, ...]:
        return tuple(a.agent_id for a in self.agents)

    @property
    def obs_size(self) -> int:
        """Largest per-agent observation (smaller ones are zero-padded)."""
        return max(a.obs_size for a in self.agents)

    @property
    def n_actions(self) -> int:
        """Largest per-agent action count (unavailable actions are masked)."""
        return max(a.n_actions for a in self.agents)

    @property
    def n_components(self) -> int:
        return len(self.reward_components)

    def kpi_index(self, name: str) -> int:
        try:
            return self.kpi_names.index(name)
        except ValueError:
            raise KeyError(f"unknown KPI {name!r}; known: {', '.join(self.kpi_names)}") from None


@dataclass
class Observation:
    """What a reset or a step hands the agents (see the module docstring for shapes)."""

    obs: np.ndarray
    state: np.ndarray
    avail_actions: np.ndarray
    #: backend facts; XR backends put per-UE KPIs ``[B, N, K]`` under ``"kpis"`` (zeros at reset)
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


def validate_actions(spec: EnvSpec, actions: np.ndarray, avail: np.ndarray) -> np.ndarray:
    """Check a joint action array ``[B, N]`` against shapes and availability; return it as int64.

    Raises ``ValueError`` naming the first problem, so a bad policy fails loudly instead of
    silently indexing out of range.
    """
    actions = np.asarray(actions)
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
