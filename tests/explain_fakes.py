"""Test doubles for the explanation framework: a tiny XR-shaped env and policies with known Q.

They implement the real contracts (``VecMultiAgentEnv``, ``Policy``, ``ExplainablePolicy``) so
the framework, figures, report and command can be exercised without trained learners or a
network model, and the expected metrics can be computed by hand.
"""

from __future__ import annotations

import numpy as np

from xr_codec_marl.core.api import AgentSpec, EnvSpec, Observation, StepResult, validate_actions
from xr_codec_marl.scenarios.xr.kpis import XR_KPI_NAMES, XR_KPIS, XR_REWARD_COMPONENTS


def fake_spec(n_actions: int = 4, episode_limit: int = 3, ordered: bool = True) -> EnvSpec:
    """AR/VR/CG agents with ``n_actions`` rates (ordered, as XR's; ``ordered=False``: abstract
    actions), the three XR reward components and the XR KPI declarations."""
    rates = tuple(float(5 * (i + 1)) for i in range(n_actions)) if ordered else ()
    agents = tuple(
        AgentSpec(a, "xr" if a != "CG" else "cg", 5, n_actions, rates) for a in ("AR", "VR", "CG")
    )
    return EnvSpec("fake-xr", agents, 15, XR_REWARD_COMPONENTS, XR_KPI_NAMES, 0.5, episode_limit,
                   kpis=XR_KPIS)


class FakeEnv:
    """Deterministic env: ``obs[..., 0]`` is the window index t, KPIs follow the actions.

    KPIs per UE after actions u: delay_ms = 5 + u, jitter_ms = 1 + u, pdr = 1 - 0.01 u,
    plr = 0.01 u, throughput = 2 u + ring_m / 100, xqi = 5 - u (clipped at 1).
    """

    def __init__(
        self, num_envs: int = 2, spec: EnvSpec | None = None, ring_m: float = 200.0
    ) -> None:
        self.spec = spec or fake_spec()
        self.num_envs = num_envs
        self.ring_m = ring_m
        self.t = 0
        self.steps_taken: list[np.ndarray] = []

    def _obs(self, info: dict) -> Observation:
        b, n = self.num_envs, self.spec.n_agents
        obs = np.zeros((b, n, self.spec.obs_size), np.float32)
        obs[..., 0] = self.t
        avail = np.ones((b, n, self.spec.n_actions), bool)
        return Observation(obs, np.zeros((b, self.spec.state_size), np.float32), avail, info)

    def reset(self, seed: int | None = None) -> Observation:
        self.t = 0
        return self._obs(
            {
                "kpis": np.zeros(
                    (self.num_envs, self.spec.n_agents, len(self.spec.kpi_names)), np.float32
                )
            }
        )

    def step(self, actions: np.ndarray) -> StepResult:
        base = self._obs({})
        u = validate_actions(self.spec, actions, base.avail_actions).astype(np.float32)
        self.steps_taken.append(u.astype(np.int64))
        self.t += 1
        k = {"delay_ms": 5 + u, "jitter_ms": 1 + u, "pdr": 1 - 0.01 * u, "plr": 0.01 * u,
             "throughput_mbps": 2 * u + self.ring_m / 100, "xqi": np.maximum(5 - u, 1),
             "buffer_ratio": 0 * u, "codec_rate_mbps": u, "sinr_db": 20 - u}  # fmt: skip
        kpis = np.stack([k[name] for name in self.spec.kpi_names], axis=-1)
        done = np.full(self.num_envs, self.t >= self.spec.episode_limit)
        obs = self._obs({"kpis": kpis})
        b = self.num_envs
        rewards = np.zeros((b, self.spec.n_components), np.float32)
        return StepResult(
            obs.obs, obs.state, obs.avail_actions, obs.info, rewards, np.zeros(b, bool), done
        )

    def close(self) -> None:
        pass


class CyclePolicy:
    """Reference double: every agent plays ``(t + offset) % A`` at window t."""

    def __init__(self, spec: EnvSpec, offset: int = 0, name: str = "cycle") -> None:
        self.spec, self.offset, self.name = spec, offset, name
        self.t = 0

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        self.t = 0

    def act(self, step: Observation, explore: bool = False) -> np.ndarray:
        b = step.obs.shape[0]
        a = np.full((b, self.spec.n_agents), (self.t + self.offset) % self.spec.n_actions, np.int64)
        self.t += 1
        return a


class TableLearner:
    """ExplainablePolicy double: Q_t = ``base [C, A]`` (optionally per agent ``[N, C, A]``) + t * ``drift``.

    Records every ``(obs window index, prev_actions)`` it is fed, so tests can check the
    framework passes the reference's actions and the shared observations.
    """

    def __init__(self, spec: EnvSpec, base: np.ndarray, drift: np.ndarray | None = None,
                 name: str = "table") -> None:  # fmt: skip
        self.spec, self.name = spec, name
        self.component_names = spec.reward_components
        self.base = np.asarray(base, np.float64)
        self.drift = (
            np.zeros(self.base.shape[-2:]) if drift is None else np.asarray(drift, np.float64)
        )
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []
        self.resets = 0

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        self.resets += 1

    def q_values(self, step: Observation, prev_actions: np.ndarray | None) -> np.ndarray:
        t = step.obs[..., 0]  # [B, N]
        self.calls.append(
            (t.copy(), None if prev_actions is None else np.array(prev_actions, copy=True))
        )
        n = t.shape[1]
        base = np.broadcast_to(self.base, (n,) + self.base.shape[-2:])
        return (base[None] + t[..., None, None] * self.drift).astype(np.float32)

    def act(self, step: Observation, explore: bool = False) -> np.ndarray:
        q = self.q_values(step, None).sum(axis=-2)
        return q.argmax(axis=-1)
