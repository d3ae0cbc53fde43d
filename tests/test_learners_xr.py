"""End to end on the analytic XR model: train briefly, reload, evaluate with the shared helper."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xr_codec_marl.env.factory import make_env
from xr_codec_marl.experiments.evaluation import evaluate_policy
from xr_codec_marl.learners.policy import load_policy
from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.learners.registry import get_algo
from xr_codec_marl.learners.trainer import Trainer


def test_train_reload_and_evaluate_on_analytic_xr(tmp_path: Path) -> None:
    env = make_env("xr", "analytic", num_envs=4, ring_m=400.0, seed=0, episode_limit=8)
    cfg = LearnerConfig(batch_size=4, learning_starts=4, buffer_size=16, tensorboard=False)
    trainer = Trainer(env, get_algo("mha-dqmix"), cfg, seed=0, out_dir=tmp_path)
    summary = trainer.train(96, progress=False)
    assert trainer.learner.train_steps == 3 and trainer.env_steps == 96
    assert np.isfinite(summary["loss"]) and "kpi/xqi" in summary
    header = (tmp_path / "log.csv").read_text().splitlines()[0].split(",")
    for comp in ("delay", "pdr", "drr"):
        assert {f"l_{comp}", f"w_{comp}", f"loss_{comp}", f"return_{comp}"} <= set(header)
    policy = load_policy(str(tmp_path), env.spec)
    assert policy.component_names == ("delay", "pdr", "drr")
    result = evaluate_policy(
        lambda n: make_env("xr", "analytic", num_envs=n, ring_m=400.0, seed=0, episode_limit=8),
        policy, episodes=4, seed=0, backend="analytic", batch_size=4,
    )
    assert result.episodes == 4 and 1.0 <= result.summary()["kpis"]["xr_index"] <= 5.0
