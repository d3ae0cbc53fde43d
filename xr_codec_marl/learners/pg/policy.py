"""A trained policy-gradient learner as a :class:`~xr_codec_marl.policy.Policy`.

Decentralised execution: each agent's action comes from the shared actor on its own
observation. ``act`` takes the distribution's mode (each head's most likely category, the
Gaussian means clipped to the bounds); ``explore=True`` samples, as in training. Hybrid
spaces get :class:`~xr_codec_marl.core.api.HybridActions`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xr_codec_marl.core.api import EnvSpec, HybridActions, Observation
from xr_codec_marl.errors import UsageError
from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.learners.pg.learner import PGLearner
from xr_codec_marl.learners.pg.trainer import check_pg_spec
from xr_codec_marl.learners.registry import get_algo


class PGPolicy:
    """The actor of a trained MAPPO / IPPO / IMAPPO run."""

    def __init__(self, name: str, spec: EnvSpec, learner: PGLearner) -> None:
        self.name, self.spec, self.learner = name, spec, learner
        self.learner.actor.eval()

    @classmethod
    def from_checkpoint_data(cls, data: dict[str, Any], spec: EnvSpec, where: str) -> PGPolicy:
        """The policy of a loaded checkpoint (``read_checkpoint``'s dict); one-line
        ``UsageError`` if it does not fit ``spec``."""
        try:
            algo = get_algo(data["algo"])
            cfg = LearnerConfig.from_dict(data["config"])
            check_pg_spec(data["spec"], spec, where, cfg.decomposed_critic)
            learner = PGLearner(algo, cfg, spec)
            learner.actor.load_state_dict(data["learner"]["actor"])
        except UsageError:
            raise
        except (KeyError, TypeError, RuntimeError, ValueError) as exc:
            raise UsageError(f"checkpoint {where} is incomplete or inconsistent: {exc}") from None
        return cls(algo.name, spec, learner)

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        """Feed-forward actor: nothing to reset (sampling uses torch's global generator)."""

    def act(self, step: Observation, explore: bool = False) -> np.ndarray | HybridActions:
        heads, x = self.learner.act(step.obs, np.asarray(step.avail_actions, bool), explore)
        return self.learner.layout.to_env(heads, x)

