"""The training loop: collect episodes, learn, log, checkpoint, resume.

``Trainer(env, algo, cfg, seed, out_dir).train(total_steps)`` runs until ``total_steps``
environment windows (summed over the vectorised copies) have been played. If ``out_dir``
holds a checkpoint, the run continues from it: same counters, replay buffer, optimiser,
networks and RNG states, so an interrupted run ends bit-for-bit where an uninterrupted one
would have. Checkpoints are written every ``checkpoint_every_s`` seconds (and/or every
``checkpoint_every`` env steps), at the end, and on Ctrl-C (which stops after the current
rollout), so a killed run loses at most a few minutes of work.

Fine-tuning (``init_from``, ``xr-marl train --init-from``): a new run that starts from another
run's checkpoint (:class:`Pretrained`), typically pre-trained on an analytic twin and continued
against a simulator. What it takes over, and why:

- networks, target networks and MHA weights: always (that is the point); the spec must match
  (agents, obs/state size, actions, reward components) and so must the network sizes;
- the optimiser state (Adam moments): by default (``finetune_keep_optimiser``), with this run's
  ``lr``, so a smaller fine-tuning rate (``--set lr=...``) takes effect;
- the replay buffer: no by default, the source's episodes come from other dynamics;
  ``finetune_keep_replay=true`` carries its newest ``buffer_size`` episodes over;
- counters (env steps, episodes, rollouts, gradient steps): start at 0, so ``total_steps``
  counts fine-tuning windows; exploration starts at ``finetune_epsilon_start``, not at
  ``epsilon_start`` (see :func:`~xr_codec_marl.learners.learner.epsilon_at`);
- RNG states: fresh from this run's seed.

Where the source came from (its path, counters, settings, learner config and run info) is
kept in :attr:`Trainer.init_from`, saved in every checkpoint of the new run, and a resumed
fine-tuning run (its own checkpoint always wins over ``init_from``) keeps it.

Logs per run in ``out_dir``: ``log.csv`` (one row per episode: returns per component,
ε, latest per-component losses, MHA importance weights l_c and loss weights w_c, mean KPIs)
and TensorBoard scalars in ``out_dir/tb``. Both are flushed (the log fsynced) before each
checkpoint, and a resumed run cuts them back to what its checkpoint covers, so after any
kill and resume ``log.csv`` holds every episode exactly once, as an uninterrupted run writes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xr_codec_marl.core.api import VecMultiAgentEnv
from xr_codec_marl.errors import UsageError
from xr_codec_marl.learners.checkpoint import check_spec, rng_state, spec_summary
from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.learners.learner import AgentController, Dims, Learner, epsilon_at
from xr_codec_marl.learners.loop import (  # noqa: F401  (Pretrained, seed_everything re-exported)
    Pretrained,
    RunLoop,
    episode_fields,
    kpi_scalars,
    seed_everything,
)
from xr_codec_marl.learners.registry import AlgoSpec
from xr_codec_marl.learners.replay import EpisodeBuffer, carry_over
from xr_codec_marl.learners.runner import EpisodeRunner


#: Settings that size the networks: a fine-tuning run must use its source's values.
NETWORK_SETTINGS = ("rnn_hidden", "head_hidden", "mixer_embed", "hypernet_hidden", "qtran_hidden")


class Trainer(RunLoop):
    """One training run of one value learner on one vectorised environment (the loop
    itself, logs and checkpoints: :class:`~xr_codec_marl.learners.loop.RunLoop`)."""

    network_settings = NETWORK_SETTINGS

    def __init__(
        self, env: VecMultiAgentEnv, algo: AlgoSpec, cfg: LearnerConfig, seed: int,
        out_dir: str | Path | None = None, run_info: dict[str, Any] | None = None,
        init_from: Pretrained | None = None,
    ) -> None:
        self._setup(env, algo, cfg, seed, out_dir, run_info)
        spec = env.spec
        self.learner = Learner(algo, cfg, Dims.from_spec(spec))
        self.controller = AgentController(self.learner.agent, spec.n_agents, spec.n_actions)
        self.runner = EpisodeRunner(env, self.controller)
        self.buffer = EpisodeBuffer(cfg.buffer_size, self.runner.shapes)
        self._begin(init_from)  # the run's own checkpoint wins over ``init_from``

    # --- checkpoints ---
    def payload(self) -> dict[str, Any]:
        return {
            "algo": self.algo.name,
            "config": self.cfg.to_dict(),
            "spec": spec_summary(self.env.spec),
            "seed": self.seed,
            "run": self.run_info,
            "learner": self.learner.state_dict(),
            "buffer": self.buffer.state_dict(),
            "counters": {"env_steps": self.env_steps, "episodes": self.episodes, "rollouts": self.rollouts},
            "rng": rng_state(self.rng),
            "init_from": self.init_from,
        }

    def _check_saved_spec(self, saved: dict[str, Any], where: str) -> None:
        check_spec(saved, self.env.spec, True, where)

    def _load_run(self, data: dict[str, Any]) -> None:
        self.learner.load_state_dict(data["learner"])
        self.buffer = EpisodeBuffer.from_state_dict(data["buffer"])

    def _load_source(self, data: dict[str, Any]) -> dict[str, Any]:
        """The source's networks, target networks, MHA weights and (``finetune_keep_optimiser``)
        optimiser state; its replay only with ``finetune_keep_replay``."""
        cfg = self.cfg
        self.learner.load_pretrained(data["learner"], cfg.finetune_keep_optimiser)
        if cfg.finetune_keep_replay:
            if "buffer" not in data:
                raise UsageError("the fine-tuning source holds no replay buffer to keep "
                                 "(finetune_keep_replay=true)")
            self.buffer = carry_over(data["buffer"], cfg.buffer_size, self.runner.shapes)
        return {"kept_replay_episodes": len(self.buffer)}

    @property
    def finetuning(self) -> bool:
        """This run started from another run's networks (exploration on the fine-tune schedule)."""
        return self.init_from is not None

    # --- logging ---
    def _columns(self) -> list[str]:
        comps = list(self.env.spec.reward_components)
        cols = ["episode", "env_steps", "rollout", "env_index", "epsilon", "length", "return"]
        cols += [f"return_{c}" for c in comps]
        cols += ["loss", "grad_norm", "train_steps"]
        qnames = comps if self.algo.decomposed else ["total"]
        cols += [f"loss_{c}" for c in qnames]
        if self.learner.adaptive is not None:
            cols += [f"l_{c}" for c in qnames] + [f"w_{c}" for c in qnames]
            cols += [f"l_batch_{c}" for c in qnames]
        cols += [f"kpi_{k}" for k in self.env.spec.kpi_names]
        # does the policy adapt? entropy of each agent's actions and share off its modal one
        for a in self.env.spec.agent_ids:
            cols += [f"act_entropy_{a}", f"act_off_modal_{a}"]
        cols += ["wall_s"]
        return cols

    # --- the loop ---
    @property
    def run_name(self) -> str:
        return self.algo.name

    def _iterate(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Collect one batch of episodes (epsilon-greedy), store it, learn from the replay."""
        cfg = self.cfg
        qnames = list(self.env.spec.reward_components) if self.algo.decomposed else ["total"]
        eps = epsilon_at(self.env_steps, cfg, self.finetuning)
        episode_seed = (self.seed * 1_000_003 + self.rollouts + 7_777_777) % 2**31  # apart from eval seeds
        batch, stats = self.runner.run(eps, self.rng, episode_seed, self.learner.action_weights())
        self.buffer.insert(batch)
        per_episode_l = None
        if self.learner.adaptive is not None:
            rewards = batch["rewards"]
            per_episode_l = self.learner.adaptive.update_importance(rewards, batch["filled"])
        if len(self.buffer) >= max(cfg.batch_size, cfg.learning_starts):
            for _ in range(cfg.grad_steps_per_rollout):
                self.last_stats = self.learner.train(self.buffer.sample(cfg.batch_size, self.rng))
        b = self.env.num_envs
        self.env_steps += b * stats.length
        self.rollouts += 1
        ep0 = self.episodes
        self.episodes += b
        summary = self._summary(eps, stats, qnames)
        return summary, self._rows(ep0, eps, stats, per_episode_l, qnames)

    def _summary(self, eps: float, stats: Any, qnames: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "epsilon": float(eps),
            "return": float(stats.returns.sum(axis=1).mean()),
            "episode_length": float(stats.length),
        }
        for c, name in enumerate(self.env.spec.reward_components):
            out[f"return/{name}"] = float(stats.returns[:, c].mean())
        if self.last_stats:
            out["loss"] = float(self.last_stats["loss"])
            out["grad_norm"] = float(self.last_stats["grad_norm"])
            for name, v in zip(qnames, self.last_stats["losses"]):
                out[f"loss/{name}"] = float(v)
        ad = self.learner.adaptive
        if ad is not None:
            for c, name in enumerate(qnames):
                out[f"importance_l/{name}"] = float(ad.l[c])
                out[f"loss_weight_w/{name}"] = float(ad.w[c].detach())
        out.update(kpi_scalars(self.env.spec, stats.kpis))
        return out

    def _rows(
        self, ep0: int, eps: float, stats: Any, per_episode_l: np.ndarray | None,
        qnames: list[str],
    ) -> list[dict[str, Any]]:
        """One ``log.csv`` row per episode of the rollout (``wall_s`` added by the loop)."""
        spec = self.env.spec
        ad = self.learner.adaptive
        rows = []
        for i in range(self.env.num_envs):
            row: dict[str, Any] = {
                "episode": ep0 + i, "env_steps": self.env_steps, "rollout": self.rollouts - 1,
                "env_index": i, "epsilon": f"{eps:.6g}", "length": stats.length,
                "train_steps": self.learner.train_steps, **episode_fields(spec, stats, i),
            }
            if self.last_stats:
                row["loss"] = f"{self.last_stats['loss']:.6g}"
                row["grad_norm"] = f"{self.last_stats['grad_norm']:.6g}"
                for name, v in zip(qnames, self.last_stats["losses"]):
                    row[f"loss_{name}"] = f"{v:.6g}"
            if ad is not None and per_episode_l is not None:
                for c, name in enumerate(qnames):
                    row[f"l_{name}"] = f"{per_episode_l[i, c]:.6g}"
                    row[f"l_batch_{name}"] = f"{float(ad.l[c]):.6g}"
                    row[f"w_{name}"] = f"{float(ad.w[c].detach()):.6g}"
            rows.append(row)
        return rows


def make_trainer(
    env: VecMultiAgentEnv, algo: AlgoSpec, cfg: LearnerConfig, seed: int,
    out_dir: str | Path | None = None, run_info: dict[str, Any] | None = None,
    init_from: Pretrained | None = None,
) -> Any:
    """The trainer of ``algo``'s family: :class:`Trainer` (value learners, replay) or
    :class:`~xr_codec_marl.learners.pg.trainer.OnPolicyTrainer` (policy-gradient learners)."""
    if algo.is_pg:
        from xr_codec_marl.learners.pg.trainer import OnPolicyTrainer

        return OnPolicyTrainer(env, algo, cfg, seed, out_dir, run_info, init_from)
    return Trainer(env, algo, cfg, seed, out_dir, run_info, init_from)
