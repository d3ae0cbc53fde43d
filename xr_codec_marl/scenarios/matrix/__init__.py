"""The cooperative matrix games (climbing, penalty, ...) as a scenario: learner sanity checks
that run through every command. Importing it registers ``matrix``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from xr_codec_marl.core.api import EnvSpec, VecMultiAgentEnv
from xr_codec_marl.core.registry import register_scenario
from xr_codec_marl.core.scenario import Scenario, SweepAxis
from xr_codec_marl.scenarios.matrix.game import GAMES, MATRIX_KPIS, MatrixGameEnv


@dataclass(frozen=True)
class MatrixSettings:
    """Which game, into how many reward components its payoff is split, steps per episode."""

    game: str = "climbing"
    components: int = 1
    episode_limit: int = 1

    def validate(self) -> "MatrixSettings":
        if self.game not in GAMES:
            raise ValueError(f"unknown matrix game {self.game!r}; allowed: {', '.join(GAMES)}")
        if self.components < 1 or self.episode_limit < 1:
            raise ValueError("components and episode_limit must be >= 1")
        return self


class MatrixScenario(Scenario):
    name = "matrix"
    description = "cooperative matrix games (climbing, penalty, coordination, qtran)"
    settings_type = MatrixSettings
    kpis = MATRIX_KPIS
    sweep_axes = (SweepAxis("game", "game", str, default=tuple(GAMES), label="Game"),)
    record_settings = ("game",)

    def add_arguments(self, parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
        parser.add_argument("--game", default="climbing", help=f"matrix game: {', '.join(GAMES)}")
        parser.add_argument("--components", type=int, default=1,
                            help="reward components the payoff is split into (default 1)")

    def kwargs_from_args(self, args: argparse.Namespace) -> dict[str, Any]:
        return {"game": args.game, "components": args.components}

    def env_spec(self, settings: MatrixSettings) -> EnvSpec:
        env = MatrixGameEnv(settings.game, 1, settings.components, settings.episode_limit)
        return env.spec

    def make_analytic(self, settings: MatrixSettings, num_envs: int, seed: int | None,
                      **options: Any) -> VecMultiAgentEnv:
        return MatrixGameEnv(settings.game, num_envs, settings.components, settings.episode_limit)


MATRIX = register_scenario(MatrixScenario())
