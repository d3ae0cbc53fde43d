"""The XR results did not move when XR moved behind the scenario registry (issue 10).

``tests/data/pre_registry_reference.json`` holds the outputs of the code before the move
(commit f1be28d, made by ``benchmarks/registry_parity.py --write-reference``): seeded
evaluations of rules and a short seeded training run whose checkpoint is then evaluated. The
same commands today must give the same numbers, to floating-point equality.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from xr_codec_marl.cli import main
from xr_codec_marl.experiments.results import differences

REFERENCE = json.loads((Path(__file__).parent / "data/pre_registry_reference.json").read_text())
#: analytic profiles refitted since the reference was made -> the name their old values kept
RENAMED_PROFILES = {"ns3-lte": "ns3-lte-2026-11-22"}


def _today(args: list[str]) -> list[str]:
    """The reference's command with refitted profiles named as their old parameters."""
    return [RENAMED_PROFILES.get(a, a) if i and args[i - 1] == "--analytic-profile" else a
            for i, a in enumerate(args)]


def _numbers(summary: dict) -> dict:
    return {k: summary[k] for k in ("kpis", "per_agent", "ci95", "rewards", "windows")}


def _known(want, got):
    """``got`` without what the reference could not have: KPIs added since (``sinr_db``);
    every number the reference has is still compared."""
    if isinstance(want, dict) and isinstance(got, dict):
        return {k: _known(want[k], v) if k in want else v for k, v in got.items()
                if k in want or not k.startswith("sinr_db")}
    return got


def _evaluate(args: list[str], capsys) -> dict:
    capsys.readouterr()
    assert main(args) == 0
    return _numbers(json.loads(capsys.readouterr().out))


@pytest.mark.parametrize("case", sorted(REFERENCE["cases"]["evaluate"]))
def test_rule_evaluations_match_the_pre_registry_code(case: str, capsys) -> None:
    got = _evaluate(_today(REFERENCE["cases"]["evaluate"][case]), capsys)
    assert got["kpis"], "the reference case measured nothing"
    assert differences(REFERENCE["results"][case], _known(REFERENCE["results"][case], got)) == []


def test_a_seeded_training_run_matches_the_pre_registry_code(tmp_path: Path, capsys) -> None:
    run_dir = tmp_path / "run"
    assert main([*REFERENCE["cases"]["train"], "--out", str(run_dir)]) == 0
    with open(run_dir / "log.csv") as f:
        last = list(csv.DictReader(f))[-1]
    want = REFERENCE["results"]["train_log_last"]
    assert float(want["grad_norm"]) > 0  # the reference run did learn
    assert differences(want, {k: last[k] for k in want}) == []
    got = _evaluate([*REFERENCE["cases"]["train_eval"], "--policy", str(run_dir)], capsys)
    assert differences(REFERENCE["results"]["train_eval"],
                       _known(REFERENCE["results"]["train_eval"], got)) == []


def test_the_comparison_sees_a_change() -> None:
    ref = REFERENCE["results"]["aps_300m"]
    moved = json.loads(json.dumps(ref))
    moved["kpis"]["delay_ms"] *= 1.0 + 1e-6
    assert differences(ref, moved) == ["/kpis/delay_ms: "
                                        f"{ref['kpis']['delay_ms']} != {moved['kpis']['delay_ms']}"]
