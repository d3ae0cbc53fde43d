"""`xr-marl evaluate --env mec`: the JSON carries the MEC KPIs on both presets and the
variants, bad MEC input is a one-line error with exit code 2, and the help lists the flags."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from xr_codec_marl.cli import main
from xr_codec_marl.scenarios.mec.kpis import MEC_KPIS
from xr_codec_marl.scenarios.mec.settings import preset

HEADLINE = {"completion_pct", "deadline_pct", "response_time_s", "rejected_pct", "dropped_pct",
            "jain", "aoi_mean_s", "energy_per_task_j"}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xr_codec_marl.cli", *args],
                          capture_output=True, text=True, timeout=120)


def evaluate_json(capsys, *args: str) -> dict:
    rc = main(["evaluate", "--env", "mec", "--episodes", "2", "--episode-limit", "20", "--json",
               *args])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    return json.loads(captured.out)


def test_evaluate_greedy_json_has_the_mec_kpis(capsys) -> None:
    out = evaluate_json(capsys, "--policy", "greedy", "--devices", "8", "--servers", "3")
    assert out["env"] == "mec" and out["policy"] == "greedy" and out["backend"] == "analytic"
    assert out["episodes"] == 2 and out["episode_limit"] == 20 and out["windows"] == [20, 20]
    assert (out["preset"], out["variant"], out["devices"], out["servers"]) == (
        "multi-mec", "stable", 8, 3)
    assert HEADLINE <= set(out["kpis"])
    assert {k.key for k in MEC_KPIS if k.scope == "global"} <= set(out["kpis"])
    k = out["kpis"]
    for pct in ("completion_pct", "deadline_pct", "rejected_pct", "dropped_pct"):
        assert 0.0 <= k[pct] <= 100.0, pct
    assert k["deadline_pct"] <= k["completion_pct"] + 1e-9
    assert k["completion_pct"] + k["rejected_pct"] + k["dropped_pct"] == pytest.approx(100.0)
    assert 0.0 < k["jain"] <= 1.0 and k["response_time_s"] > 0
    assert set(out["per_agent"]) == {f"dev{i}" for i in range(8)}
    assert set(out["rewards"]) == {"completion", "deadline", "energy", "aoi", "fairness"}
    assert out["settings"]["devices"] == 8


def test_evaluate_aiot_preset(capsys) -> None:
    out = evaluate_json(capsys, "--preset", "aiot", "--policy", "greedy")
    assert out["preset"] == "aiot" and out["servers"] == 25 and out["devices"] == 50
    assert set(out["per_agent"]) == {f"node{j}" for j in range(25)}
    assert HEADLINE <= set(out["kpis"])
    assert out["settings"]["decision_step_s"] == preset("aiot").decision_step_s


def test_evaluate_failures_variant(capsys) -> None:
    stable = evaluate_json(capsys, "--policy", "greedy", "--devices", "10", "--servers", "3")
    failing = evaluate_json(capsys, "--policy", "greedy", "--devices", "10", "--servers", "3",
                            "--variant", "failures", "--mtbf", "0.5", "--mttr", "100")
    assert failing["variant"] == "failures" and failing["settings"]["mtbf_s"] == 0.5
    assert HEADLINE <= set(failing["kpis"])
    assert failing["kpis"]["completion_pct"] < stable["kpis"]["completion_pct"]


@pytest.mark.parametrize("policy", ["greedy", "min-energy", "vcg"])
def test_evaluate_aiot_failures_with_every_node_rule(capsys, policy: str) -> None:
    # nodes down or out of slots leave a pending task nothing but "reject": the rule must
    # still choose an available action (exit 0, no traceback)
    out = evaluate_json(capsys, "--preset", "aiot", "--variant", "failures", "--mtbf", "1",
                        "--mttr", "1", "--servers", "3", "--devices", "20", "--arrival-rate", "4",
                        "--policy", policy, "--episode-limit", "100", "--episodes", "4")
    assert out["policy"] == policy and HEADLINE <= set(out["kpis"])


def test_evaluate_mec_is_reproducible(capsys) -> None:
    args = ("--policy", "random", "--devices", "6", "--servers", "2", "--seed", "3")
    first = evaluate_json(capsys, *args)
    second = evaluate_json(capsys, *args)
    first["kpis"].pop("decision_ms")  # wall clock
    second["kpis"].pop("decision_ms")
    assert first["kpis"] == second["kpis"]


@pytest.mark.parametrize("args,names", [
    (["--devices", "0"], ["--devices", ">= 1"]),
    (["--servers", "0"], ["--servers", ">= 1"]),
    (["--arrival-rate", "-1"], ["--arrival-rate", ">= 0"]),
    (["--preset", "nope"], ["--preset", "nope"]),
    (["--variant", "nope"], ["--variant", "nope"]),
    (["--mttr", "-1"], ["--mttr", ">= 0"]),
    (["--reward-weights", "1,2"], ["--reward-weights", "1,2"]),
    (["--mtbf", "0"], ["--mtbf", "> 0"]),
    (["--queue", "lifo"], ["--queue", "lifo"]),
])
def test_bad_mec_input_is_one_line_exit_2(args: list[str], names: list[str]) -> None:
    proc = run_cli("evaluate", "--env", "mec", "--episodes", "1", "--episode-limit", "2", *args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])


@pytest.mark.parametrize("args,message", [
    (["--preset", "nope"], "unknown preset 'nope'; allowed: multi-mec, aiot"),
    (["--variant", "nope"], "unknown variant 'nope'; allowed: stable, load-peaks, failures, "
                            "heterogeneous"),
    (["--reward-weights", "1,2"], "reward weights must be one of seed000, seed001, equal or 5 "
                                  "numbers >= 0"),
])
def test_bad_mec_choice_says_what_is_allowed(args: list[str], message: str) -> None:
    # the scenario's parsers word these errors; argparse must not replace them by
    # "invalid <function name> value"
    proc = run_cli("evaluate", "--env", "mec", "--episodes", "1", "--episode-limit", "2", *args)
    assert proc.returncode == 2
    assert message in proc.stderr, proc.stderr
    assert "_reward_weights" not in proc.stderr


def test_setting_errors_from_a_combination_are_one_line_exit_2() -> None:
    # passes every flag's own parser, refused by the settings as a whole
    proc = run_cli("evaluate", "--env", "mec", "--episodes", "1", "--episode-limit", "2",
                   "--reward-weights", "1,1,1,1,nan")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "reward_weights must be 5 values >= 0" in proc.stderr, proc.stderr


def test_evaluate_mec_help_lists_preset_and_variant() -> None:
    proc = run_cli("evaluate", "--env", "mec", "--help")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    for flag in ("--preset", "--variant", "--devices", "--servers", "--arrival-rate", "--mtbf",
                 "--mttr", "--reward-weights", "--drop-late"):
        assert flag in text, flag
    assert "multi-mec" in text and "aiot" in text
    assert "load-peaks" in text and "failures" in text


def test_decision_step_help_states_the_presets_defaults() -> None:
    proc = run_cli("evaluate", "--env", "mec", "--help")
    text = " ".join(proc.stdout.split())
    multi, aiot = preset("multi-mec").decision_step_s, preset("aiot").decision_step_s
    assert f"multi-mec {multi:g}, aiot {aiot:g}" in text, text[text.find("--decision-step"):][:200]


def test_a_rule_that_does_not_fit_the_preset_is_one_line_exit_2() -> None:
    """`balanced` splits tasks between device and server: aiot has no device CPU."""
    proc = subprocess.run([sys.executable, "-m", "xr_codec_marl.cli", "evaluate", "--env", "mec",
                           "--preset", "aiot", "--policy", "balanced", "--episodes", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "balanced" in proc.stderr
