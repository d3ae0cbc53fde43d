"""MAPPO / IPPO / IMAPPO end to end: a cooperative matrix game solved from every seed, a
continuous target reached by the Gaussian head, an interrupted run resumed bit-for-bit (log
included), and the `xr-marl train` / `evaluate` commands on a policy-gradient run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from xr_codec_marl.cli import main
from xr_codec_marl.core.api import (
    AgentSpec,
    EnvSpec,
    HybridActions,
    Observation,
    StepResult,
    validate_actions,
)
from xr_codec_marl.core.spaces import ContinuousDim, DiscreteSpace, HybridSpace
from xr_codec_marl.errors import UsageError
from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.learners.pg.trainer import OnPolicyTrainer
from xr_codec_marl.learners.policy import load_policy
from xr_codec_marl.learners.registry import get_algo
from xr_codec_marl.learners.trainer import make_trainer
from xr_codec_marl.scenarios.matrix.game import MatrixGameEnv


class ReachTarget:
    """Each agent sees its own target ``t_i`` in [-1.5, 2.5] and sets a level in [-2, 3]; it
    also picks one of two modes, mode 1 worth +1. Team reward: sum_i (mode_i - |x_i - t_i|).
    One step per episode; targets come from the reset seed."""

    def __init__(self, num_envs: int, n_agents: int = 2, modes: bool = True) -> None:
        level = (ContinuousDim("level", -2.0, 3.0),)
        space = HybridSpace((DiscreteSpace(2, name="mode"),) if modes else (), level)
        agents = tuple(AgentSpec(f"a{i}", "toy", 1, 2 if modes else 1, action_space=space)
                       for i in range(n_agents))
        self.spec = EnvSpec("reach", agents, n_agents, ("r",), (), 1.0, 1)
        self.num_envs = num_envs
        self._avail = np.ones((num_envs, n_agents, 2 if modes else 1), bool)
        self.targets = np.zeros((num_envs, n_agents))

    def _obs(self) -> tuple[np.ndarray, np.ndarray]:
        return self.targets[..., None].astype(np.float32), self.targets.astype(np.float32)

    def reset(self, seed: int | None = None) -> Observation:
        self.targets = np.random.default_rng(seed).uniform(-1.5, 2.5, self.targets.shape)
        obs, state = self._obs()
        return Observation(obs, state, self._avail.copy(), {})

    def step(self, actions: HybridActions) -> StepResult:
        mode = validate_actions(self.spec, actions, self._avail)
        mode = mode if self._avail.shape[-1] == 2 else np.ones_like(mode)
        err = np.abs(actions.continuous[..., 0] - self.targets)
        self.last_error = err
        reward = (mode - err).sum(axis=1, keepdims=True).astype(np.float32)
        obs, state = self._obs()
        b = self.num_envs
        return StepResult(obs, state, self._avail.copy(), {}, reward, np.ones(b, bool),
                          np.zeros(b, bool))

    def close(self) -> None:
        pass


def _cfg(**kw: object) -> LearnerConfig:
    return LearnerConfig(**{"tensorboard": False, "num_envs": 32, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mappo_solves_the_coordination_game_from_every_seed(seed: int) -> None:
    env = MatrixGameEnv("coordination", num_envs=32)
    trainer = make_trainer(env, get_algo("mappo"), _cfg(), seed)
    assert isinstance(trainer, OnPolicyTrainer)
    trainer.train(1500, progress=False)
    policy = load_policy_from(trainer, env)
    acts = policy.act(env.reset(seed=99))
    assert (np.asarray(acts) == 1).all()  # the optimum (1, 1), greedily, in every copy
    assert env.step(acts).info["global_kpis"][:, 1].all()


@pytest.mark.parametrize("algo", ["mappo", "imappo"])
def test_the_counterfactual_baseline_solves_the_coordination_game(algo: str) -> None:
    env = MatrixGameEnv("coordination", num_envs=32)
    trainer = make_trainer(env, get_algo(algo), _cfg(pg_baseline="counterfactual"), 0)
    assert trainer.learner.q_critic is not None
    trainer.train(1500, progress=False)
    acts = load_policy_from(trainer, env).act(env.reset(seed=99))
    assert (np.asarray(acts) == 1).all()
    assert "loss_q" in trainer.last_stats


def load_policy_from(trainer: OnPolicyTrainer, env: MatrixGameEnv):  # type: ignore[no-untyped-def]
    from xr_codec_marl.learners.pg.policy import PGPolicy

    return PGPolicy(trainer.algo.name, env.spec, trainer.learner)


@pytest.mark.parametrize("algo", ["mappo", "imappo"])
def test_gaussian_head_reaches_a_continuous_target(algo: str) -> None:
    env = ReachTarget(num_envs=64)
    trainer = make_trainer(env, get_algo(algo), _cfg(num_envs=64, lr=1e-3), seed=0)
    trainer.train(6000, progress=False)
    step = env.reset(seed=12345)
    heads, x = trainer.learner.act(step.obs, step.avail_actions, explore=False)
    acts = trainer.learner.layout.to_env(heads, x)
    env.step(acts)
    # an untrained actor (means ~0.5 on [-2, 3]) misses by ~1 on average
    assert env.last_error.mean() < 0.2, env.last_error.mean()
    assert (acts.discrete == 1).all()
    # the policy's spread shrank from its start (log std -0.5)
    assert trainer.learner.actor.log_std.item() < -0.5


def test_a_continuous_only_agent_always_has_a_choice() -> None:
    """An agent with no categorical head (one discrete value, e.g. XR's continuous codec
    rate) chooses in its continuous dimensions in every window: pg_skip_forced must not take
    those windows out of its policy loss (it once did, and such a policy never moved)."""
    env = ReachTarget(num_envs=64, modes=False)
    assert env.spec.n_actions == 1
    trainer = make_trainer(env, get_algo("mappo"), _cfg(num_envs=64, lr=1e-3), seed=0)
    trainer.train(6000, progress=False)
    step = env.reset(seed=12345)
    heads, x = trainer.learner.act(step.obs, step.avail_actions, explore=False)
    env.step(trainer.learner.layout.to_env(heads, x))
    assert env.last_error.mean() < 0.2, env.last_error.mean()


def _weights(t: OnPolicyTrainer) -> dict[str, torch.Tensor]:
    sd = t.learner.state_dict()
    return {**{f"actor.{k}": v for k, v in sd["actor"].items()},
            **{f"critic.{k}": v for k, v in sd["critic"].items()},
            **{f"q_critic.{k}": v for k, v in (sd["q_critic"] or {}).items()}}


def _short(out: Path | None, steps: int, seed: int = 5) -> OnPolicyTrainer:
    env = ReachTarget(num_envs=8, n_agents=3)
    trainer = make_trainer(env, get_algo("imappo"), LearnerConfig(
        tensorboard=out is not None, num_envs=8, checkpoint_every=10_000), seed, out)
    trainer.train(steps, progress=False)
    return trainer


def test_resume_after_interruption_is_exact(tmp_path: Path) -> None:
    """IMAPPO (counterfactual baseline: its Q critic and Q optimiser resume too)."""
    straight = _short(tmp_path / "straight", 48)
    _short(tmp_path / "resumed", 24)  # "interrupted": checkpoint written on exit
    resumed = _short(tmp_path / "resumed", 48)
    assert resumed.resumed and not straight.resumed
    assert (straight.env_steps, straight.episodes, straight.rollouts) == (48, 48, 6)
    assert (resumed.env_steps, resumed.episodes, resumed.rollouts) == (48, 48, 6)
    assert straight.learner.train_steps == resumed.learner.train_steps == 6 * 5 * 4
    wa, wb = _weights(straight), _weights(resumed)
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    # the optimiser's moments and the numpy RNG state agree too
    oa, ob = straight.learner.opt.state_dict()["state"], resumed.learner.opt.state_dict()["state"]
    assert all(torch.equal(oa[k]["exp_avg_sq"], ob[k]["exp_avg_sq"]) for k in oa)
    assert any(k.startswith("q_critic.") for k in wa)
    qa, qb = (t.learner.q_opt.state_dict()["state"] for t in (straight, resumed))  # type: ignore[union-attr]
    assert qa and all(torch.equal(qa[k]["exp_avg_sq"], qb[k]["exp_avg_sq"]) for k in qa)
    assert straight.rng.bit_generator.state == resumed.rng.bit_generator.state
    rows_a = (tmp_path / "straight" / "log.csv").read_text().splitlines()
    rows_b = (tmp_path / "resumed" / "log.csv").read_text().splitlines()
    assert len(rows_a) == len(rows_b) == 1 + 48
    cut = rows_a[0].split(",").index("wall_s")
    assert [r.split(",")[:cut] for r in rows_a] == [r.split(",")[:cut] for r in rows_b]
    assert "entropy_mode" in rows_a[0] and "entropy_level" in rows_a[0] and "loss_q" in rows_a[0]


def test_resume_refuses_another_learner_or_seed(tmp_path: Path) -> None:
    _short(tmp_path / "run", 8)
    env = ReachTarget(num_envs=8, n_agents=3)
    with pytest.raises(UsageError, match="imappo run, not mappo"):
        make_trainer(env, get_algo("mappo"), LearnerConfig(tensorboard=False, num_envs=8), 5,
                     tmp_path / "run")
    with pytest.raises(UsageError, match="seed 5"):
        make_trainer(env, get_algo("imappo"), LearnerConfig(tensorboard=False, num_envs=8), 6,
                     tmp_path / "run")


def test_imappo_settings_select_critic_heads_and_normalisation() -> None:
    env = ReachTarget(num_envs=4, n_agents=3)
    def learner(algo: str, **kw: object):  # type: ignore[no-untyped-def]
        return make_trainer(env, get_algo(algo), LearnerConfig(tensorboard=False, num_envs=4,
                                                               **kw), 0).learner  # type: ignore[arg-type]
    im = learner("imappo")
    assert (im.choices.critic, im.choices.action_heads, im.choices.adv_norm,
            im.choices.baseline) == ("aggregated", "hybrid", "joint", "counterfactual")
    assert im.q_critic is not None and im.q_critic.inp.in_features == 3 + 2 * 1 + 3
    assert im.q_critic.act.in_features == 3 * (2 + 1)  # per agent: mode one-hot, level
    assert learner("mappo").q_critic is None and learner("ippo").choices.baseline == "value"
    assert learner("imappo", pg_baseline="value").q_critic is None
    assert im.critic.body[0].in_features == 3 + 2 * 1 + 3  # state, pooled obs, own obs, id
    assert learner("mappo").critic.body[0].in_features == 3
    assert learner("ippo").choices.adv_norm == "agent"
    ablated = learner("imappo", critic="state", action_heads="flat", adv_norm="agent",
                      continuous_bins=4, decomposed_critic=True)
    assert ablated.layout.head_sizes == (2 * 4,) and ablated.layout.n_gaussian == 0
    assert ablated.critic.body[0].in_features == 3 and ablated.value_names == ("r",)
    # the flat ablation still trains and acts within the bounds
    t = make_trainer(env, get_algo("imappo"), LearnerConfig(
        tensorboard=False, num_envs=4, action_heads="flat"), 0)
    t.train(8, progress=False)
    step = env.reset(seed=1)
    acts = t.learner.layout.to_env(*t.learner.act(step.obs, step.avail_actions, True))
    assert ((acts.continuous >= -2.0) & (acts.continuous <= 3.0)).all()


def test_value_learners_still_refuse_hybrid_spaces() -> None:
    with pytest.raises(UsageError, match="policy-gradient learner"):
        make_trainer(ReachTarget(num_envs=2), get_algo("qmix"), LearnerConfig(tensorboard=False), 0)


def test_train_and_evaluate_commands_run_a_pg_learner(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mappo"
    argv = ["train", "--env", "matrix", "--game", "coordination", "--algo", "mappo",
            "--steps", "1200", "--seed", "0", "--out", str(out), "--num-envs", "32",
            "--no-progress", "--set", "tensorboard=false"]
    assert main(argv) == 0
    assert "mappo: 1216 windows" in capsys.readouterr().out
    assert main(argv[:8] + ["1500"] + argv[9:]) == 0  # resumes
    assert "resuming mappo" in capsys.readouterr().err
    run = json.loads((out / "run.json").read_text())
    assert run["algo"] == "mappo" and run["config"]["critic"] == "auto"
    assert main(["evaluate", "--env", "matrix", "--game", "coordination", "--policy", str(out),
                 "--episodes", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["kpis"]["optimal"] == pytest.approx(1.0)
    # fine-tuning from it: recorded in run.json and the checkpoint; the same command resumes
    ft = ["train", "--env", "matrix", "--game", "coordination", "--algo", "mappo", "--steps",
          "64", "--num-envs", "32", "--out", str(tmp_path / "ft"), "--init-from", str(out),
          "--no-progress", "--set", "tensorboard=false"]
    assert main(ft) == 0
    err = capsys.readouterr().err
    assert "fine-tuning mappo from" in err and "1504 windows of pre-training" in err
    src = json.loads((tmp_path / "ft" / "run.json").read_text())["init_from"]
    assert src["checkpoint"] == str((out / "checkpoint.pt").resolve()) and src["env_steps"] == 1504
    assert main(ft[:8] + ["128"] + ft[9:]) == 0
    err = capsys.readouterr().err
    assert "resuming mappo" in err and "wins over --init-from" in err
    assert json.loads((tmp_path / "ft" / "run.json").read_text())["init_from"] == src


def test_decomposed_critic_has_one_value_head_per_component_and_learns() -> None:
    env = MatrixGameEnv("coordination", num_envs=32, components=3)
    trainer = make_trainer(env, get_algo("mappo"), _cfg(decomposed_critic=True,
                                                        pg_baseline="counterfactual"), 0)
    assert trainer.learner.value_names == ("r0", "r1", "r2")
    assert trainer.learner.critic.body[-1].out_features == 3
    assert trainer.learner.q_critic is not None
    assert trainer.learner.q_critic.body[-1].out_features == 3
    trainer.train(1500, progress=False)
    acts = load_policy_from(trainer, env).act(env.reset(seed=7))
    assert (np.asarray(acts) == 1).all()
    # the critic's heads track the components' own values (they differ), and sum to the payoff
    step = env.reset(seed=7)
    from xr_codec_marl.learners.pg.networks import critic_inputs

    norm = trainer.learner.value_norm
    assert norm is not None
    v = norm.denormalise(trainer.learner.critic(critic_inputs(
        torch.as_tensor(step.obs), torch.as_tensor(step.state), "state")))[0, 0].detach().numpy()
    want = env.components[:, 1, 1]
    assert v.sum() == pytest.approx(float(want.sum()), abs=1.0)
    assert np.abs(v - want).max() < 1.5 and np.ptp(want) > 3.0


@pytest.mark.parametrize("skip", [True, False])
def test_windows_without_a_choice_leave_the_policy_alone(skip: bool) -> None:
    """With a single available action there is nothing to decide: pg_skip_forced (default)
    keeps such windows out of the policy loss (the critic still learns from them)."""
    env = ReachTarget(num_envs=8)
    env._avail[..., 1] = False  # only mode 0
    trainer = make_trainer(env, get_algo("mappo"), _cfg(num_envs=8, pg_skip_forced=skip), 0)
    actor0 = {k: v.clone() for k, v in trainer.learner.actor.state_dict().items()}
    critic0 = {k: v.clone() for k, v in trainer.learner.critic.state_dict().items()}
    trainer.train(16, progress=False)
    actor_moved = any(not torch.equal(v, trainer.learner.actor.state_dict()[k])
                      for k, v in actor0.items())
    assert actor_moved != skip
    assert any(not torch.equal(v, trainer.learner.critic.state_dict()[k]) for k, v in critic0.items())


def test_a_checkpoint_that_does_not_fit_the_environment_is_refused(tmp_path: Path) -> None:
    trainer = make_trainer(ReachTarget(num_envs=4), get_algo("ippo"),
                           LearnerConfig(tensorboard=False, num_envs=4), 0, tmp_path / "run")
    trainer.train(8, progress=False)
    policy = load_policy(tmp_path / "run", ReachTarget(num_envs=1).spec)
    assert policy.name == "ippo"
    with pytest.raises(UsageError, match="2 agents != 3"):
        load_policy(tmp_path / "run", ReachTarget(num_envs=1, n_agents=3).spec)
    # the same sizes with a discrete action space
    discrete = EnvSpec("reach", tuple(AgentSpec(f"a{i}", "toy", 1, 2) for i in range(2)), 2,
                       ("r",), (), 1.0, 1)
    with pytest.raises(UsageError, match="1 continuous action dimensions != 0"):
        load_policy(tmp_path / "run", discrete)


def test_resuming_a_run_without_a_q_critic_as_counterfactual_is_one_line(tmp_path: Path) -> None:
    env = ReachTarget(num_envs=4)
    cfg = {"tensorboard": False, "num_envs": 4}
    make_trainer(env, get_algo("imappo"), LearnerConfig(**cfg, pg_baseline="value"), 0,  # type: ignore[arg-type]
                 tmp_path).train(8, progress=False)
    with pytest.raises(UsageError, match="resume it with --set pg_baseline=value") as err:
        make_trainer(env, get_algo("imappo"), LearnerConfig(**cfg), 0, tmp_path)  # type: ignore[arg-type]
    assert "\n" not in str(err.value)
