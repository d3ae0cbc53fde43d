"""Figures, summary and the self-contained HTML report, rendered in headless Chromium.

Needs Debian's ``chromium`` on PATH (CI installs it); the test fails, never skips, without it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explain_fakes import CyclePolicy, FakeEnv, TableLearner, fake_spec
from xr_codec_marl.explain.figures import read_importance_log
from xr_codec_marl.explain.framework import collect_kpis, explain_episodes
from xr_codec_marl.explain.report import build_report, summarise
from xr_codec_marl.scenarios.xr.kpis import XR_KPIS
from xr_codec_marl.scenarios.xr.scenario import XR

COMPS = ("delay", "pdr", "drr")


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two learners x two rings on the fake env; 'pdr-first' has PDR dominating by design."""
    spec = fake_spec(n_actions=5, episode_limit=4)
    a = np.arange(5, dtype=float)
    pdr_first = np.stack([0.5 - 0.1 * a, 3.0 - 0.5 * (a - 1) ** 2, 0.1 * a])  # greedy action 1
    delay_first = np.stack([4.0 - (a - 3) ** 2, 0.2 * a, -0.1 * a])  # greedy action 3
    tabs, kpis = [], []
    for ring in (200.0, 400.0):
        env = FakeEnv(2, spec, ring)
        learners = {
            "pdr-first": TableLearner(spec, pdr_first),
            "delay-first": TableLearner(spec, delay_first),
        }
        tabs.append(
            explain_episodes(
                env, CyclePolicy(spec), learners, 2, seed=1, settings={"ring_m": ring},
                backend="fake"
            )
        )
        for name, pol in [("aps", CyclePolicy(spec)), ("pdr-first", learners["pdr-first"])]:
            kpis.append(collect_kpis(env, pol, 2, seed=1, settings={"ring_m": ring},
                                     backend="fake", name=name))
    return pd.concat(tabs, ignore_index=True), pd.concat(kpis, ignore_index=True)


def _write_log(run_dir: Path, variance: bool) -> Path:
    """A log.csv + run.json as ``xr-marl train`` writes them for an MHA run."""
    run_dir.mkdir(parents=True)
    ep = np.arange(50)
    l_pdr = 0.5 + (0.0 if variance else 0.3) + 0.0 * ep
    rest = (1 - l_pdr) / 2
    pd.DataFrame(
        {
            "episode": ep,
            "env_steps": 40 * ep,
            "loss": 1.0,
            "l_delay": rest,
            "l_pdr": l_pdr,
            "l_drr": rest,
            "w_delay": 1.0,
            "l_batch_delay": 0.1,
        }
    ).to_csv(run_dir / "log.csv", index=False)
    info = {
        "env": "xr",
        "algo": "mha-dvdn",
        "ring_m": 300.0,
        "config": {"importance": "variance" if variance else "mean"},
    }
    (run_dir / "run.json").write_text(json.dumps(info))
    return run_dir / "log.csv"


def test_summary_finds_the_designed_dominant_component() -> None:
    table, _ = _tables()
    s = summarise(table)
    dom = {(d["algorithm"], d["ring_m"], d["agent"]): d["dominant"] for d in s["dominant"]}
    assert len(dom) == 2 * 2 * 3
    assert all(v == "pdr" for (alg, *_), v in dom.items() if alg == "pdr-first")
    assert all(v == "delay" for (alg, *_), v in dom.items() if alg == "delay-first")
    assert s["dominant_share"] == {"delay": 0.5, "pdr": 0.5, "drr": 0.0}
    # pdr-first at action 1: inc RDFX = [0.1, 0.5, -0.1], d = 0.1 -> {pdr} alone;
    # dec RDFX = [-0.1, 0.5, 0.1] -> {pdr} alone. delay-first at 3: inc [1, -0.2, 0.1] -> {delay},
    # dec [1, 0.2, -0.1] -> {delay}. So every MSX+ is a single component.
    assert s["msx_plus_single_share"] == {"inc": 1.0, "dec": 1.0}
    assert s["msx_plus_only"]["inc"] == {"delay": 0.5, "pdr": 0.5, "drr": 0.0}
    # single-component MSX+ -> v = 0, and each case has one negative RDFX -> MSX- never empty
    assert s["msx_minus_empty_share"] == {"inc": 0.0, "dec": 0.0}
    assert s["msx_plus_empty_share"] == {"inc": 0.0, "dec": 0.0}


def test_importance_log_reader(tmp_path: Path) -> None:
    log = read_importance_log(_write_log(tmp_path / "a", variance=True))
    assert log.mode == "variance" and log.label() == "MHA-DVDN 300 m: with variance term (eq. 35)"
    long = log.table
    assert set(long.columns) == {"episode", "component", "l"} and set(long.component) == set(COMPS)
    assert len(long) == 150 and long.episode.max() == 49
    assert (
        read_importance_log(_write_log(tmp_path / "b", variance=False)).label().endswith("(eq. 36)")
    )
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"step": [0], "loss": [1.0]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="l_<component>"):
        read_importance_log(bad)


_CHECK = """
<img class="control" alt="control" src="data:image/png;base64,AAAAbroken">
<script>
window.addEventListener('load', () => {
  const figs = [...document.images].filter(i => !i.classList.contains('control'));
  const ok = figs.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0).length;
  const ctl = document.querySelector('img.control');
  const out = document.createElement('div');
  out.id = 'img-check';
  out.textContent = 'IMAGES ' + ok + '/' + figs.length + ' CONTROL ' + ctl.naturalWidth;
  document.body.appendChild(out);
});
</script>
</body>"""


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "Debian's chromium is needed for this test: apt-get install -y chromium"
    return exe


def test_report_is_self_contained_and_renders_in_chromium(tmp_path: Path) -> None:
    table, kpis = _tables()
    logs = {}
    for variance in (False, True):
        log = read_importance_log(_write_log(tmp_path / f"run{variance}", variance))
        logs[log.label()] = log.table
    rep = build_report(
        tmp_path / "out", table, kpis, logs, reference="aps", meta={"command": "test"},
        kpi_specs=XR_KPIS, axes=XR.sweep_axes,
    )
    assert set(rep.figures) == {
        "fig07_q_chosen",
        "fig08_rdfx_inc",
        "fig09_rdfx_dec",
        "fig10_msx_plus_inc",
        "fig11_msx_plus_dec",
        "fig12_13_importance",
        "fig14_kpis",
    }
    assert not rep.warnings
    for p in rep.figures.values():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    page = rep.path.read_text(encoding="utf-8")
    # self-contained: every image inline, no external resources
    srcs = re.findall(r'src="([^"]*)"', page)
    assert len(srcs) == 7 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r'(href|src)="(https?:|file:|//)', page)
    assert "Ring 200 m, AR: dominant component pdr (pdr-first), delay (delay-first)." in page

    check = tmp_path / "check.html"
    check.write_text(page.replace("</body>", _CHECK), encoding="utf-8")
    profile = tmp_path / "profile"
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=5000",
           "--dump-dom", check.as_uri()]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=50, check=False)
    m = re.search(r"IMAGES (\d+)/(\d+) CONTROL (\d+)", res.stdout)
    assert m, f"no image check in Chromium's DOM (rc {res.returncode}): {res.stderr[-2000:]}"
    loaded, total, control = map(int, m.groups())
    assert total == 7 and loaded == 7, f"only {loaded}/{total} figures loaded"
    assert control == 0  # the deliberately broken image is detected as not loaded
