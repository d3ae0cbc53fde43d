"""The MEC edge server's compute queue in ns-3 (``MecServer``, issue 13 groundwork).

``mec-server-check`` runs one server behind a negligible link: with Poisson arrivals and
exponential work the mean response time must be M/M/1's 1/(mu - lambda) for FIFO and for
processor sharing; two tasks at once finish at (c1, c1 + c2)/C under FIFO and (2 c1, c1 + c2)/C
under PS; a full server refuses; a failed server loses its queue.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from xr_codec_marl.bridge.build import find_binary


@pytest.fixture(scope="module")
def check() -> str:
    return str(find_binary("mec-server-check"))


def run(binary: str, *args: str) -> dict:
    out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("discipline", ["fifo", "ps"])
@pytest.mark.parametrize("rate", [5.0, 7.0])
def test_mean_response_is_mm1(check, discipline, rate):
    mu = 1e9 / 1e8  # capacity / mean cycles: 10 tasks/s
    means = [run(check, f"--discipline={discipline}", f"--rate={rate}", "--tasks=50000",
                 f"--seed={s}")["mean_response_s"] for s in (1, 2, 3, 4)]
    assert np.mean(means) == pytest.approx(1.0 / (mu - rate), rel=0.04), means


@pytest.mark.parametrize("discipline,finished", [("fifo", [0.2, 0.5]), ("ps", [0.3, 0.5])])
def test_two_tasks_at_once_finish_as_the_discipline_says(check, discipline, finished):
    r = run(check, "--mode=pair", f"--discipline={discipline}", "--cycles1=1e8", "--cycles2=3e8")
    assert r["completed"] == 2 and r["rejected"] == 0
    np.testing.assert_allclose(r["finished_s"], finished, atol=1e-6)


def test_a_full_server_refuses_and_says_so(check):
    r = run(check, "--mode=pair", "--slots=1")
    assert (r["completed"], r["rejected"], r["server_rejected"]) == (1, 1, 1)


def test_a_failed_server_loses_its_queue_and_serves_again_after_repair(check):
    failed = run(check, "--mode=pair", "--failAt=0.15")
    assert (failed["completed"], failed["server_lost"]) == (0, 2)
    # failing after the first finished loses only the second
    late = run(check, "--mode=pair", "--failAt=0.25")
    assert (late["completed"], late["server_lost"]) == (1, 1)
    # Poisson arrivals through a failure and a repair: some lost, the rest served
    r = run(check, "--rate=5", "--tasks=2000", "--failAt=100", "--repairAt=150")
    assert 0 < r["completed"] < r["sent"] and r["server_lost"] >= 0
    assert r["completed"] + r["server_lost"] <= r["sent"]


def test_bad_arguments_are_one_line_and_exit_2(check):
    out = subprocess.run([check, "--discipline=lifo"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "discipline" in out.stderr
