"""The on-policy training loop of the policy-gradient learners: collect, PPO update, log,
checkpoint, resume (the shell is :class:`~xr_codec_marl.learners.loop.RunLoop`, shared with
the value learners' :class:`~xr_codec_marl.learners.trainer.Trainer`).

Each iteration plays ``num_envs`` episodes with the current (sampling) policy and learns
from them once; nothing is replayed. A checkpoint holds the networks, the optimiser, the
counters and every RNG state, so a resumed run ends bit-for-bit where an uninterrupted one
would have, and ``log.csv`` (one row per episode: returns, losses, entropy per head, KPIs,
how much each agent's actions vary) holds every episode exactly once.

Fine-tuning (``init_from``, ``xr-marl train --init-from``, shared with the value learners in
:class:`~xr_codec_marl.learners.loop.RunLoop`): the source's actor, critic, value statistics
and counterfactual Q critic (when both runs have one; a Q critic the source lacks starts
fresh) and, with ``finetune_keep_optimiser``, their optimiser states at this run's ``lr``;
counters, gradient steps and RNG states start afresh. The spec and the settings that shape
the networks (:data:`NETWORK_SETTINGS`) must match the source's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xr_codec_marl.core.api import EnvSpec, VecMultiAgentEnv
from xr_codec_marl.errors import UsageError
from xr_codec_marl.learners.checkpoint import check_spec, rng_state, spec_summary
from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.learners.loop import Pretrained, RunLoop, episode_fields, kpi_scalars
from xr_codec_marl.learners.pg.learner import PGLearner
from xr_codec_marl.learners.pg.rollout import collect
from xr_codec_marl.learners.registry import AlgoSpec
from xr_codec_marl.learners.runner import RolloutStats

#: Per-step statistics of the PPO update logged in ``log.csv`` (besides entropy per head;
#: ``loss_q`` too with the counterfactual baseline's Q critic).
UPDATE_STATS = ("loss", "loss_policy", "loss_value", "approx_kl", "clip_fraction", "grad_norm")

#: Settings that shape the networks: a fine-tuning run must use its source's values.
NETWORK_SETTINGS = ("pg_hidden", "critic", "action_heads", "continuous_bins", "decomposed_critic")


class OnPolicyTrainer(RunLoop):
    """One training run of one policy-gradient learner on one vectorised environment."""

    network_settings = NETWORK_SETTINGS

    def __init__(
        self, env: VecMultiAgentEnv, algo: AlgoSpec, cfg: LearnerConfig, seed: int,
        out_dir: str | Path | None = None, run_info: dict[str, Any] | None = None,
        init_from: Pretrained | None = None,
    ) -> None:
        self._setup(env, algo, cfg, seed, out_dir, run_info)
        self.learner = PGLearner(algo, cfg, env.spec)
        self._begin(init_from)  # the run's own checkpoint wins over ``init_from``

    @property
    def run_name(self) -> str:
        return self.algo.name

    # --- checkpoints ---
    def payload(self) -> dict[str, Any]:
        return {
            "algo": self.algo.name,
            "config": self.cfg.to_dict(),
            "spec": {**spec_summary(self.env.spec), "n_continuous": self.env.spec.n_continuous},
            "seed": self.seed,
            "run": self.run_info,
            "learner": self.learner.state_dict(),
            "counters": {"env_steps": self.env_steps, "episodes": self.episodes,
                         "rollouts": self.rollouts},
            "rng": rng_state(self.rng),
            "init_from": self.init_from,
        }

    def _check_saved_spec(self, saved: dict[str, Any], where: str) -> None:
        check_pg_spec(saved, self.env.spec, where, self.cfg.decomposed_critic)

    def _load_run(self, data: dict[str, Any]) -> None:
        self.learner.load_state_dict(data["learner"])

    def _load_source(self, data: dict[str, Any]) -> dict[str, Any]:
        kept_q = self.learner.load_pretrained(data["learner"], self.cfg.finetune_keep_optimiser)
        return {"kept_q_critic": kept_q}

    # --- one iteration ---
    def _iterate(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Play one batch of episodes with the sampling policy, then one PPO update."""
        episode_seed = (self.seed * 1_000_003 + self.rollouts + 7_777_777) % 2**31
        learner = self.learner
        batch, stats = collect(self.env, lambda o, a: learner.act(o, a, explore=True),
                               learner.layout, episode_seed)
        self.last_stats = learner.update(batch)
        b = self.env.num_envs
        self.env_steps += b * stats.length
        self.rollouts += 1
        ep0 = self.episodes
        self.episodes += b
        return self._summary(stats), self._rows(ep0, stats)

    @property
    def _update_stats(self) -> tuple[str, ...]:
        return UPDATE_STATS + (("loss_q",) if self.learner.q_critic is not None else ())

    def _postfix_keys(self, key: str) -> bool:
        return key in ("return", "loss", "approx_kl")

    # --- logging ---
    def _columns(self) -> list[str]:
        spec = self.env.spec
        cols = ["episode", "env_steps", "rollout", "env_index", "length", "return"]
        cols += [f"return_{c}" for c in spec.reward_components]
        cols += [*self._update_stats, "train_steps"]
        cols += [f"entropy_{h}" for h in self.learner.layout.names]
        cols += [f"kpi_{k}" for k in spec.kpi_names]
        for a in spec.agent_ids:
            cols += [f"act_entropy_{a}", f"act_off_modal_{a}"]
        return cols + ["wall_s"]

    def _summary(self, stats: RolloutStats) -> dict[str, Any]:
        spec = self.env.spec
        out: dict[str, Any] = {"return": float(stats.returns.sum(axis=1).mean()),
                               "episode_length": float(stats.length)}
        for c, name in enumerate(spec.reward_components):
            out[f"return/{name}"] = float(stats.returns[:, c].mean())
        for key in self._update_stats:
            if key in self.last_stats:
                out[key] = float(self.last_stats[key])
        for name, v in zip(self.learner.layout.names, self.last_stats.get("entropy", ())):
            out[f"entropy/{name}"] = float(v)
        out.update(kpi_scalars(spec, stats.kpis))
        return out

    def _rows(self, ep0: int, stats: RolloutStats) -> list[dict[str, Any]]:
        spec = self.env.spec
        common: dict[str, Any] = {"env_steps": self.env_steps, "rollout": self.rollouts - 1,
                                  "length": stats.length, "train_steps": self.learner.train_steps}
        for key in self._update_stats:
            if key in self.last_stats:
                common[key] = f"{self.last_stats[key]:.6g}"
        for name, v in zip(self.learner.layout.names, self.last_stats.get("entropy", ())):
            common[f"entropy_{name}"] = f"{v:.6g}"
        rows = []
        for i in range(self.env.num_envs):
            rows.append({**common, "episode": ep0 + i, "env_index": i,
                         **episode_fields(spec, stats, i)})
        return rows


def check_pg_spec(saved: dict[str, Any], spec: EnvSpec, where: str,
                  decomposed: bool = False) -> None:
    """``check_spec`` plus the number of continuous action dimensions (one-line UsageError);
    ``decomposed``: the reward components must match too (one value head each)."""
    check_spec(saved, spec, decomposed, where)
    if int(saved.get("n_continuous", 0)) != spec.n_continuous:
        raise UsageError(f"checkpoint {where} does not match the environment: "
                         f"{saved.get('n_continuous', 0)} continuous action dimensions != "
                         f"{spec.n_continuous}")
