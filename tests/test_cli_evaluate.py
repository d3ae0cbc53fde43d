"""`xr-marl evaluate`: the JSON contract of DESIGN.md §4 and one-line errors for bad input."""

import json
import subprocess
import sys

import pytest

from xr_codec_marl.cli import main

KPI_KEYS = {"xr_index", "jitter_ms", "delay_ms", "plr", "throughput_mbps"}


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "xr_codec_marl.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_evaluate_json_schema(capsys):
    rc = main(["evaluate", "--policy", "aps", "--ring", "300", "--episodes", "4", "--seed", "7",
               "--episode-limit", "6", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert {"policy", "backend", "ring_m", "episodes", "seed", "kpis", "per_agent"} <= set(out)
    assert out["policy"] == "aps" and out["backend"] == "analytic"
    assert out["ring_m"] == 300.0 and out["episodes"] == 4 and out["seed"] == 7
    assert KPI_KEYS <= set(out["kpis"])
    assert set(out["per_agent"]) == {"AR", "VR", "CG"}
    for agent in out["per_agent"].values():
        assert KPI_KEYS <= set(agent)
    assert 1.0 <= out["kpis"]["xr_index"] <= 5.0
    assert all(v is not None and v >= 0 for v in out["ci95"].values())


def test_evaluate_is_reproducible(capsys):
    args = ["evaluate", "--policy", "random", "--episodes", "3", "--episode-limit", "5", "--json"]
    main(args)
    first = capsys.readouterr().out
    main(args)
    assert capsys.readouterr().out == first


def test_human_table_has_ci(capsys):
    assert main(["evaluate", "--policy", "max", "--episodes", "3", "--episode-limit", "4"]) == 0
    out = capsys.readouterr().out
    assert "95 % CI" in out and "±" in out and "team" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--policy", "best"], "unknown policy 'best'; allowed: aps, max, min, random"),
        (["--env", "wifi"], "unknown env 'wifi'; allowed: matrix, xr"),
        (["--policy", "fixed:10"], "fixed action must be in [0, 9], got 10"),
        (["--backend", "omnet"], "unknown backend for env 'xr' 'omnet'"),
        (["--ring", "0"], "argument --ring: must be > 0, got 0"),
        (["--ring", "-5"], "argument --ring: must be > 0"),
        (["--episodes", "0"], "argument --episodes: must be >= 1, got 0"),
        (["--codec-range", "VR=30:10"], "codec range of VR has min 30.0 > max 10.0"),
        (["--codec-range", "XR=1:2"], "unknown agent 'XR'"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message):
    proc = run_cli("evaluate", "--episodes", "1", "--episode-limit", "2", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_fixed_rate_policy_and_matrix_games(capsys):
    assert main(["evaluate", "--policy", "fixed:4", "--episodes", "2", "--episode-limit", "3",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["policy"] == "fixed:4"
    assert out["per_agent"]["VR"]["codec_rate_mbps"] == pytest.approx(10 + 4 * 20 / 9, rel=1e-5)
    # an env without XR KPIs still evaluates: team rewards only (climbing game, (max, max) = 5)
    assert main(["evaluate", "--env", "matrix", "--policy", "max", "--episodes", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kpis"] == {} and out["rewards"]["r0"] == pytest.approx(5.0)
