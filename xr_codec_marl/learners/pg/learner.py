"""The policy-gradient learner: actor, critic, optimiser and the PPO update of one rollout.

One update on a batch of ``B`` episodes of ``T`` steps (``N`` agents; ``K`` value heads: 1 on
the summed team reward, or one per reward component with ``decomposed_critic``):

1. with the rollout's networks: values ``V(s_t)`` for ``t = 0..T``, the log-probabilities
   ``log pi_old(a_t | o_t)`` of the actions taken;
2. GAE per value head on the team reward (each agent gets the team's reward); the advantage
   is GAE's (``pg_baseline`` value) or seed 001's counterfactual one,
   ``A_i = R_t - E_{a_i'~pi_i} Q(s_t, a_{-i}, a_i')`` (:mod:`.counterfactual`, with an
   action-value critic ``Q`` regressed on the same returns ``R_t``); advantages are summed
   over the heads, then normalised (none / per agent / across agents); with ``value_norm``
   the critics predict standardised returns (:mod:`.value_norm`), whose statistics take in
   this rollout's returns before the update;
3. ``pg_epochs`` passes over the filled samples ``(b, t, i)`` (the policy terms only over
   those where the agent had more than one available action, with ``pg_skip_forced``) in ``pg_minibatches`` shuffled
   minibatches, each one Adam step on :func:`~xr_codec_marl.learners.pg.ppo.ppo_loss` with
   gradient-norm clipping (``Q`` has its own Adam and clipping, so the actor's and V's steps
   are those of the value baseline).

All randomness (sampling actions, Monte-Carlo baselines, shuffling) uses torch's global
generator, which the checkpoint saves, so a resumed run continues bit-for-bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from xr_codec_marl.core.api import EnvSpec, had_choice
from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.errors import UsageError
from xr_codec_marl.learners.pg.counterfactual import alternatives, counterfactual_baseline
from xr_codec_marl.learners.pg.distributions import HybridDistribution
from xr_codec_marl.learners.pg.layout import ActionLayout
from xr_codec_marl.learners.pg.networks import (
    Actor,
    Critic,
    QCritic,
    critic_input_size,
    critic_inputs,
    critic_values,
    encode_actions,
    with_ids,
)
from xr_codec_marl.learners.pg.ppo import gae, normalise_advantages, ppo_loss, value_loss
from xr_codec_marl.learners.pg.value_norm import ValueNorm
from xr_codec_marl.learners.registry import AlgoSpec


@dataclass(frozen=True)
class PGChoices:
    """The learner's structural choices with ``auto`` resolved by the algorithm."""

    critic: str
    action_heads: str
    adv_norm: str
    baseline: str

    @classmethod
    def resolve(cls, algo: AlgoSpec, cfg: LearnerConfig) -> PGChoices:
        return cls(algo.critic if cfg.critic == "auto" else cfg.critic,
                   "hybrid" if cfg.action_heads == "auto" else cfg.action_heads,
                   algo.adv_norm if cfg.adv_norm == "auto" else cfg.adv_norm,
                   algo.baseline if cfg.pg_baseline == "auto" else cfg.pg_baseline)


class PGLearner:
    """Networks, optimiser and PPO update of MAPPO / IPPO / IMAPPO."""

    def __init__(self, algo: AlgoSpec, cfg: LearnerConfig, spec: EnvSpec) -> None:
        self.algo, self.cfg = algo, cfg
        self.choices = PGChoices.resolve(algo, cfg)
        self.layout = ActionLayout.from_spec(spec, self.choices.action_heads, cfg.continuous_bins)
        self.value_names = tuple(spec.reward_components) if cfg.decomposed_critic else ("total",)
        self.spec = spec
        self.actor = Actor(spec.obs_size, spec.n_agents, self.layout.head_sizes,
                           self.layout.n_gaussian, cfg.pg_hidden, cfg.log_std_init)
        crit_size = critic_input_size(spec.obs_size, spec.state_size, spec.n_agents,
                                      self.choices.critic)
        self.critic = Critic(crit_size, len(self.value_names), cfg.pg_hidden)
        self.value_norm = ValueNorm(len(self.value_names)) if cfg.value_norm else None
        self.params = list(self.actor.parameters()) + list(self.critic.parameters())
        self.opt = torch.optim.Adam(self.params, lr=cfg.lr, eps=cfg.adam_eps)
        #: the counterfactual baseline's action-value critic and its own optimiser (else None)
        self.q_critic: QCritic | None = None
        self.q_opt: torch.optim.Adam | None = None
        if self.choices.baseline == "counterfactual":
            per_agent = sum(self.layout.head_sizes) + self.layout.n_gaussian
            self.q_critic = QCritic(crit_size, spec.n_agents, per_agent, len(self.value_names),
                                    cfg.pg_hidden)
            self.q_opt = torch.optim.Adam(self.q_critic.parameters(), lr=cfg.lr, eps=cfg.adam_eps)
        n_heads = len(self.layout.head_sizes)
        self.entropy_coefs = torch.tensor([cfg.entropy_coef] * n_heads
                                          + [cfg.entropy_coef_continuous] * self.layout.n_gaussian)
        self.train_steps = 0

    # --- acting ---
    def distribution(self, obs: torch.Tensor, avail: np.ndarray) -> HybridDistribution:
        """The policy at ``obs [..., N, O]`` with the env's availability ``avail [..., N, A]``."""
        return self._policy(with_ids(obs), [torch.as_tensor(m) for m in self.layout.head_masks(avail)])

    def _policy(self, actor_in: torch.Tensor, masks: list[torch.Tensor]) -> HybridDistribution:
        """The actor's distribution at ``actor_in`` (:func:`with_ids` of observations)."""
        logits, mean, log_std = self.actor(actor_in)
        if not self.layout.n_gaussian:
            return HybridDistribution(logits, masks=masks)
        return HybridDistribution(logits, mean, log_std, masks)

    @torch.no_grad()
    def act(self, obs: np.ndarray, avail: np.ndarray, explore: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(heads [B, N, H], x [B, N, G])``: sampled if ``explore``, else the mode."""
        dist = self.distribution(torch.as_tensor(obs, dtype=torch.float32), avail)
        heads, x = dist.sample() if explore else dist.mode()
        return heads.numpy(), x.numpy()

    # --- learning ---
    def update(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        """PPO on one rollout (arrays as :func:`~xr_codec_marl.learners.pg.rollout.collect`
        returns them); returns mean losses, entropies per head, KL, clip fraction."""
        cfg = self.cfg
        obs = torch.as_tensor(batch["obs"], dtype=torch.float32)  # [B, T+1, N, O]
        state = torch.as_tensor(batch["state"], dtype=torch.float32)
        heads = torch.as_tensor(batch["heads"], dtype=torch.int64)  # [B, T, N, H]
        x = torch.as_tensor(batch["x"], dtype=torch.float32)  # [B, T, N, G]
        filled = torch.as_tensor(batch["filled"], dtype=torch.bool)  # [B, T]
        b, steps, n = heads.shape[:3]
        rewards = torch.as_tensor(batch["rewards"], dtype=torch.float32)
        if not self.cfg.decomposed_critic:
            rewards = rewards.sum(-1, keepdim=True)
        rewards = rewards[:, :, None, :].expand(b, steps, n, rewards.shape[-1])
        crit_in = critic_inputs(obs, state, self.choices.critic)  # [B, T+1, N, I]
        avail = batch["avail"][:, :steps]
        # [B, T, N * P]: the joint action, which only the counterfactual baseline's Q critic reads
        joint = self.encode_joint(heads, x) if self.q_critic is not None else None
        with torch.no_grad():
            # [B, T+1, N, K], standardised with value_norm (a state critic runs once per step)
            predicted = critic_values(self.critic, obs, state, self.choices.critic)
            norm = self.value_norm
            values = predicted if norm is None else norm.denormalise(predicted)
            adv_k, returns = gae(rewards, values, torch.as_tensor(batch["terminated"]), filled,
                                 cfg.gamma, cfg.gae_lambda)
            # the samples the policy learns from: filled, and (pg_skip_forced) where the agent
            # had a choice; the critic learns from every filled sample
            choice = filled[:, :, None].expand(b, steps, n)
            if cfg.pg_skip_forced:
                choice = choice & torch.as_tensor(had_choice(self.spec, avail))
            dist = self.distribution(obs[:, :steps], avail)
            logp_old = dist.log_prob(heads, x)
            q_old = None
            if self.q_critic is not None and joint is not None:
                # A_i = R_t - b_i, b_i = E_{a_i'~pi_i} Q(s, a_-i, a_i') (seed 001 / COMA)
                c = crit_in[:, :steps]
                alts, weights = alternatives(dist, self.layout.head_sizes, cfg.cf_exact_max,
                                             cfg.cf_samples)
                base = counterfactual_baseline(self.q_critic, c, joint, alts, weights,
                                               None if norm is None else norm.denormalise)
                adv_k = torch.where(filled[:, :, None, None], returns - base,
                                    torch.zeros_like(returns))
                q_old = self.q_critic.taken(c, joint)  # standardised with value_norm
            adv = normalise_advantages(adv_k.sum(-1), choice, self.choices.adv_norm)
            if norm is not None:
                norm.update(returns[filled].reshape(-1, returns.shape[-1]))
                returns = norm.normalise(returns)
        # the filled samples (b, t, i), flattened
        keep = filled[:, :, None].expand(b, steps, n).reshape(-1)
        sample = {
            "actor_in": with_ids(obs[:, :steps]).reshape(b * steps * n, -1)[keep],
            "critic_in": crit_in[:, :steps].reshape(b * steps * n, -1)[keep],
            "heads": heads.reshape(b * steps * n, -1)[keep],
            "x": x.reshape(b * steps * n, -1)[keep],
            "logp_old": logp_old.reshape(-1)[keep],
            "adv": adv.reshape(-1)[keep],
            "returns": returns.reshape(b * steps * n, -1)[keep],
            "v_old": predicted[:, :steps].reshape(b * steps * n, -1)[keep],
            "choice": choice.reshape(-1)[keep],
        }
        joint_bt = None
        if q_old is not None and joint is not None:
            sample["q_old"] = q_old.reshape(b * steps * n, -1)[keep]
            # the step (b, t) of each sample, to look its joint action up in ``joint_bt``
            sample["bt"] = torch.arange(b * steps)[:, None].expand(b * steps, n).reshape(-1)[keep]
            joint_bt = joint.reshape(b * steps, -1)
        masks = [torch.as_tensor(m).reshape(b * steps * n, -1)[keep]
                 for m in self.layout.head_masks(avail)]
        total = int(keep.sum())
        sums: dict[str, Any] = {}
        count = 0
        for _ in range(cfg.pg_epochs):
            perm = torch.randperm(total)
            for idx in perm.chunk(cfg.pg_minibatches):
                out = self._step({k: v[idx] for k, v in sample.items()}, [m[idx] for m in masks],
                                 joint_bt)
                for k, v in out.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
        return {k: v / max(count, 1) for k, v in sums.items()}

    def encode_joint(self, heads: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The joint action ``[..., N * P]`` of ``heads [..., N, H]``, ``x [..., N, G]``
        (:func:`~xr_codec_marl.learners.pg.networks.encode_actions` per agent, concatenated)."""
        enc = encode_actions(heads, x, self.layout.head_sizes)
        return enc.reshape(*enc.shape[:-2], -1)

    def _step(self, mb: dict[str, torch.Tensor], masks: list[torch.Tensor],
              joint_bt: torch.Tensor | None) -> dict[str, Any]:
        """One Adam step on one minibatch (and one of the Q critic's, if any)."""
        cfg = self.cfg
        dist = self._policy(mb["actor_in"], masks)
        loss = ppo_loss(
            dist.log_prob(mb["heads"], mb["x"]), mb["logp_old"], mb["adv"],
            self.critic(mb["critic_in"]), mb["v_old"], mb["returns"], dist.entropy_parts(),
            self.entropy_coefs, mb["choice"], cfg.clip_coef, cfg.value_clip, cfg.value_coef,
            value_mask=torch.ones_like(mb["choice"]),
        )
        self.opt.zero_grad()
        loss.total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, cfg.pg_grad_clip)
        self.opt.step()
        self.train_steps += 1
        out = {"loss": float(loss.total.detach()), "loss_policy": float(loss.policy.detach()),
               "loss_value": float(loss.value.detach()), "approx_kl": float(loss.approx_kl),
               "clip_fraction": float(loss.clip_fraction), "grad_norm": float(grad_norm),
               "entropy": loss.entropy.detach().numpy()}
        if self.q_critic is not None and self.q_opt is not None and joint_bt is not None:
            # Q regresses the same (standardised) returns as V, clipped around its rollout values
            q = self.q_critic(mb["critic_in"], joint_bt[mb["bt"]])
            q_loss = value_loss(q, mb["q_old"], mb["returns"], cfg.value_clip,
                                torch.ones_like(mb["choice"]))
            self.q_opt.zero_grad()
            (cfg.value_coef * q_loss).backward()
            torch.nn.utils.clip_grad_norm_(self.q_critic.parameters(), cfg.pg_grad_clip)
            self.q_opt.step()
            out["loss_q"] = float(q_loss.detach())
        return out

    # --- checkpointing ---
    def state_dict(self) -> dict[str, Any]:
        q, q_opt = self.q_critic, self.q_opt
        return {"actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
                "opt": self.opt.state_dict(), "train_steps": self.train_steps,
                "value_norm": None if self.value_norm is None else self.value_norm.state_dict(),
                "q_critic": None if q is None else q.state_dict(),
                "q_opt": None if q_opt is None else q_opt.state_dict()}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.load_networks(sd)
        self.opt.load_state_dict(sd["opt"])
        if self.q_opt is not None:
            self.q_opt.load_state_dict(sd["q_opt"])
        self.train_steps = int(sd["train_steps"])

    def load_pretrained(self, sd: dict[str, Any], optimiser: bool = True) -> bool:
        """Start from another run's learner state (fine-tuning): its networks and value
        statistics, its optimiser states if ``optimiser`` (with this config's ``lr`` and
        ``adam_eps``), ``train_steps`` = 0. A Q critic the source lacks starts fresh; returns
        whether the source's was loaded."""
        kept_q = self.load_networks(sd, q_required=False)
        if optimiser:
            pairs = [(self.opt, sd["opt"])]
            if kept_q and self.q_opt is not None and sd.get("q_opt") is not None:
                pairs.append((self.q_opt, sd["q_opt"]))
            for opt, state in pairs:
                opt.load_state_dict(state)
                for group in opt.param_groups:  # load_state_dict restored the source's values
                    group["lr"], group["eps"] = self.cfg.lr, self.cfg.adam_eps
        self.train_steps = 0
        return kept_q

    def load_networks(self, sd: dict[str, Any], q_required: bool = True) -> bool:
        """Actor, critic(s) and value statistics from ``sd``; one-line ``UsageError`` if this
        learner has a Q critic and ``sd`` none (``q_required``; else it stays as initialised).
        Returns whether the Q critic was loaded."""
        self.actor.load_state_dict(sd["actor"])
        self.critic.load_state_dict(sd["critic"])
        if self.value_norm is not None:
            self.value_norm.load_state_dict(sd["value_norm"])
        if self.q_critic is None:
            return False
        if sd.get("q_critic") is None:
            if q_required:
                raise UsageError("the checkpoint has no counterfactual Q critic (trained with "
                                 "pg_baseline=value, or before it existed); resume it with "
                                 "--set pg_baseline=value")
            return False
        self.q_critic.load_state_dict(sd["q_critic"])
        return True
