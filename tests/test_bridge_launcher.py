"""The simulator launcher: arguments, log capture, exit reporting, and no process left behind."""

from __future__ import annotations

import sys
import time

import pytest

from xr_codec_marl.bridge.launcher import SimulatorLauncher, resolve_binary

PY = sys.executable


def test_output_goes_to_a_log_and_exit_is_described(tmp_path):
    with SimulatorLauncher(tmp_path) as launcher:
        proc = launcher.start([PY, "-c", ("import sys; print('hello', sys.argv[1:]); "
                                         "print('oops', file=sys.stderr); sys.exit(4)")],
                              ["--seed=7", "--run=2"], name="sim-a")
        proc.popen.wait(5)
        assert launcher.exited() == [proc] and launcher.exited() == []  # reported once
        text = proc.log_path.read_text()
        assert proc.log_path == tmp_path / "sim-a.log"
        assert "--seed=7 --run=2" in text.splitlines()[0]  # the command line heads the log
        assert "hello ['--seed=7', '--run=2']" in text and "oops" in text
        desc = proc.describe_exit()
        assert "sim-a" in desc and "exited with code 4" in desc and "oops" in desc


def test_close_terminates_then_kills_and_reaps(tmp_path):
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); " \
               "print('up', flush=True); time.sleep(60)"
    launcher = SimulatorLauncher(tmp_path)
    polite = launcher.start([PY, "-c", "import time; print('up', flush=True); time.sleep(60)"])
    rude = launcher.start([PY, "-c", stubborn])
    deadline = time.monotonic() + 10
    while "up" not in rude.log_path.read_text().splitlines()[1:] and time.monotonic() < deadline:
        time.sleep(0.02)  # SIGTERM must arrive after the handler is installed
    t0 = time.monotonic()
    launcher.stop_all(grace_s=0.5)
    assert time.monotonic() - t0 < 3
    assert polite.returncode == -15 and rude.returncode == -9
    assert launcher.processes == []


def test_missing_binaries_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_binary(tmp_path / "no-such-sim")
    with SimulatorLauncher(tmp_path) as launcher, pytest.raises(FileNotFoundError):
        launcher.start(str(tmp_path / "nope"))
