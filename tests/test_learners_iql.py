"""IQL (`--algo iql`, seed 001's "independent Q"): each agent's TD loss on its own Q-values
matches a hand computation, and the learner solves the coordination game."""

from __future__ import annotations

import pytest
import torch

from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.learners.learner import Dims, Learner
from xr_codec_marl.learners.registry import ALGOS, LEARNER_NAMES, get_algo
from xr_codec_marl.learners.trainer import Trainer
from xr_codec_marl.scenarios.matrix.game import MatrixGameEnv


def test_iql_is_registered_beside_the_twelve() -> None:
    assert "iql" in LEARNER_NAMES and "iql" not in ALGOS and len(ALGOS) == 12
    assert get_algo("IQL").mixer == "none" and not get_algo("iql").decomposed


def test_iql_loss_is_each_agents_own_td_error() -> None:
    """One step, terminated: y_i = r for every agent, L = mean_i (Q_i(o_i, u_i) - r)^2."""
    n, a = 2, 3
    torch.manual_seed(0)
    learner = Learner(get_algo("iql"), LearnerConfig(), Dims(n, 2, a, 2, 1))
    batch = {
        "obs": torch.randn(3, 2, n, 2), "state": torch.randn(3, 2, 2),
        "avail": torch.ones(3, 2, n, a, dtype=torch.bool),
        "actions": torch.tensor([[[0, 1]], [[2, 2]], [[1, 0]]]),
        "rewards": torch.tensor([[[1.0]], [[-2.0]], [[0.5]]]),
        "terminated": torch.ones(3, 1, dtype=torch.bool),
        "filled": torch.ones(3, 1, dtype=torch.bool),
    }
    loss, _ = learner.losses(batch)
    q = learner.unroll(learner.agent, batch)[:, 0, :, 0, :]  # [b, N, A]
    chosen = q.gather(-1, batch["actions"][:, 0, :, None]).squeeze(-1)  # [b, N]
    want = ((chosen - batch["rewards"][:, 0]) ** 2).mean()
    assert loss.shape == (1,) and loss.item() == pytest.approx(want.item(), rel=1e-5)


@pytest.mark.parametrize("seed", [0, 1])
def test_iql_solves_the_coordination_game(seed: int) -> None:
    env = MatrixGameEnv("coordination", num_envs=32)
    cfg = LearnerConfig(batch_size=32, learning_starts=32, epsilon_start=1.0, epsilon_finish=1.0,
                        lr=5e-3, target_update_interval=20, tensorboard=False)
    trainer = Trainer(env, get_algo("iql"), cfg, seed=seed)
    trainer.train(32 * 150, progress=False)
    step = env.reset()
    trainer.controller.reset(env.num_envs)
    q = trainer.controller.q_values(step.obs, None)  # [B, N, K, A]
    assert tuple(q[0].sum(dim=-2).argmax(dim=-1).tolist()) == (1, 1)
