"""`xr-marl explain` end to end on the analytic backend with tiny (untrained) real checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from xr_codec_marl.cli import main
from xr_codec_marl.commands.explain import explain_points, parse_checkpoint
from xr_codec_marl.errors import UsageError
from xr_codec_marl.scenarios.xr.scenario import XR

LIMIT = ["--episode-limit", "4"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Checkpoints of an MHA and a vanilla learner after a handful of windows (no learning needed)."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for algo in ("mha-dvdn", "vdn"):
        out[algo] = root / algo
        rc = main(["train", "--algo", algo, "--ring", "300", "--steps", "8", "--num-envs", "2", *LIMIT,
                   "--out", str(out[algo]), "--no-progress", "--set", "tensorboard=false"])  # fmt: skip
        assert rc == 0
    return out


def test_explain_writes_table_figures_and_json(runs: dict[str, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out = tmp_path / "explain"
    rc = main(["explain", "--checkpoint", str(runs["mha-dvdn"]), "--checkpoint", str(runs["mha-dvdn"]) + "@400",
               "--reference", "aps", "--rings", "200,400", "--episodes", "1", "--num-envs", "2", *LIMIT,
               "--out", str(out), "--json"])  # fmt: skip
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert Path(result["report"]) == out / "report.html" and (out / "report.html").is_file()
    table = pd.read_csv(out / "explanations.csv")
    # ring 200: one learner; ring 400: the same checkpoint twice (unbound + bound) -> "#2"
    assert sorted(table.groupby("ring_m").algorithm.unique().map(sorted).sum()) == [
        "mha-dvdn", "mha-dvdn", "mha-dvdn#2"]  # fmt: skip
    assert (
        len(table) == 3 * 1 * 2 * 4 * 3 * 3
    )  # learner-rings x eps x envs x windows x agents x comps
    assert set(table.component) == {"delay", "pdr", "drr"}
    kpis = pd.read_csv(out / "kpis.csv")
    assert set(kpis.policy) == {"aps", "mha-dvdn", "mha-dvdn#2"} and set(kpis.ring_m) == {
        200.0,
        400.0,
    }
    assert set(result["figures"]) >= {
        "fig07_q_chosen",
        "fig10_msx_plus_inc",
        "fig12_13_importance",
        "fig14_kpis",
    }
    assert all(Path(p).stat().st_size > 0 for p in result["figures"].values())
    assert result["summary"]["windows"] == 3 * 2 * 4 * 3
    assert json.loads((out / "summary.json").read_text())["summary"] == result["summary"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rings", "200,abc"], "--rings"),
        (["--rings", "0"], "ring radius must be > 0"),
        (["--axis", "nope=1"], "no sweep axis 'nope'"),
        (["--kpi-table", "/nonexistent.csv"], "KPI table not found"),
        (["--train-log", "/nonexistent.csv"], "training log not found"),
    ],
)
def test_bad_input_is_one_line_exit_2(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      argv: list[str], message: str) -> None:  # fmt: skip
    rc = main(["explain", "--checkpoint", str(runs["mha-dvdn"]), "--episodes", "1", "--num-envs", "1", *LIMIT,
               "--out", str(tmp_path / "o"), *argv])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1


def test_missing_and_non_decomposed_checkpoints_are_refused(runs: dict[str, Path], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    base = ["explain", "--episodes", "1", "--num-envs", "1", *LIMIT, "--out", str(tmp_path / "o")]
    assert main([*base, "--checkpoint", str(tmp_path / "nope")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert main([*base, "--checkpoint", str(runs["vdn"])]) == 2
    assert "not a decomposed learner" in capsys.readouterr().err


def test_argument_parsers() -> None:
    points, bind = explain_points(XR, {"ring": ("200", "300", "400", "300")})
    assert points == [{"ring_m": 200.0}, {"ring_m": 300.0}, {"ring_m": 400.0}]
    assert bind.setting == "ring_m"
    assert explain_points(XR, {})[0] == [{}]
    parse = bind.parse
    assert parse_checkpoint("runs/a@400", parse) == ("runs/a", 400.0)
    assert parse_checkpoint("runs/me@host/a", parse) == ("runs/me@host/a", None)
    with pytest.raises(UsageError):
        parse_checkpoint("runs/a@-3", parse)


def test_kpi_table_input_is_checked(tmp_path: Path) -> None:
    import argparse

    from xr_codec_marl.commands.explain import _kpi_input

    good = tmp_path / "k.csv"
    pd.DataFrame(
        {
            "policy": ["aps"],
            "ring_m": [400.0],
            "seed": [0],
            "agent": ["AR"],
            "xr_index": [4.0],
            "jitter_ms": [1.0],
            "delay_ms": [5.0],
            "plr": [0.01],
            "throughput_mbps": [9.0],
        }
    ).to_csv(good)
    need = ["policy", "ring_m", "xr_index", "jitter_ms", "delay_ms", "plr"]
    ns = argparse.Namespace(no_kpis=False, kpi_table=str(good))
    assert list(_kpi_input(ns, [], need).policy) == ["aps"]
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"policy": ["aps"], "ring_m": [400.0]}).to_csv(bad)
    with pytest.raises(UsageError, match="lacks column"):
        _kpi_input(argparse.Namespace(no_kpis=False, kpi_table=str(bad)), [], need)
    assert _kpi_input(argparse.Namespace(no_kpis=True, kpi_table=str(good)), []) is None
