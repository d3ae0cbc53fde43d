"""Checkpoints load with weights_only=True; the checkpoint policy is an ExplainablePolicy;
bad checkpoints and bad command lines fail with one line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from xr_codec_marl.cli import main
from xr_codec_marl.scenarios.matrix.game import MatrixGameEnv
from xr_codec_marl.errors import UsageError
from xr_codec_marl.learners.policy import load_policy
from xr_codec_marl.learners.config import LearnerConfig, build_config
from xr_codec_marl.learners.registry import get_algo
from xr_codec_marl.learners.trainer import Trainer
from xr_codec_marl.policy import ExplainablePolicy


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    env = MatrixGameEnv("climbing", num_envs=8, components=3, episode_limit=2)
    cfg = LearnerConfig(batch_size=8, learning_starts=8, buffer_size=64, tensorboard=False)
    Trainer(env, get_algo("mh-dqtran"), cfg, seed=0, out_dir=out).train(64, progress=False)
    return out


def test_checkpoint_loads_with_weights_only(run_dir: Path) -> None:
    data = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert data["algo"] == "mh-dqtran" and data["counters"]["env_steps"] == 64
    assert data["buffer"]["size"] == 32 and data["config"]["batch_size"] == 8


def test_checkpoint_policy_is_explainable_and_greedy(run_dir: Path) -> None:
    env = MatrixGameEnv("climbing", num_envs=5, components=3, episode_limit=2)
    policy = load_policy(str(run_dir), env.spec)
    assert isinstance(policy, ExplainablePolicy)
    assert policy.component_names == ("r0", "r1", "r2")
    step = env.reset()
    policy.reset(5)
    q = policy.q_values(step, None)
    assert q.shape == (5, 2, 3, 3) and q.dtype == np.float32
    policy.reset(5)
    actions = policy.act(step)
    np.testing.assert_array_equal(actions, q.sum(axis=2).argmax(axis=-1))


def test_policy_masks_unavailable_actions(run_dir: Path) -> None:
    env = MatrixGameEnv("climbing", num_envs=2, components=3, episode_limit=2)
    policy = load_policy(str(run_dir / "checkpoint.pt"), env.spec)
    step = env.reset()
    step.avail_actions[:, :, 0] = False
    policy.reset(2)
    q = policy.q_values(step, np.zeros((2, 2), np.int64))
    assert np.isneginf(q[..., 0]).all() and np.isfinite(q[..., 1:]).all()


def test_bad_checkpoints_raise_usage_errors(run_dir: Path, tmp_path: Path) -> None:
    spec = MatrixGameEnv("climbing", components=3, episode_limit=2).spec
    with pytest.raises(UsageError, match="not found"):
        load_policy(str(tmp_path / "nope.pt"), spec)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes((run_dir / "checkpoint.pt").read_bytes()[:500])
    with pytest.raises(UsageError, match="cannot read"):
        load_policy(str(corrupt), spec)
    other = MatrixGameEnv("climbing", components=2, episode_limit=2).spec  # 2 reward components
    with pytest.raises(UsageError, match="reward components"):
        load_policy(str(run_dir), other)
    bigger = MatrixGameEnv(np.zeros((4, 4)), components=3).spec  # 4 actions
    with pytest.raises(UsageError, match="n_actions"):
        load_policy(str(run_dir), bigger)


def test_unknown_algo_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["train", "--env", "matrix", "--algo", "dqmixx", "--steps", "5", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "unknown algo 'dqmixx'" in err and "mha-dqmix" in err


@pytest.mark.parametrize("extra,needle", [
    (["--set", "nonsense=1"], "unknown learner setting"),
    (["--set", "lr"], "key=value"),
    (["--set", "batch_size=many"], "batch_size"),
    (["--set", "target_update=sometimes"], "target_update"),
    (["--config", "/nonexistent.yaml"], "config file not found"),
])
def test_bad_settings_are_one_line_exit_2(
    extra: list[str], needle: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["train", "--env", "matrix", "--algo", "vdn", "--steps", "5", "--out", str(tmp_path), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and needle in err


def test_config_file_then_set_override(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("lr: 0.001\nbatch_size: 4\ndouble_q: false\n")
    (tmp_path / "c.toml").write_text("lr = 0.002\ntd_lambda = 0.6\n")
    cfg = build_config(str(tmp_path / "c.yaml"), ["batch_size=6", "importance=mean"])
    assert (cfg.lr, cfg.batch_size, cfg.double_q, cfg.importance) == (0.001, 6, False, "mean")
    assert build_config(str(tmp_path / "c.toml")).td_lambda == 0.6


def test_cli_train_matrix_writes_run_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.json").write_text(json.dumps({"batch_size": 4, "learning_starts": 4}))
    args = ["train", "--env", "matrix", "--game", "penalty", "--algo", "mha-dvdn", "--seed", "2",
            "--out", str(tmp_path / "run"), "--config", str(tmp_path / "c.json"), "--num-envs", "4",
            "--set", "tensorboard=false", "--no-progress"]
    assert main([*args, "--steps", "16"]) == 0
    assert main([*args, "--steps", "32"]) == 0
    captured = capsys.readouterr()
    assert "resuming mha-dvdn" in captured.err and "32 windows" in captured.out
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["config"]["batch_size"] == 4 and run["config"]["num_envs"] == 4
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(rows) == 1 + 32
