"""Explanations of policy-gradient runs: a run trained with ``decomposed_critic=true`` and the
counterfactual baseline's action-value critic is explained like a decomposed value learner
(``xr-marl explain`` on the analytic MEC twin, hybrid actions); runs without those settings
are refused in one line naming the missing one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from xr_codec_marl.cli import main
from xr_codec_marl.env.factory import make_env
from xr_codec_marl.learners.pg.networks import critic_inputs
from xr_codec_marl.learners.policy import load_policy

MEC = ["--env", "mec", "--devices", "4", "--servers", "2", "--actions", "hybrid"]
SHORT = ["--episode-limit", "20"]


def _train(out: Path, steps: int, *settings: str) -> Path:
    rc = main(["train", *MEC, *SHORT, "--algo", "imappo", "--steps", str(steps), "--seed", "0",
               "--num-envs", "8", "--out", str(out), "--no-progress", "--set", "tensorboard=false",
               *[a for s in settings for a in ("--set", s)]])
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def pg_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(tmp_path_factory.mktemp("pg") / "imappo", 3200, "decomposed_critic=true")


def test_explain_a_decomposed_counterfactual_pg_run(pg_run: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "explain"
    rc = main(["explain", *MEC, *SHORT, "--checkpoint", str(pg_run), "--episodes", "1",
               "--num-envs", "2", "--no-kpis", "--out", str(out), "--json"])
    assert rc == 0
    json.loads(capsys.readouterr().out)
    table = pd.read_csv(out / "explanations.csv")
    env = make_env("mec", "analytic", 1, 0, devices=4, servers=2, actions="hybrid",
                   episode_limit=20)
    components = tuple(env.spec.reward_components)
    env.close()
    assert len(table) > 0 and set(table.algorithm) == {"imappo"}
    assert tuple(table.component.unique()) == components
    assert np.isfinite(table.rdx_alt).all() and np.isfinite(table.q_chosen).all()
    assert (table.chosen_action != table.alt_action).all()


def test_pg_q_values_score_the_first_head_against_the_taken_joint_action(pg_run: Path) -> None:
    """Q_c(s, a_-i, u): the others' actions as taken, agent i's first head u, its continuous
    values at the actor's mode; the chosen action is the mode, unavailable options -inf."""
    env = make_env("mec", "analytic", 2, 0, devices=4, servers=2, actions="hybrid",
                   episode_limit=20)
    policy = load_policy(pg_run, env.spec)
    step = env.reset(seed=3)
    for _ in range(3):
        step = env.step(policy.act(step))
    from xr_codec_marl.baselines import make_policy

    taken = make_policy("random", env.spec).act(step)
    q = policy.q_values(step, None, joint_actions=taken)  # type: ignore[call-arg]
    avail = np.asarray(step.avail_actions, bool)
    assert q.shape == (2, 4, len(env.spec.reward_components), env.spec.n_actions)
    assert np.isneginf(q[~avail[:, :, None, :].repeat(q.shape[2], 2)]).all()
    chosen = policy.chosen_actions(step)  # type: ignore[attr-defined]
    learner = policy.learner  # type: ignore[attr-defined]
    heads, x = learner.layout.from_env(taken)
    mode_heads, mode_x = learner.act(step.obs, avail, False)
    assert (chosen == mode_heads[..., 0]).all()
    i = 1  # agent i's slot replaced by its mode, the others as taken
    heads[:, i], x[:, i] = mode_heads[:, i], np.clip(mode_x[:, i], -1, 1)
    c = critic_inputs(torch.as_tensor(step.obs), torch.as_tensor(step.state),
                      learner.choices.critic)[:, i]
    with torch.no_grad():
        want = learner.value_norm.denormalise(learner.q_critic(
            c, learner.encode_joint(torch.as_tensor(heads), torch.as_tensor(x))))
    got = q[np.arange(2), i, :, chosen[:, i]]
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-4)
    env.close()


@pytest.mark.parametrize(("settings", "missing"), [
    ((), "decomposed_critic=true"),
    (("decomposed_critic=true", "pg_baseline=value"), "pg_baseline=counterfactual"),
])
def test_pg_runs_without_the_settings_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: tuple[str, ...], missing: str,
) -> None:
    run = _train(tmp_path / "run", 20, *settings)
    capsys.readouterr()
    rc = main(["explain", *MEC, *SHORT, "--checkpoint", str(run), "--episodes", "1",
               "--num-envs", "1", "--no-kpis", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and missing in err and err.count("\n") == 1, err
