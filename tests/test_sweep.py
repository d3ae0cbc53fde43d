"""Sweeps: planning, the tidy store, resume, parallel engines, and the Table IV maths."""

import numpy as np
import pandas as pd
import pytest

from xr_codec_marl.cli import main
from xr_codec_marl.errors import UsageError
from xr_codec_marl.experiments.compare import compare_to_reference, pct_change_ci
from xr_codec_marl.experiments.sweep import SweepConfig, cell_path, collect, plan, run_sweep
from xr_codec_marl.scenarios.xr.kpis import XR_KPIS

SCEN = {"episode_limit": 6}


def cfg(tmp_path, **kw):
    base = dict(env="xr", axes={"ring": (200.0, 400.0)}, policies=("aps", "max"), seeds=2,
                out=str(tmp_path), episodes=3, scenario=SCEN)
    base.update(kw)
    return SweepConfig(**base)


def test_plan_is_the_cross_product_and_validates(tmp_path):
    cells = plan(cfg(tmp_path))
    assert len(cells) == 2 * 2 * 2
    assert {(c.settings["ring_m"], c.policy, c.seed) for c in cells} == {
        (r, p, s) for r in (200.0, 400.0) for p in ("aps", "max") for s in (0, 1)}
    with pytest.raises(UsageError, match="unknown policy 'best' in --policies"):
        plan(cfg(tmp_path, policies=("aps", "best")))
    with pytest.raises(UsageError, match="ring radius must be > 0"):
        plan(cfg(tmp_path, axes={"ring": (0.0,)}))
    assert cells[0].key == "ring200/aps/seed0"  # the layout existing sweep dirs resume from


def test_store_rows_resume_and_reproducibility(tmp_path):
    c = cfg(tmp_path)
    seen = []
    cells, skipped, failures = run_sweep(c, on_done=lambda cell, path, err: seen.append((cell, err)))
    assert not failures and not skipped and len(seen) == 8 and all(e is None for _, e in seen)
    table = collect(tmp_path, cells)
    # one row per episode x agent per cell, with the promised columns
    assert len(table) == 8 * 3 * 3
    for col in ("policy", "ring_m", "seed", "episode", "agent", "backend", "code_version",
                "xr_index", "delay_ms", "jitter_ms", "plr", "throughput_mbps",
                "reward_delay", "reward_pdr", "reward_drr", "windows", "episode_limit"):
        assert col in table.columns, col
    assert (table["windows"] == SCEN["episode_limit"]).all()  # every window measured
    assert (tmp_path / "results.csv").is_file()
    # resume: a rerun skips every finished cell; a deleted cell is the only one rerun
    victim = cells[3]
    before = pd.read_csv(cell_path(tmp_path, victim))
    cell_path(tmp_path, victim).unlink()
    seen.clear()
    _, skipped, _ = run_sweep(c, on_done=lambda cell, path, err: seen.append((cell, err)))
    assert len(skipped) == 7 and [s for s, _ in seen] == [victim]
    after = pd.read_csv(cell_path(tmp_path, victim))
    pd.testing.assert_frame_equal(before, after)  # same seed, same numbers
    assert not list(tmp_path.rglob("*.tmp"))  # no half-written files left behind


def test_parallel_local_engine_gives_the_same_rows(tmp_path):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    c1, c2 = cfg(serial, seeds=1), cfg(parallel, seeds=1, workers=2)
    run_sweep(c1)
    run_sweep(c2)
    a = collect(serial, plan(c1)).drop(columns="code_version")
    b = collect(parallel, plan(c2)).drop(columns="code_version")
    pd.testing.assert_frame_equal(a, b)


def test_pct_change_ci():
    rng = np.random.default_rng(0)
    ref = rng.normal(10, 1, 200)
    change, lo, hi = pct_change_ci(ref * 1.2, ref)
    assert change == pytest.approx(20.0)
    assert lo == pytest.approx(20.0) and hi == pytest.approx(20.0)  # exactly paired
    noisy = ref * 1.2 + rng.normal(0, 1, 200)
    change, lo, hi = pct_change_ci(noisy, ref)
    assert lo < change < hi and 15 < lo and hi < 25


def test_compare_signs_follow_table_iv():
    rows = []
    for policy, xqi, plr in (("aps", 4.0, 0.02), ("better", 4.4, 0.01)):
        for e in range(5):
            rows.append({"policy": policy, "ring_m": 400.0, "seed": 0, "episode": e, "agent": "VR",
                         "xr_index": xqi + 0.01 * e, "jitter_ms": 1.0, "delay_ms": 5.0,
                         "plr": plr, "throughput_mbps": 20.0})
    cmp = compare_to_reference(pd.DataFrame(rows), "aps", [k for k in XR_KPIS if k.headline],
                               ("ring_m",))
    one = cmp[(cmp.ring_m == 400.0) & (cmp.policy == "better")].set_index("kpi")
    assert one.loc["xr_index", "gain_pct"] == pytest.approx(100 * 0.4 / 4.02, rel=1e-6)
    assert one.loc["plr", "gain_pct"] == pytest.approx(50.0)  # PLR halved: +50 % gain
    assert one.loc["xr_index", "better"] and one.loc["plr", "better"]
    assert not one.loc["jitter_ms", "better"] and not one.loc["jitter_ms", "worse"]


def test_sweep_cli_writes_report_and_table(tmp_path, capsys):
    rc = main(["sweep", "--rings", "200,400", "--policies", "aps,min", "--seeds", "1",
               "--episodes", "2", "--episode-limit", "4", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "Gain vs APS" in out and "report:" in out
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 1 and "min" in html
    assert (tmp_path / "table4.md").is_file() and (tmp_path / "comparison.csv").is_file()


def test_sweep_cli_bad_input(capsys):
    assert main(["sweep", "--policies", "aps,zzz", "--out", "/tmp/never"]) == 2
    assert "unknown policy 'zzz'" in capsys.readouterr().err
    assert main(["sweep", "--rings", "200,x", "--out", "/tmp/never"]) == 2


def test_ray_engine_runs_cells_on_a_local_cluster(tmp_path):
    c = cfg(tmp_path / "ray", seeds=1, policies=("aps",), workers=2)
    cells, skipped, failures = run_sweep(c, engine="ray")
    assert not failures and not skipped
    ray_rows = collect(tmp_path / "ray", cells).drop(columns="code_version")
    local = cfg(tmp_path / "local", seeds=1, policies=("aps",))
    run_sweep(local)
    local_rows = collect(tmp_path / "local", plan(local)).drop(columns="code_version")
    pd.testing.assert_frame_equal(ray_rows, local_rows)


def test_percentage_kpis_are_compared_in_points():
    """A KPI in % changes by percentage points: 0.2 % vs 0.1 % rejected is +0.1 pp, not +100 %,
    and a reference at 0 % still gives a finite change with an interval."""
    from xr_codec_marl.core.kpis import KpiSpec
    from xr_codec_marl.experiments.compare import table4_markdown

    kpis = [KpiSpec("rejected_pct", "%", "lower"), KpiSpec("zero_pct", "%", "lower")]
    rows = [{"policy": policy, "seed": 0, "episode": e, "agent": "a",
             "rejected_pct": base + 0.01 * e, "zero_pct": zero}
            for policy, base, zero in (("ref", 0.1, 0.0), ("p", 0.2, 1.0)) for e in range(6)]
    cmp = compare_to_reference(pd.DataFrame(rows), "ref", kpis).set_index("kpi")
    assert cmp.loc["rejected_pct", "change_pct"] == pytest.approx(0.1)
    assert cmp.loc["rejected_pct", "gain_pct"] == pytest.approx(-0.1)  # more rejected: worse
    assert cmp.loc["rejected_pct", "worse"] and cmp.loc["rejected_pct", "unit"] == "pp"
    assert cmp.loc["zero_pct", "change_pct"] == pytest.approx(1.0)
    assert "rejected_pct ↓ pp" in table4_markdown(cmp.reset_index(), kpis)


def test_compare_follows_the_declarations_team_rule_and_direction():
    """A KPI without a better direction is never better/worse; team 'min' combines agents."""
    from xr_codec_marl.core.kpis import KpiSpec

    kpis = [KpiSpec("worst", direction="higher", team="min"), KpiSpec("size", direction="none")]
    rows = []
    for policy, lo in (("ref", 1.0), ("p", 2.0)):
        for e in range(4):
            for agent, v in (("a", lo), ("b", 10.0)):
                rows.append({"policy": policy, "seed": 0, "episode": e, "agent": agent,
                             "worst": v + 0.01 * e, "size": 2.0 * lo})
    cmp = compare_to_reference(pd.DataFrame(rows), "ref", kpis).set_index("kpi")
    assert cmp.loc["worst", "ref_mean"] == pytest.approx(1.015)  # min over agents, not mean
    assert cmp.loc["worst", "better"]
    assert cmp.loc["size", "change_pct"] == pytest.approx(100.0)
    assert not cmp.loc["size", "better"] and not cmp.loc["size", "worse"]
    assert set(cmp["policy"]) == {"p"} and "seed" not in cmp.columns
