"""Faults around `xr-marl train` runs: logs survive ``kill -9`` and resume exactly, bad
checkpoints and bad settings are one line with exit code 2, and runs checkpoint on a timer by
default so a killed run has something to resume."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from xr_codec_marl.cli import main
from xr_codec_marl.errors import UsageError
from xr_codec_marl.learners.checkpoint import FORMAT
from xr_codec_marl.learners.config import LearnerConfig, build_config

#: A small, fast, learning run on the analytic backend (10-window episodes, 2 copies).
SMALL = ["--env", "xr", "--backend", "analytic", "--algo", "vdn", "--episode-limit", "10",
         "--num-envs", "2", "--seed", "3", "--no-progress", "--set", "batch_size=4",
         "--set", "learning_starts=4", "--set", "buffer_size=32", "--set", "rnn_hidden=16"]


def _cli(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "xr_codec_marl.cli", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _start_and_kill_after_checkpoint(args: list[str], out: Path, timeout: float = 120.0) -> None:
    """Start ``xr-marl train`` in a subprocess and SIGKILL it once it has written a checkpoint."""
    proc = subprocess.Popen(_cli(args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=_env())
    try:
        deadline = time.monotonic() + timeout
        while not (out / "checkpoint.pt").is_file():
            if proc.poll() is not None:
                pytest.fail(f"train exited ({proc.returncode}) before a checkpoint: {proc.stderr.read()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no checkpoint after {timeout:g} s")
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"


def _rows(run: Path) -> list[dict[str, str]]:
    """log.csv rows without the wall-clock column (the only one that differs between runs)."""
    with (run / "log.csv").open(newline="") as fh:
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in csv.DictReader(fh)]


def _tb_scalars(run: Path, tag: str = "return") -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tb"))
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


# --- 1. log.csv after kill -9 and resume ---

def test_kill_9_then_resume_logs_every_episode_once_as_uninterrupted(tmp_path: Path) -> None:
    steps = 300  # 30 episodes of 10 windows
    def args(out: Path) -> list[str]:
        return ["train", *SMALL, "--steps", str(steps), "--out", str(out), "--set", "checkpoint_every=40"]

    assert main(args(tmp_path / "ref")) == 0  # uninterrupted
    run = tmp_path / "run"
    _start_and_kill_after_checkpoint(args(run), run)
    done = subprocess.run(_cli(args(run)), capture_output=True, text=True, timeout=300, env=_env())
    assert done.returncode == 0, done.stderr
    assert "resuming vdn" in done.stderr

    rows, ref = _rows(run), _rows(tmp_path / "ref")
    assert [int(r["episode"]) for r in rows] == list(range(steps // 10))
    assert rows == ref  # bit-for-bit, losses included
    assert _tb_scalars(run) == _tb_scalars(tmp_path / "ref")  # TensorBoard: each step once


def test_resume_cuts_rows_after_the_checkpoint_and_a_half_written_line(tmp_path: Path) -> None:
    """What a kill leaves when rows after the checkpoint were flushed, the last one cut short."""
    def args(out: Path, steps: int) -> list[str]:
        return ["train", *SMALL, "--steps", str(steps), "--out", str(out), "--set", "tensorboard=false"]

    ref, run = tmp_path / "ref", tmp_path / "run"
    assert main(args(ref, 200)) == 0
    assert main(args(run, 100)) == 0  # checkpoint at episode 10
    ref_lines = (ref / "log.csv").read_bytes().splitlines(keepends=True)
    with (run / "log.csv").open("ab") as fh:  # rows 10..13 written after it, row 14 cut short
        fh.write(b"".join(ref_lines[11:15]) + ref_lines[15][:1])
    assert main(args(run, 200)) == 0
    rows = _rows(run)
    assert [int(r["episode"]) for r in rows] == list(range(20))
    assert rows == _rows(ref)


# --- 2. empty, truncated or incomplete checkpoints ---

@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("good")
    assert main(["train", "--env", "matrix", "--algo", "vdn", "--steps", "8", "--num-envs", "4",
                 "--out", str(out), "--set", "tensorboard=false", "--no-progress"]) == 0
    return out / "checkpoint.pt"


def _bad_checkpoint(kind: str, good: Path, path: Path) -> str:
    """Write a bad checkpoint of ``kind`` at ``path``; return what the error must say."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "empty":
        path.write_bytes(b"")
        return "empty"
    if kind == "truncated":
        path.write_bytes(good.read_bytes()[:300])
        return "cannot read checkpoint"
    if kind == "garbage":
        path.write_bytes(b"\x00not a checkpoint\n" * 10)
        return "cannot read checkpoint"
    torch.save({"format": FORMAT, "algo": "vdn"}, path)  # incomplete
    return "incomplete"


def _one_line_exit_2(code: int, err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("kind", ["empty", "truncated", "garbage", "incomplete"])
@pytest.mark.parametrize("command", ["evaluate", "explain", "train"])
def test_bad_checkpoint_is_one_line_exit_2(
    command: str, kind: str, good_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "run" / "checkpoint.pt"
    needle = _bad_checkpoint(kind, good_checkpoint, ckpt)
    argv = {
        "evaluate": ["evaluate", "--policy", str(ckpt), "--episodes", "1", "--episode-limit", "2"],
        "explain": ["explain", "--checkpoint", str(ckpt), "--reference", "aps", "--episodes", "1",
                    "--episode-limit", "2", "--out", str(tmp_path / "explain")],
        "train": ["train", "--env", "matrix", "--algo", "vdn", "--steps", "8", "--num-envs", "4",
                  "--out", str(ckpt.parent), "--no-progress"],
    }[command]
    code = main(argv)
    _one_line_exit_2(code, capsys.readouterr().err, str(ckpt), needle)


def test_resume_from_inconsistent_checkpoint_is_one_line_exit_2(
    good_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = torch.load(good_checkpoint, weights_only=True)
    data["counters"] = {"episodes": 2}
    torch.save(data, tmp_path / "checkpoint.pt")
    code = main(["train", "--env", "matrix", "--algo", "vdn", "--steps", "8", "--num-envs", "4",
                 "--out", str(tmp_path), "--no-progress", "--set", "tensorboard=false"])
    _one_line_exit_2(code, capsys.readouterr().err, "checkpoint.pt", "incomplete or inconsistent")


# --- 3. one conversion for --set and config files ---

def _file_literal(text: str, fmt: str) -> str:
    """``text`` as written in a config file: the bare literal if the format parses it, else quoted."""
    if fmt == "json":
        try:
            json.loads(text)
            return text
        except ValueError:
            return json.dumps(text)
    if fmt == "toml":
        import tomllib

        try:
            tomllib.loads(f"x = {text}")
            return text
        except tomllib.TOMLDecodeError:
            return json.dumps(text)
    return text  # yaml


def _via(source: str, key: str, text: str, tmp_path: Path) -> object:
    """Build the config with ``key`` set to ``text`` via ``source``; the value or the error."""
    if source == "set":
        file, overrides = None, [f"{key}={text}"]
    else:
        lit = _file_literal(text, source)
        body = {"yaml": f"{key}: {lit}\n", "json": f'{{"{key}": {lit}}}', "toml": f"{key} = {lit}\n"}
        file, overrides = str(tmp_path / f"c.{source}"), None
        Path(file).write_text(body[source])
    try:
        return getattr(build_config(file, overrides), key)
    except UsageError as exc:
        return exc


@pytest.mark.parametrize("key,text,expected", [
    ("lr", "1e-3", 1e-3),
    ("lr", "0.002", 0.002),
    ("lr", "2", 2.0),
    ("double_q", "false", False),
    ("double_q", "true", True),
    ("batch_size", "16", 16),
    ("epsilon_anneal_steps", "25e3", 25_000),
    ("batch_size", "1.5", "int"),
    ("batch_size", "true", "int"),
    ("double_q", "maybe", "bool"),
    ("double_q", "0.5", "bool"),
    ("lr", "fast", "float"),
    ("lr", "true", "float"),
    ("no_such_setting", "1", "unknown learner setting"),
])
def test_set_and_config_files_convert_alike(key: str, text: str, expected: object, tmp_path: Path) -> None:
    got = {src: _via(src, key, text, tmp_path) for src in ("set", "yaml", "json", "toml")}
    for src, value in got.items():
        if isinstance(expected, str):  # refused, the message naming the key and the type
            assert isinstance(value, UsageError) and expected in str(value), (src, value)
            assert key in str(value), (src, value)
        else:
            assert value == expected and type(value) is type(expected), (src, value)


@pytest.mark.parametrize("source", ["set", "yaml"])
def test_non_integer_for_int_setting_is_one_line_exit_2(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["--set", "batch_size=1.5"]
    if source == "yaml":
        (tmp_path / "c.yaml").write_text("batch_size: 1.5\n")
        extra = ["--config", str(tmp_path / "c.yaml")]
    code = main(["train", "--env", "matrix", "--algo", "vdn", "--steps", "4", "--out",
                 str(tmp_path / "run"), "--no-progress", *extra])
    _one_line_exit_2(code, capsys.readouterr().err, "batch_size", "1.5", "int")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


# --- 4. checkpoints on a timer by default ---

def test_default_run_killed_after_the_interval_has_a_checkpoint(tmp_path: Path) -> None:
    assert 0 < LearnerConfig().checkpoint_every_s <= 300  # a few minutes of work at most
    run = tmp_path / "run"
    steps = 10_000_000  # far beyond what runs before the kill: no step-based or final checkpoint
    _start_and_kill_after_checkpoint(["train", *SMALL, "--steps", str(steps), "--out", str(run),
                                      "--set", "checkpoint_every_s=1", "--set", "tensorboard=false"], run)
    data = torch.load(run / "checkpoint.pt", weights_only=True)
    assert 0 < data["counters"]["env_steps"] < steps
    assert data["config"]["checkpoint_every_s"] == 1.0


def test_ctrl_c_without_progress_bar_checkpoints_and_resumes(tmp_path: Path) -> None:
    """SIGINT on a ``--no-progress`` run (scripts, sweeps) ends it after the rollout with a
    checkpoint, as with the bar: rerunning resumes instead of starting over."""
    out = tmp_path / "run"
    args = ["train", *SMALL, "--steps", "1000000", "--out", str(out)]
    proc = subprocess.Popen(_cli(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env())
    try:
        deadline = time.monotonic() + 120
        while not (out / "log.csv").is_file() or len((out / "log.csv").read_text().splitlines()) < 5:
            assert proc.poll() is None and time.monotonic() < deadline, "no episodes logged"
            time.sleep(0.05)
        assert not (out / "checkpoint.pt").exists()  # before the first periodic checkpoint
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and (out / "checkpoint.pt").is_file()
    assert "checkpoint" in stdout and "1000000 windows" not in stdout
