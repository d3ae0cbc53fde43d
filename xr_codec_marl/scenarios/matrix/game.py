"""Small cooperative matrix games behind the batched environment API.

Every agent picks an action, the team receives ``payoff[u_1, ..., u_N]``. The games are the
classic stress tests of value factorisation:

- ``climbing`` (Claus & Boutilier): optimum 11 at (0, 0), guarded by -30 miscoordination;
- ``penalty`` (k = -10): two optima of 10 on the diagonal corners, miscoordination costs 10;
- ``coordination``: a plain 2x2 coordination game, optimum 10 at (1, 1);
- ``qtran``: the non-monotonic matrix of the QTRAN paper (Son et al. 2019, Table 1a),
  optimum 8 at (0, 0); VDN and QMIX cannot represent it and settle on 0.

``components = C > 1`` splits the team reward into C reward components that differ from one
another but always sum to the payoff (a fixed random zero-sum perturbation), which is what
the decomposed learners need to be tested against. ``episode_limit > 1`` repeats the
stateless game; the observation carries the time step.
"""

from __future__ import annotations

import numpy as np

from xr_codec_marl.core.api import AgentSpec, EnvSpec, Observation, StepResult, validate_actions
from xr_codec_marl.core.kpis import KpiSpec
from xr_codec_marl.errors import choice_error

#: Global KPIs of a step: the payoff of the joint action, and 1 when it is the optimum.
GLOBAL_KPIS: tuple[str, ...] = ("payoff", "optimal")
MATRIX_KPIS: tuple[KpiSpec, ...] = (
    KpiSpec("payoff", direction="higher", scope="global", headline=True, label="Team payoff"),
    KpiSpec("optimal", direction="higher", scope="global", headline=True,
            label="Optimal joint action"),
)

GAMES: dict[str, list[list[float]]] = {
    "climbing": [[11, -30, 0], [-30, 7, 6], [0, 0, 5]],
    "penalty": [[10, 0, -10], [0, 2, 0], [-10, 0, 10]],
    "coordination": [[5, 0], [0, 10]],
    "qtran": [[8, -12, -12], [-12, 0, 0], [-12, 0, 0]],
}


class MatrixGameEnv:
    """``num_envs`` copies of a cooperative N-player matrix game (implements ``VecMultiAgentEnv``)."""

    def __init__(
        self,
        game: str | np.ndarray = "climbing",
        num_envs: int = 1,
        components: int = 1,
        episode_limit: int = 1,
        split_seed: int = 1234,
    ) -> None:
        if isinstance(game, str):
            if game not in GAMES:
                raise choice_error("matrix game", game, tuple(GAMES))
            self.payoff = np.asarray(GAMES[game], dtype=np.float32)
            name = game
        else:
            self.payoff = np.asarray(game, dtype=np.float32)
            name = "custom"
        if components < 1 or episode_limit < 1 or num_envs < 1:
            raise ValueError("components, episode_limit and num_envs must be >= 1")
        n_agents = self.payoff.ndim
        n_actions = int(max(self.payoff.shape))
        self.num_envs = num_envs
        self.components = self._split(self.payoff, components, split_seed)  # [C, *payoff.shape]
        agents = tuple(
            AgentSpec(f"agent{i}", "matrix", obs_size=2, n_actions=int(self.payoff.shape[i]))
            for i in range(n_agents)
        )
        self.spec = EnvSpec(
            name=f"matrix-{name}",
            agents=agents,
            state_size=2,
            reward_components=tuple(f"r{c}" for c in range(components)),
            kpi_names=(),
            step_interval_s=1.0,
            episode_limit=episode_limit,
            extra={"payoff": self.payoff.tolist(), "scenario": "matrix",
                   "settings": {"game": name, "components": components,
                                "episode_limit": episode_limit}},
            global_kpi_names=GLOBAL_KPIS,
            kpis=MATRIX_KPIS,
        )
        self._avail = np.zeros((num_envs, n_agents, n_actions), dtype=bool)
        for i, n in enumerate(self.payoff.shape):
            self._avail[:, i, :n] = True
        self._t = 0

    @staticmethod
    def _split(payoff: np.ndarray, c: int, seed: int) -> np.ndarray:
        """C component matrices that differ but sum exactly (in float64) to the payoff."""
        if c == 1:
            return payoff[None].astype(np.float32)
        rng = np.random.default_rng(seed)
        noise = rng.normal(0.0, 1.0 + np.abs(payoff).mean(), size=(c, *payoff.shape))
        noise -= noise.mean(axis=0, keepdims=True)
        # multiples of 1/4 are exact in float32, so the components sum exactly to the payoff
        parts = np.round((payoff[None].astype(np.float64) / c + noise) * 4.0) / 4.0
        parts[-1] = payoff - parts[:-1].sum(axis=0)
        return parts.astype(np.float32)

    @property
    def optimal_value(self) -> float:
        return float(self.payoff.max())

    def _observe(self) -> tuple[np.ndarray, np.ndarray]:
        frac = self._t / self.spec.episode_limit
        n = self.spec.n_agents
        obs = np.tile(np.array([1.0, frac], np.float32), (self.num_envs, n, 1))
        state = np.tile(np.array([1.0, frac], np.float32), (self.num_envs, 1))
        return obs, state

    def reset(self, seed: int | None = None) -> Observation:
        self._t = 0
        obs, state = self._observe()
        kpis = np.zeros((self.num_envs, self.spec.n_agents, 0), np.float32)
        return Observation(obs, state, self._avail.copy(),
                           {"kpis": kpis, "global_kpis": np.zeros((self.num_envs, 2), np.float32)})

    def step(self, actions: np.ndarray) -> StepResult:
        acts = validate_actions(self.spec, actions, self._avail)
        rewards = np.stack([comp[tuple(acts.T)] for comp in self.components], axis=-1)
        payoff = self.payoff[tuple(acts.T)]
        global_kpis = np.stack([payoff, payoff == self.payoff.max()], axis=-1).astype(np.float32)
        self._t += 1
        done = self._t >= self.spec.episode_limit
        obs, state = self._observe()
        b = self.num_envs
        return StepResult(
            obs=obs,
            state=state,
            avail_actions=self._avail.copy(),
            info={"kpis": np.zeros((b, self.spec.n_agents, 0), np.float32),
                  "global_kpis": global_kpis, "truncation_reason": [""] * b},
            rewards=rewards.astype(np.float32),
            terminated=np.full(b, done),
            truncated=np.zeros(b, bool),
        )

    def close(self) -> None:
        pass
