"""Learners learn: matrix games solved, QTRAN beats QMIX on the non-monotonic matrix,
runs resume exactly and reproduce bit-for-bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from xr_codec_marl.scenarios.matrix.game import MatrixGameEnv
from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.learners.registry import get_algo
from xr_codec_marl.learners.trainer import Trainer


def _greedy_joint_action(trainer: Trainer, env: MatrixGameEnv) -> tuple[int, ...]:
    step = env.reset()
    trainer.controller.reset(env.num_envs)
    q = trainer.controller.q_values(step.obs, None)  # [B, N, K, A]
    return tuple(q[0].sum(dim=-2).argmax(dim=-1).tolist())


def _train_matrix(algo: str, game: str, seed: int, grad_steps: int, components: int = 1,
                  lr: float = 5e-3) -> tuple[int, ...]:
    """One-step game, uniform exploration (epsilon = 1), one gradient step per 32 episodes."""
    env = MatrixGameEnv(game, num_envs=32, components=components)
    cfg = LearnerConfig(batch_size=32, learning_starts=32, epsilon_start=1.0, epsilon_finish=1.0,
                        lr=lr, target_update_interval=20, tensorboard=False)
    trainer = Trainer(env, get_algo(algo), cfg, seed=seed)
    trainer.train(32 * grad_steps, progress=False)
    return _greedy_joint_action(trainer, env)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("algo,components", [("vdn", 1), ("mh-dvdn", 3), ("dqmix", 3)])
def test_learner_solves_coordination_game(algo: str, components: int, seed: int) -> None:
    assert _train_matrix(algo, "coordination", seed, 150, components) == (1, 1)


@pytest.mark.parametrize("seed", [0, 1])
def test_qtran_solves_the_non_monotonic_matrix_qmix_cannot(seed: int) -> None:
    """Son et al.'s matrix: optimum 8 at (0, 0) next to -12s. QTRAN finds it, QMIX cannot."""
    assert _train_matrix("qtran", "qtran", seed, 400) == (0, 0)
    assert _train_matrix("qmix", "qtran", seed, 400) != (0, 0)


def _small_run(out: Path | None, steps: int, seed: int = 3) -> Trainer:
    env = MatrixGameEnv("penalty", num_envs=4, components=3, episode_limit=3)
    cfg = LearnerConfig(batch_size=8, learning_starts=8, buffer_size=40, epsilon_anneal_steps=150,
                        target_update_interval=5, td_lambda=0.5, checkpoint_every=10_000,
                        tensorboard=out is not None)
    trainer = Trainer(env, get_algo("mha-dqmix"), cfg, seed=seed, out_dir=out)
    trainer.train(steps, progress=False)
    return trainer


def _weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    sd = trainer.learner.state_dict()
    out = {f"agent.{k}": v for k, v in sd["agent"].items()}
    out |= {f"mixer.{k}": v for k, v in sd["mixer"].items()}
    out |= {f"target.{k}": v for k, v in sd["target_agent"].items()}
    out["w"] = sd["adaptive"]["w"]
    return out


def _assert_same_run(a: Trainer, b: Trainer) -> None:
    assert (a.env_steps, a.episodes, a.rollouts) == (b.env_steps, b.episodes, b.rollouts)
    assert a.learner.train_steps == b.learner.train_steps
    assert (a.buffer.size, a.buffer.next, a.buffer.inserted) == (b.buffer.size, b.buffer.next, b.buffer.inserted)
    for key in a.buffer.data:
        assert np.array_equal(a.buffer.data[key], b.buffer.data[key]), key
    wa, wb = _weights(a), _weights(b)
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


def test_resume_after_interruption_continues_the_same_run(tmp_path: Path) -> None:
    straight = _small_run(tmp_path / "straight", 240)
    _small_run(tmp_path / "resumed", 120)  # "interrupted" half-way (checkpoint written on exit)
    resumed = _small_run(tmp_path / "resumed", 240)
    assert resumed.resumed and not straight.resumed
    assert straight.buffer.inserted > straight.buffer.capacity  # the ring buffer wrapped
    _assert_same_run(straight, resumed)
    # the log has every episode once, in order, as the straight run's
    rows_a = (tmp_path / "straight" / "log.csv").read_text().splitlines()
    rows_b = (tmp_path / "resumed" / "log.csv").read_text().splitlines()
    assert len(rows_a) == len(rows_b) == 1 + straight.episodes
    assert [r.split(",")[:4] for r in rows_a] == [r.split(",")[:4] for r in rows_b]
    assert "l_r0" in rows_a[0] and "w_r2" in rows_a[0]


def test_same_seed_reproduces_bit_for_bit_and_other_seed_differs() -> None:
    a, b, c = _small_run(None, 120), _small_run(None, 120), _small_run(None, 120, seed=4)
    _assert_same_run(a, b)
    assert not torch.equal(_weights(a)["agent.fc1.weight"], _weights(c)["agent.fc1.weight"])
