"""The sweep report: one self-contained HTML page (figures inlined) plus Markdown tables.

Contents: the Table IV-style comparison vs APS per ring and over all rings, the Fig. 14-style
KPI bars, per-agent KPI tables, and — for learners trained in the sweep — learning curves and
the MHA importance weights from their training logs.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from xr_codec_marl.experiments.compare import (  # noqa: E402
    PAPER_MHA_DQMIX_GAIN, TABLE4_KPIS, compare_to_reference, table4_markdown, table4_rows,
)
from xr_codec_marl.experiments.results import write_atomic  # noqa: E402

_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
h2{border-bottom:1px solid #ddd;margin-top:1.5em}table{border-collapse:collapse;font-size:.85em}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f4f4f4}
img{max-width:100%;border:1px solid #eee}.good{color:#0a7d00}.bad{color:#b00020}
figcaption{color:#555;font-size:.9em}pre{background:#f7f7f7;padding:.5em}"""


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def plot_learning_curves(run_dirs: dict[str, Path], path: Path) -> Path | None:
    """Episode return (sum of components) against env windows, one line per trained run."""
    frames = {name: pd.read_csv(d / "log.csv") for name, d in run_dirs.items()
              if (d / "log.csv").is_file()}
    frames = {k: df for k, df in frames.items() if not df.empty and "return" in df}
    if not frames:  # no run logged an episode (e.g. every learner cell failed)
        return None
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for name, df in sorted(frames.items()):
        smooth = df["return"].rolling(max(len(df) // 20, 1), min_periods=1).mean()
        ax.plot(df["env_steps"], smooth, label=name, lw=1.2)
    ax.set_xlabel("environment windows (0.5 s each)")
    ax.set_ylabel("episode return (sum of components)")
    ax.set_title("Training curves (rolling mean)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _cmp_html(cmp: pd.DataFrame, ring: object) -> str:
    rows = table4_rows(cmp, ring)
    if not rows:
        return "<p>no comparison</p>"
    head = "<tr><th>policy</th>" + "".join(
        f"<th>{k} {'↑' if s > 0 else '↓'}</th>" for k, s in TABLE4_KPIS.items()) + "</tr>"
    body = []
    for policy, cells in rows:
        tds = []
        for r in cells:
            if r is None:
                tds.append("<td>–</td>")
                continue
            cls = "good" if r.better else "bad" if r.worse else ""
            tds.append(f"<td class='{cls}'>{r.gain_pct:+.1f} % "
                       f"<small>[{r.gain_lo:+.1f}, {r.gain_hi:+.1f}]</small></td>")
        body.append(f"<tr><th>{html.escape(policy)}</th>{''.join(tds)}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _failures_html(failures: dict[str, str]) -> str:
    items = "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>"
                    for k, v in sorted(failures.items()))
    return (f"<h2 class='bad'>Failed cells ({len(failures)})</h2><p>These cells produced no "
            f"results and are missing from every table below; rerun the same command to retry "
            f"them.</p><ul>{items}</ul>")


def build_sweep_report(
    out: str | Path, rows: pd.DataFrame, meta: dict[str, Any], reference: str = "aps",
    run_dirs: dict[str, Path] | None = None, failures: dict[str, str] | None = None,
) -> Path:
    """Write ``report.html``, ``table4.md`` and ``comparison.csv`` into ``out``.

    ``failures`` (cell key -> one-line error) are listed at the top; with no rows at all the
    report still says what failed, so a broken sweep never ends without a report.
    """
    from xr_codec_marl.explain import figures as F

    out = Path(out)
    figdir = out / "figures"
    failures = failures or {}
    figs: list[tuple[str, Path, str]] = []
    if not rows.empty:
        figs.append(("KPIs per ring (Fig. 14 style)",
                     F.plot_kpis(rows, figdir / "kpis.png", reference=reference),
                     "Mean over episodes (agents averaged per episode) with 95 % CIs."))
    run_dirs = run_dirs or {}
    curve = plot_learning_curves(run_dirs, figdir / "learning_curves.png")
    if curve:
        figs.append(("Learning curves", curve, "Return per training episode, rolling mean."))
    logs = {}
    for name, d in run_dirs.items():
        log = d / "log.csv"
        if log.is_file() and any(c.startswith("l_") for c in pd.read_csv(log, nrows=0).columns):
            try:
                logs[name] = F.read_importance_log(log).table
            except ValueError:  # a run that logged no episode (e.g. it failed): nothing to plot
                continue
    if logs:
        figs.append(("MHA importance weights over training",
                     F.plot_importance_weights(logs, figdir / "importance.png"),
                     "l_c = softmax(mean_c + sinh(std_c)) per episode (eq. 35)."))
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>xr-codec-marl sweep report</title><style>{_CSS}</style></head><body>",
        "<h1>Sweep report: codec adaptation vs APS</h1>",
        "<pre>" + html.escape(json.dumps(meta, indent=1, default=str)) + "</pre>",
    ]
    if failures:
        parts.append(_failures_html(failures))
    if rows.empty:
        parts.append("<p class='bad'>No cell produced results.</p></body></html>")
        return write_atomic(out / "report.html", "\n".join(parts))
    has_cmp = reference in set(rows["policy"]) and rows["policy"].nunique() > 1
    cmp = compare_to_reference(rows, reference) if has_cmp else pd.DataFrame()
    if has_cmp:
        parts.append(f"<h2>Gain vs {html.escape(reference.upper())} (Table IV style)</h2>")
        parts.append("<p>Gain in % (positive = better: ↑ KPIs higher, ↓ KPIs lower); bracket = 95 % "
                     "paired-bootstrap CI of the gain; green/red = significantly better/worse. "
                     "Throughput is our addition to the paper's four columns: a policy that "
                     "simply sends less wins those four. "
                     f"The paper's MHA-DQMIX average gains: {PAPER_MHA_DQMIX_GAIN}.</p>")
        for ring in [*sorted(rows["ring_m"].unique()), "all"]:
            label = "all rings" if ring == "all" else f"{ring:g} m"
            parts.append(f"<h3>{label}</h3>{_cmp_html(cmp, ring)}")
    for title, path, caption in figs:
        parts.append(f"<h2>{html.escape(title)}</h2><figure>{_img(path, title)}"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    per_agent = (rows.groupby(["ring_m", "policy", "agent"], sort=False)
                 [["xr_index", "delay_ms", "jitter_ms", "plr", "throughput_mbps", "codec_rate_mbps"]]
                 .mean().round(4).reset_index())
    parts.append("<h2>Per-agent KPI means</h2>" + per_agent.to_html(index=False, border=0))
    parts.append("</body></html>")
    path = write_atomic(out / "report.html", "\n".join(parts))
    if has_cmp:
        md = ["# Gain vs " + reference.upper() + "\n"]
        for ring in [*sorted(rows["ring_m"].unique()), "all"]:
            md.append(f"\n## {'all rings' if ring == 'all' else f'{ring:g} m'}\n\n")
            md.append(table4_markdown(cmp, ring))
        write_atomic(out / "table4.md", "".join(md))
        write_atomic(out / "comparison.csv", cmp.to_csv(index=False))
    return path
