"""A trained policy-gradient learner as a :class:`~xr_codec_marl.policy.Policy`, and as an
:class:`~xr_codec_marl.policy.ExplainablePolicy` when it has per-component action values.

Decentralised execution: each agent's action comes from the shared actor on its own
observation. ``act`` takes the distribution's mode (each head's most likely category, the
Gaussian means clipped to the bounds); ``explore=True`` samples, as in training. Hybrid
spaces get :class:`~xr_codec_marl.core.api.HybridActions`.

Explanations (RDX / RDFX / MSX) need one action value per reward component and option. A run
trained with ``decomposed_critic=true`` and ``pg_baseline=counterfactual`` has them: its
action-value critic gives agent ``i``'s ``Q_c(s, a_{-i}, u)`` for every option ``u`` of its
first categorical head (:meth:`PGPolicy.q_values`), the other agents' actions ``a_{-i}`` being
the joint action actually taken at that window (the explanation framework's reference's), the
agent's other heads and continuous values at the actor's mode. The action it "chose" is the
actor's mode (:meth:`PGPolicy.chosen_actions`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from xr_codec_marl.core.api import EnvSpec, HybridActions, Observation
from xr_codec_marl.errors import UsageError
from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.learners.pg.learner import PGLearner
from xr_codec_marl.learners.pg.networks import critic_inputs, encode_actions
from xr_codec_marl.learners.pg.trainer import check_pg_spec
from xr_codec_marl.learners.registry import get_algo


class PGPolicy:
    """The actor of a trained MAPPO / IPPO / IMAPPO run (and its Q critic, if any)."""

    #: :meth:`q_values` scores each agent's options against the other agents' current
    #: actions, so the explanation framework passes the joint action taken (``joint_actions``)
    needs_joint_actions = True

    def __init__(self, name: str, spec: EnvSpec, learner: PGLearner) -> None:
        self.name, self.spec, self.learner = name, spec, learner
        self.learner.actor.eval()
        self.component_names: tuple[str, ...] = learner.value_names

    @classmethod
    def from_checkpoint_data(cls, data: dict[str, Any], spec: EnvSpec, where: str) -> PGPolicy:
        """The policy of a loaded checkpoint (``read_checkpoint``'s dict); one-line
        ``UsageError`` if it does not fit ``spec``."""
        try:
            algo = get_algo(data["algo"])
            cfg = LearnerConfig.from_dict(data["config"])
            check_pg_spec(data["spec"], spec, where, cfg.decomposed_critic)
            learner = PGLearner(algo, cfg, spec)
            if not learner.load_networks(data["learner"], q_required=False):
                learner.q_critic = learner.q_opt = None  # none saved: not explainable
        except UsageError:
            raise
        except (KeyError, TypeError, RuntimeError, ValueError) as exc:
            raise UsageError(f"checkpoint {where} is incomplete or inconsistent: {exc}") from None
        return cls(algo.name, spec, learner)

    @property
    def explain_problem(self) -> str | None:
        """Why this run cannot be explained (the setting it was trained without), or None."""
        if not self.learner.cfg.decomposed_critic:
            return ("a policy-gradient run is explained with its per-component action values: "
                    "train it with decomposed_critic=true and pg_baseline=counterfactual")
        if self.learner.q_critic is None:
            return ("a policy-gradient run is explained with its action-value critic: train it "
                    "with pg_baseline=counterfactual (and decomposed_critic=true)")
        if self.learner.layout.bins:
            return "a run with action_heads=flat cannot be explained (train with hybrid heads)"
        return None

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        """Feed-forward actor: nothing to reset (sampling uses torch's global generator)."""

    def act(self, step: Observation, explore: bool = False) -> np.ndarray | HybridActions:
        heads, x = self.learner.act(step.obs, np.asarray(step.avail_actions, bool), explore)
        return self.learner.layout.to_env(heads, x)

    def chosen_actions(self, step: Observation) -> np.ndarray:
        """The env's joint index ``[B, N]`` of the actor's mode (what the agents would do)."""
        heads, _ = self.learner.act(step.obs, np.asarray(step.avail_actions, bool), False)
        return self.learner.layout.joint_index(heads)

    @torch.no_grad()
    def q_values(self, step: Observation, prev_actions: np.ndarray | None,
                 joint_actions: np.ndarray | HybridActions | None = None) -> np.ndarray:
        """Per-component action values ``float32 [B, N, C, A]``: for agent ``i`` and each
        option ``u`` of its first categorical head, ``Q_c(s, a_{-i}, u)`` with ``a_{-i}`` from
        ``joint_actions`` (the joint action taken at this window) and agent ``i``'s other heads
        and continuous values at the actor's mode. Entries of the env's joint index ``A`` whose
        other heads are not the mode, or that are unavailable, are -inf. ``prev_actions`` is
        not used (a feed-forward actor)."""
        problem = self.explain_problem
        if problem is not None:
            raise UsageError(f"{self.name}: {problem}")
        if joint_actions is None:
            raise ValueError("PGPolicy.q_values needs the joint action taken (joint_actions)")
        learner, layout = self.learner, self.learner.layout
        assert learner.q_critic is not None
        obs = torch.as_tensor(step.obs, dtype=torch.float32)
        state = torch.as_tensor(step.state, dtype=torch.float32)
        avail = np.asarray(step.avail_actions, bool)
        heads, x = learner.distribution(obs, avail).mode()  # [B, N, H], [B, N, G]
        taken_heads, taken_x = layout.from_env(joint_actions)
        joint = learner.encode_joint(torch.as_tensor(taken_heads), torch.as_tensor(taken_x))
        n_opt = layout.head_sizes[0]
        alt_heads = heads.unsqueeze(-2).repeat(1, 1, n_opt, 1)  # [B, N, U, H]
        alt_heads[..., 0] = torch.arange(n_opt)
        alt_x = x.unsqueeze(-2).expand(*x.shape[:-1], n_opt, x.shape[-1])
        alts = encode_actions(alt_heads, alt_x, layout.head_sizes)
        q = learner.q_critic.swapped(critic_inputs(obs, state, learner.choices.critic), joint, alts)
        if learner.value_norm is not None:
            q = learner.value_norm.denormalise(q)  # [B, N, U, C]
        b, n = avail.shape[:2]
        out = np.full((b, n, q.shape[-1], self.spec.n_actions), -np.inf, np.float32)
        index = layout.joint_index(alt_heads.numpy())  # [B, N, U]
        bb, nn_, uu = np.indices(index.shape)
        out[bb, nn_, :, index] = q.numpy()  # advanced indices first: [B, N, U, C]
        return np.where(avail[:, :, None, :], out, -np.inf).astype(np.float32)
