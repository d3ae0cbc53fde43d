"""Fine-tuning (``xr-marl train --init-from``): a new run starts from another run's networks.

What it takes over (weights, optimiser state, replay only when asked), what starts afresh
(counters, exploration at the fine-tune epsilon), what it refuses in one line (another spec,
another learner, no checkpoint), that a fine-tuning run's own checkpoint wins on re-run, and
end to end on the command line: twin -> other twin profile (and -> ns-3 where it is built).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from xr_codec_marl.cli import main
from xr_codec_marl.errors import UsageError
from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.learners.learner import epsilon_at
from xr_codec_marl.learners.registry import get_algo
from xr_codec_marl.learners.replay import EpisodeBuffer, carry_over, episode_shapes
from xr_codec_marl.learners.trainer import Pretrained, Trainer
from xr_codec_marl.scenarios.matrix.game import MatrixGameEnv

ALGO = "mha-dqmix"  # decomposed, with MHA weights and a mixer: everything a learner carries


def _env(components: int = 3, episode_limit: int = 2) -> MatrixGameEnv:
    return MatrixGameEnv("climbing", num_envs=4, components=components, episode_limit=episode_limit)


def _cfg(**kw: object) -> LearnerConfig:
    base = dict(batch_size=4, learning_starts=4, buffer_size=32, rnn_hidden=16, tensorboard=False,
                checkpoint_every_s=0.0)
    return LearnerConfig(**{**base, **kw})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained run: 64 windows, some gradient steps, a filled replay buffer."""
    out = tmp_path_factory.mktemp("source")
    Trainer(_env(), get_algo(ALGO), _cfg(), seed=0, out_dir=out).train(64, progress=False)
    return out


def _finetune(source: Path, out: Path | None, **cfg: object) -> Trainer:
    return Trainer(_env(), get_algo(ALGO), _cfg(**cfg), seed=1, out_dir=out,
                   init_from=Pretrained.load(source))


def test_weights_and_optimiser_carried_counters_zero(source: Path, tmp_path: Path) -> None:
    saved = torch.load(source / "checkpoint.pt", weights_only=True)
    assert saved["learner"]["train_steps"] > 0 and saved["counters"]["env_steps"] == 64
    t = _finetune(source, tmp_path)
    now = t.learner.state_dict()
    for net in ("agent", "mixer", "target_agent", "target_mixer"):
        for key, value in saved["learner"][net].items():
            assert torch.equal(now[net][key], value), f"{net}.{key} not carried over"
    assert torch.equal(now["adaptive"]["w"], saved["learner"]["adaptive"]["w"])
    opt_now, opt_src = now["opt"]["state"], saved["learner"]["opt"]["state"]
    assert opt_src and opt_now.keys() == opt_src.keys()
    assert all(torch.equal(opt_now[k]["exp_avg"], opt_src[k]["exp_avg"]) for k in opt_src)
    assert (t.env_steps, t.episodes, t.rollouts, t.learner.train_steps) == (0, 0, 0, 0)
    assert len(t.buffer) == 0  # replay starts empty by default
    info = t.init_from
    assert info is not None and info["checkpoint"] == str((source / "checkpoint.pt").resolve())
    assert info["env_steps"] == 64 and info["train_steps"] == saved["learner"]["train_steps"]
    assert info["kept_replay_episodes"] == 0 and info["kept_optimiser"] is True


def test_this_runs_lr_applies_and_optimiser_can_start_fresh(source: Path) -> None:
    t = _finetune(source, None, lr=1e-5)
    assert all(g["lr"] == 1e-5 for g in t.learner.opt.param_groups)  # not the source's 5e-4
    fresh = _finetune(source, None, finetune_keep_optimiser=False)
    assert fresh.learner.opt.state_dict()["state"] == {}


def test_epsilon_starts_at_the_finetune_value(source: Path, tmp_path: Path) -> None:
    cfg = _cfg(finetune_epsilon_start=0.3, finetune_epsilon_anneal_steps=100, epsilon_finish=0.1)
    assert epsilon_at(0, cfg, finetune=True) == pytest.approx(0.3)
    assert epsilon_at(50, cfg, finetune=True) == pytest.approx(0.2)
    assert epsilon_at(500, cfg, finetune=True) == pytest.approx(0.1)
    assert epsilon_at(0, cfg) == 1.0  # a run from scratch keeps epsilon_start
    _finetune(source, tmp_path, finetune_epsilon_start=0.3).train(16, progress=False)
    with (tmp_path / "log.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert float(rows[0]["epsilon"]) == pytest.approx(0.3)
    assert rows[0]["episode"] == "0" and int(rows[-1]["env_steps"]) == 16  # counters from 0


def test_replay_kept_only_when_asked(source: Path) -> None:
    saved = torch.load(source / "checkpoint.pt", weights_only=True)["buffer"]
    t = _finetune(source, None, finetune_keep_replay=True)
    assert len(t.buffer) == saved["size"] == 32
    assert t.init_from is not None and t.init_from["kept_replay_episodes"] == 32
    old = EpisodeBuffer.from_state_dict(saved)
    order = (old.next + np.arange(old.size)) % old.capacity  # oldest first
    np.testing.assert_array_equal(t.buffer.data["obs"][:32], old.data["obs"][order])
    small = _finetune(source, None, finetune_keep_replay=True, buffer_size=8)
    np.testing.assert_array_equal(small.buffer.data["rewards"], old.data["rewards"][order[-8:]])


def test_carried_replay_is_cut_or_padded_to_the_new_episode_limit() -> None:
    shapes = episode_shapes(3, 2, 4, 5, 3, 2)
    buf = EpisodeBuffer(4, shapes)
    rng = np.random.default_rng(0)
    batch = {k: rng.random((2, *s)).astype(np.float32) for k, s in shapes.items()}
    batch.update(filled=np.ones((2, 3), bool), terminated=np.zeros((2, 3), bool),
                 avail=np.ones((2, 4, 2, 3), bool), actions=np.ones((2, 3, 2), np.int64))
    buf.insert(batch)
    longer = carry_over(buf.state_dict(), 4, episode_shapes(5, 2, 4, 5, 3, 2))
    np.testing.assert_array_equal(longer.data["obs"][:2, :4], batch["obs"])
    assert not longer.data["filled"][:2, 3:].any() and longer.data["filled"][:2, :3].all()
    shorter = carry_over(buf.state_dict(), 4, episode_shapes(2, 2, 4, 5, 3, 2))
    np.testing.assert_array_equal(shorter.data["obs"][:2], batch["obs"][:, :3])
    np.testing.assert_array_equal(shorter.data["rewards"][:2], batch["rewards"][:, :2])
    with pytest.raises(ValueError, match="obs"):
        carry_over(buf.state_dict(), 4, episode_shapes(3, 2, 6, 5, 3, 2))


def test_spec_or_network_mismatch_is_one_line(source: Path) -> None:
    src = Pretrained.load(source)
    with pytest.raises(UsageError, match="reward components") as exc:
        Trainer(_env(components=2), get_algo(ALGO), _cfg(), seed=1, init_from=src)
    assert "\n" not in str(exc.value)
    bigger = MatrixGameEnv(np.zeros((4, 4)), num_envs=4, components=3, episode_limit=2)
    with pytest.raises(UsageError, match="n_actions 3 != 4"):
        Trainer(bigger, get_algo(ALGO), _cfg(), seed=1, init_from=src)
    with pytest.raises(UsageError, match="rnn_hidden 16 != 32"):
        Trainer(_env(), get_algo(ALGO), _cfg(rnn_hidden=32), seed=1, init_from=src)
    with pytest.raises(UsageError, match=f"holds a {ALGO} run; fine-tuning it needs --algo {ALGO}"):
        Trainer(_env(), get_algo("qmix"), _cfg(), seed=1, init_from=src)


def test_missing_or_corrupt_source_is_one_line(source: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot fine-tune from .*not found"):
        Pretrained.load(tmp_path / "empty-dir")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes((source / "checkpoint.pt").read_bytes()[:500])
    with pytest.raises(UsageError, match="cannot fine-tune from .*cannot read") as exc:
        Pretrained.load(corrupt)
    assert "\n" not in str(exc.value)


def test_own_checkpoint_wins_over_init_from(source: Path, tmp_path: Path) -> None:
    first = _finetune(source, tmp_path)
    first.train(16, progress=False)
    weights = {k: v.clone() for k, v in first.learner.agent.state_dict().items()}
    again = _finetune(source, tmp_path)  # same call again: resumes, does not re-initialise
    assert again.resumed and again.env_steps == 16
    assert all(torch.equal(again.learner.agent.state_dict()[k], v) for k, v in weights.items())
    assert again.init_from is not None and again.init_from["env_steps"] == 64  # still traced
    assert again.finetuning  # so exploration stays on the fine-tune schedule
    data = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert data["init_from"]["checkpoint"] == str((source / "checkpoint.pt").resolve())


# --- the command line, end to end, on the analytic backend (and ns-3 where built) ---

TINY = ["--env", "xr", "--algo", "vdn", "--episode-limit", "5", "--seed", "3", "--no-progress",
        "--set", "batch_size=2", "--set", "learning_starts=2", "--set", "buffer_size=16",
        "--set", "rnn_hidden=8", "--set", "tensorboard=false"]


@pytest.fixture(scope="module")
def twin_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("twin")
    assert main(["train", *TINY, "--backend", "analytic", "--num-envs", "2", "--steps", "20",
                 "--out", str(out)]) == 0
    return out


def test_cli_finetune_records_source_resumes_and_evaluates(
    twin_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "ft"
    cmd = ["train", *TINY, "--backend", "analytic", "--analytic-profile", "ns3-nr",
           "--num-envs", "2", "--init-from", str(twin_run), "--out", str(out)]
    assert main([*cmd, "--steps", "10"]) == 0
    err = capsys.readouterr().err
    assert "fine-tuning vdn from" in err and "20 windows of pre-training" in err
    assert "note: the source was trained with other scenario settings: profile" in err
    run = json.loads((out / "run.json").read_text())
    src = run["init_from"]
    assert src["checkpoint"] == str((twin_run / "checkpoint.pt").resolve())
    assert src["env_steps"] == 20 and src["run"]["backend"] == "analytic"
    assert src["settings"]["episode_limit"] == 5 and src["kept_replay_episodes"] == 0
    assert run["backend_options"] == {"profile": "ns3-nr"}
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["counters"]["env_steps"] == 10 and ckpt["init_from"]["env_steps"] == 20

    assert main([*cmd, "--steps", "20"]) == 0  # same command: its own checkpoint wins
    err = capsys.readouterr().err
    assert "resuming vdn" in err and "wins over --init-from" in err
    assert torch.load(out / "checkpoint.pt", weights_only=True)["counters"]["env_steps"] == 20
    assert json.loads((out / "run.json").read_text())["init_from"]["env_steps"] == 20

    assert main(["evaluate", "--env", "xr", "--analytic-profile", "ns3-nr", "--episode-limit", "5",
                 "--episodes", "2", "--policy", str(out / "checkpoint.pt"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["policy"] == "vdn" and summary["episodes"] == 2


@pytest.mark.parametrize("extra,message", [
    (["--algo", "qmix"], "holds a vdn run; fine-tuning it needs --algo vdn, not qmix"),
    (["--users", "VR,CG"], "does not match the environment: obs_size"),
    (["--set", "rnn_hidden=16"], "other network sizes: rnn_hidden 8 != 16"),
])
def test_cli_refusals_are_one_line(
    twin_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str],
    message: str,
) -> None:
    code = main(["train", *TINY, "--backend", "analytic", "--num-envs", "2", "--steps", "10",
                 "--init-from", str(twin_run), "--out", str(tmp_path / "ft"), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and "\n" not in err, err


def test_cli_init_from_without_checkpoint_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["train", *TINY, "--backend", "analytic", "--num-envs", "2", "--steps", "10",
                 "--init-from", str(tmp_path), "--out", str(tmp_path / "ft")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "cannot fine-tune from" in err and "not found" in err and "\n" not in err


def _ns3_built() -> bool:
    from xr_codec_marl.bridge.build import find_binary

    try:
        find_binary("xr-codec")
    except FileNotFoundError:
        return False
    return True


@pytest.mark.ns3
@pytest.mark.skipif(not _ns3_built(), reason="ns-3 scenarios not built (`xr-marl build-ns3`)")
def test_cli_finetunes_a_twin_checkpoint_on_ns3(twin_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "ns3-ft"
    res = subprocess.run(
        [sys.executable, "-m", "xr_codec_marl.cli", "train", *TINY, "--backend", "ns3",
         "--ran", "lte", "--workers", "1", "--episode-limit", "4", "--steps", "8",
         "--init-from", str(twin_run), "--out", str(out), "--set", "finetune_keep_replay=true",
         "--sim-logs", str(tmp_path / "sims")],
        capture_output=True, text=True, timeout=240,
        env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    assert "backend 'analytic' -> 'ns3'" in res.stderr  # the note, not an error
    run = json.loads((out / "run.json").read_text())
    assert run["backend"] == "ns3" and run["init_from"]["run"]["backend"] == "analytic"
    assert run["init_from"]["kept_replay_episodes"] == 4  # twin episodes, cut to 4 windows
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["counters"]["env_steps"] == 8 and ckpt["buffer"]["size"] == 6


# --- policy-gradient learners: the same fine-tuning (RunLoop._start_from) ---

def _pg(seed: int, out: Path | None, init_from: Pretrained | None = None, algo: str = "imappo",
        **cfg: object):  # type: ignore[no-untyped-def]
    from xr_codec_marl.learners.trainer import make_trainer

    base = dict(tensorboard=False, num_envs=4, checkpoint_every_s=0.0, decomposed_critic=True,
                pg_hidden=16)
    return make_trainer(MatrixGameEnv("coordination", num_envs=4, components=3),
                        get_algo(algo), LearnerConfig(**{**base, **cfg}),  # type: ignore[arg-type]
                        seed, out, init_from=init_from)


@pytest.fixture(scope="module")
def pg_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An IMAPPO run (decomposed, with its counterfactual Q critic) after 64 windows."""
    out = tmp_path_factory.mktemp("pg_source")
    _pg(0, out).train(64, progress=False)
    return out


def _states(t) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    sd = t.learner.state_dict()
    return {f"{part}.{k}": v for part in ("actor", "critic", "q_critic")
            for k, v in sd[part].items()}


def test_pg_networks_and_optimisers_carried_counters_zero(pg_source: Path,
                                                          tmp_path: Path) -> None:
    saved = torch.load(pg_source / "checkpoint.pt", weights_only=True)
    t = _pg(1, tmp_path, Pretrained.load(pg_source), lr=1e-4)
    assert not t.resumed and (t.env_steps, t.episodes, t.rollouts) == (0, 0, 0)
    assert t.learner.train_steps == 0 and saved["learner"]["train_steps"] > 0
    now = t.learner.state_dict()
    for part in ("actor", "critic", "q_critic"):
        for k, v in saved["learner"][part].items():
            assert torch.equal(now[part][k], v), f"{part}.{k}"
    assert torch.equal(now["value_norm"]["mean"], saved["learner"]["value_norm"]["mean"])
    for opt in ("opt", "q_opt"):  # Adam moments kept, at this run's learning rate
        a, b = now[opt]["state"], saved["learner"][opt]["state"]
        assert a and all(torch.equal(a[k]["exp_avg"], b[k]["exp_avg"]) for k in b)
        assert now[opt]["param_groups"][0]["lr"] == 1e-4
    src = t.init_from
    assert src is not None and src["env_steps"] == 64 and src["algo"] == "imappo"
    assert src["kept_q_critic"] and src["kept_optimiser"] and src["train_steps"] > 0
    t.train(16, progress=False)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ckpt["counters"]["env_steps"] == 16 and ckpt["init_from"]["env_steps"] == 64


def test_pg_fresh_optimiser_and_a_q_critic_the_source_lacks(pg_source: Path,
                                                            tmp_path: Path) -> None:
    t = _pg(1, None, Pretrained.load(pg_source), finetune_keep_optimiser=False)
    assert t.learner.opt.state_dict()["state"] == {}
    assert t.learner.q_opt is not None and t.learner.q_opt.state_dict()["state"] == {}
    _pg(0, tmp_path / "value", pg_baseline="value").train(16, progress=False)
    ft = _pg(1, None, Pretrained.load(tmp_path / "value"))  # imappo: counterfactual by default
    assert ft.learner.q_critic is not None and ft.init_from is not None
    assert ft.init_from["kept_q_critic"] is False
    ft.train(8, progress=False)  # the fresh Q critic learns alongside


def test_pg_own_checkpoint_wins_and_keeps_init_from(pg_source: Path, tmp_path: Path) -> None:
    first = _pg(1, tmp_path, Pretrained.load(pg_source))
    first.train(16, progress=False)
    weights = {k: v.clone() for k, v in _states(first).items()}
    again = _pg(1, tmp_path, Pretrained.load(pg_source))
    assert again.resumed and again.env_steps == 16
    assert all(torch.equal(_states(again)[k], v) for k, v in weights.items())
    assert again.init_from is not None and again.init_from["env_steps"] == 64


@pytest.mark.parametrize("kw,message", [
    ({"algo": "mappo"}, "holds a imappo run; fine-tuning it needs --algo imappo, not mappo"),
    ({"pg_hidden": 8}, "other network sizes: pg_hidden 16 != 8"),
    ({"decomposed_critic": False}, "other network sizes: decomposed_critic True != False"),
])
def test_pg_refusals_are_one_line(pg_source: Path, kw: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as err:
        _pg(1, None, Pretrained.load(pg_source), **kw)  # type: ignore[arg-type]
    assert message in str(err.value) and "\n" not in str(err.value)
