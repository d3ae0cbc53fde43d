"""A new user's first run: every import declared, the main job end to end, failed sweeps reported.

The main job (``make demo``: a sweep that trains a learner, the explain step and both reports)
runs here in miniature through the real CLI in a subprocess, so a dependency that the code
imports but the install does not provide fails this suite in CI's fresh virtual environment.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from xr_codec_marl import deps

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "xr_codec_marl.cli"]
FAST = ["--episode-limit", "8"]


def _imported_modules(root: Path) -> set[str]:
    """Every absolute module name imported anywhere under ``root`` (also inside functions)."""
    names: set[str] = set()
    for path in root.rglob("*.py"):
        if "proto" in path.parts:  # generated protobuf code
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return names


def _dist_name(spec: str) -> str:
    return re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower()


def test_every_third_party_import_is_declared_required_or_optional():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {_dist_name(s) for s in project["dependencies"]}
    known = set(deps.REQUIRED) | set(deps.OPTIONAL)
    undeclared = []
    for mod in sorted(_imported_modules(REPO / "xr_codec_marl")):
        top = mod.split(".")[0]
        if top in sys.stdlib_module_names or top == "xr_codec_marl":
            continue
        if not any(mod == k or mod.startswith(k + ".") or top == k for k in known):
            undeclared.append(mod)
    assert not undeclared, f"imported but in neither deps.REQUIRED nor deps.OPTIONAL: {undeclared}"
    missing = sorted({d for d in deps.REQUIRED.values()} - declared)
    assert not missing, f"deps.REQUIRED names distributions pyproject does not declare: {missing}"


def test_required_dependencies_import_in_this_environment():
    assert deps.missing_required() == []
    assert deps.main(["--check"]) == 0


def test_an_optional_dependency_says_what_is_off(capsys):
    deps.OPTIONAL["xr_codec_marl_no_such_module"] = ("no-such-dist", "the imaginary feature")
    try:
        assert deps.optional("xr_codec_marl_no_such_module") is None
        err = capsys.readouterr().err.strip().splitlines()
        assert err == ["note: the imaginary feature is off: xr_codec_marl_no_such_module is not "
                       "installed (pip install 'no-such-dist')"]
    finally:
        del deps.OPTIONAL["xr_codec_marl_no_such_module"]


def test_readme_commands_run_in_the_project_venv():
    """`make test`/`make demo` install into and run from a venv of their own, and CI runs them."""
    make = (REPO / "Makefile").read_text()
    assert re.search(r"^\$\(PYTHON\):\n\t\$\(BASE_PYTHON\) -m venv \$\(VENV\)", make, re.M)
    assert re.search(r"^PYTHON := \$\(VENV\)/bin/python$", make, re.M)
    for target in ("demo", "test"):
        body = re.search(rf"^{target}:.*?(?=^\S|\Z)", make, re.M | re.S).group(0)
        assert "install" in body.splitlines()[0], f"`make {target}` must install first"
        for line in body.splitlines()[1:]:
            if line.strip().startswith(("xr-marl", "python", "pytest")):
                pytest.fail(f"`make {target}` runs {line.strip()!r} outside the venv")
    assert "make test" in (REPO / ".ci" / "run").read_text()


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_main_job_in_miniature_sweep_train_explain_and_both_reports(tmp_path):
    """`make demo` at toy size: a learner trained in a sweep vs APS, explained, both reports."""
    out = tmp_path / "demo"
    sweep = _run(["sweep", "--rings", "400", "--policies", "aps,mha-dqmix", "--seeds", "1",
                  "--episodes", "4", "--train-steps", "300", "--set", "epsilon_anneal_steps=100",
                  "--set", "batch_size=8", "--jobs", "1", "--out", str(out), *FAST], tmp_path)
    assert sweep.returncode == 0, sweep.stderr
    assert "Traceback" not in sweep.stderr
    rows = pd.read_csv(out / "results.csv")
    assert set(rows["policy"]) == {"aps", "mha-dqmix"}
    log = pd.read_csv(out / "runs" / "ring400" / "mha-dqmix" / "seed0" / "log.csv")
    assert len(log) > 0 and log["env_steps"].max() >= 300
    report = (out / "report.html").read_text()
    assert "Gain vs APS" in report and "MHA importance weights" in report
    assert json.loads((out / "failures.json").read_text()) == {}

    ckpt = out / "runs" / "ring400" / "mha-dqmix" / "seed0"
    explain = _run(["explain", "--reference", "aps", "--rings", "400", "--episodes", "1",
                    "--out", str(out / "explain"), "--kpi-table", str(out / "results.csv"),
                    "--checkpoint", f"{ckpt}@400", *FAST], tmp_path)
    assert explain.returncode == 0, explain.stderr
    assert "Traceback" not in explain.stderr
    ex_report = (out / "explain" / "report.html").read_text()
    assert ex_report.count("<img") >= 3
    summary = json.loads((out / "explain" / "summary.json").read_text())
    assert Path(summary["report"]).is_file()


def test_a_sweep_with_failed_cells_reports_them_and_exits_non_zero(tmp_path):
    bad = tmp_path / "empty.pt"
    bad.write_bytes(b"")  # a checkpoint path that exists but cannot be loaded
    out = tmp_path / "sweep"
    res = _run(["sweep", "--rings", "400", "--policies", "aps,empty.pt", "--seeds", "2",
                "--episodes", "2", "--out", str(out), *FAST], tmp_path)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr, res.stderr
    failed_lines = [ln for ln in res.stderr.splitlines() if ln.startswith("cell ")]
    assert len(failed_lines) == 2 and all("failed:" in ln for ln in failed_lines), res.stderr
    failures = json.loads((out / "failures.json").read_text())
    assert sorted(failures) == ["ring400/empty.pt/seed0", "ring400/empty.pt/seed1"]
    report = (out / "report.html").read_text()
    assert "Failed cells (2)" in report and "ring400/empty.pt/seed1" in report
    assert set(pd.read_csv(out / "results.csv")["policy"]) == {"aps"}

    # every cell failing: still a report naming the failures, still exit 1, no traceback
    out2 = tmp_path / "all-failed"
    res = _run(["sweep", "--rings", "400", "--policies", "empty.pt", "--seeds", "1",
                "--episodes", "2", "--out", str(out2), *FAST], tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert "no cell produced results" in res.stderr
    assert "Failed cells (1)" in (out2 / "report.html").read_text()


def test_reports_survive_a_learner_run_that_logged_no_episode(tmp_path):
    """A learner cell that died after writing only its log header (the tensorboard fault)."""
    from xr_codec_marl.experiments.report import build_sweep_report
    from xr_codec_marl.explain.figures import read_importance_log

    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    (run / "log.csv").write_text("episode,env_steps,return,l_delay,l_pdr,l_drr\n")
    with pytest.raises(ValueError, match="no rows with importance values"):
        read_importance_log(run / "log.csv")
    rows = pd.DataFrame()
    path = build_sweep_report(tmp_path, rows, {"cells": 1}, run_dirs={"r": run},
                              failures={"ring400/mha-dqmix/seed0": "ModuleNotFoundError: x"})
    assert "Failed cells (1)" in path.read_text()


def _children(pid: int) -> set[int]:
    kids: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids.update(int(x) for x in (task / "children").read_text().split())
        except OSError:
            pass
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_sweep_workers_die_with_their_parent_after_kill_9(tmp_path):
    proc = subprocess.Popen(
        [*CLI, "sweep", "--rings", "200,400", "--policies", "dvdn", "--seeds", "1",
         "--episodes", "2", "--train-steps", "1000000", "--jobs", "2", "--out",
         str(tmp_path / "s"), *FAST], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(workers) < 2:
            workers = _children(proc.pid)
            time.sleep(0.2)
        assert len(workers) >= 2, "the sweep never started its two workers"
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.2)
        alive = [w for w in workers if _alive(w)]
        assert not alive, f"sweep workers {alive} outlived their killed parent"
    finally:
        for w in workers | _children(proc.pid) | {proc.pid}:
            try:
                os.kill(w, signal.SIGKILL)
            except ProcessLookupError:
                pass
