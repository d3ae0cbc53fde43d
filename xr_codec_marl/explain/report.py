"""One self-contained HTML explanation report (figures inlined as base64 PNG) plus a text summary.

:func:`build_report` takes the tidy explanation table (and optionally a KPI table and the
learners' importance-weight logs), writes every figure as PNG under ``out_dir/figures``, and
writes ``out_dir/report.html`` that needs nothing but itself to display.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xr_codec_marl.explain import figures as F


@dataclass
class Report:
    """What :func:`build_report` produced."""

    path: Path
    figures: dict[str, Path]
    summary: dict[str, Any]
    text: str
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------- summary
def summarise(table: pd.DataFrame) -> dict[str, Any]:
    """The run's headline facts, JSON-ready.

    - ``dominant``: per (algorithm, ring, agent) the component with the largest average Q of the
      chosen action, with every component's average.
    - ``dominant_share``: per component, the share of those cells it dominates.
    - ``msx_plus_single_share`` (inc/dec): share of windows whose MSX+ is a single component;
      ``msx_plus_only`` the share of windows whose MSX+ is exactly {c}, per component;
      ``msx_plus_empty_share`` and ``msx_minus_empty_share`` likewise.
    """
    agg = F.aggregate_explanations(table)
    wide = agg.pivot_table(index=["algorithm", "ring_m", "agent"], columns="component",
                           values="q_chosen", sort=False)  # fmt: skip
    comps = list(dict.fromkeys(table["component"]))
    dominant = []
    for (alg, ring, agent), row in wide.iterrows():
        dominant.append({"algorithm": alg, "ring_m": float(ring), "agent": agent,
                         "dominant": str(row[comps].idxmax()),
                         **{f"q_{c}": float(row[c]) for c in comps}})  # fmt: skip
    dom = pd.Series([d["dominant"] for d in dominant])
    first = table[table["component"] == comps[0]]
    out: dict[str, Any] = {
        "windows": len(first),
        "algorithms": list(dict.fromkeys(table["algorithm"])),
        "rings_m": sorted(float(r) for r in table["ring_m"].unique()),
        "components": comps,
        "dominant": dominant,
        "dominant_share": {c: float((dom == c).mean()) for c in comps},
    }
    for f in ("inc", "dec"):
        size = first[f"msx_plus_{f}_size"]
        out.setdefault("msx_plus_single_share", {})[f] = float((size == 1).mean())
        out.setdefault("msx_plus_empty_share", {})[f] = float((size == 0).mean())
        out.setdefault("msx_minus_empty_share", {})[f] = float(
            (first[f"msx_minus_{f}_size"] == 0).mean()
        )
        single = table[(table[f"msx_plus_{f}_size"] == 1) & table[f"msx_plus_{f}"]]
        counts = single["component"].value_counts()
        out.setdefault("msx_plus_only", {})[f] = {
            c: float(counts.get(c, 0) / max(len(first), 1)) for c in comps
        }
    return out


def summary_text(s: Mapping[str, Any]) -> str:
    """A few plain sentences: dominant components per agent and ring, and MSX set sizes."""
    lines = []
    by_cell: dict[tuple[float, str], list[str]] = {}
    for d in s["dominant"]:
        by_cell.setdefault((d["ring_m"], d["agent"]), []).append(
            f"{d['dominant']} ({d['algorithm']})"
        )
    for (ring, agent), doms in sorted(
        by_cell.items(), key=lambda kv: (kv[0][0], _agent_rank(kv[0][1]))
    ):
        lines.append(f"Ring {ring:g} m, {agent}: dominant component {', '.join(doms)}.")
    share = ", ".join(f"{c} {100 * v:.0f} %" for c, v in s["dominant_share"].items())
    lines.append(f"Dominant component over all algorithm × ring × agent cells: {share}.")
    for f, word in (("inc", "higher"), ("dec", "lower")):
        only = s["msx_plus_only"][f]
        top = max(only, key=only.get) if only else "-"
        lines.append(
            f"MSX+ vs the next {word} rate ('{f}'): a single component in "
            f"{100 * s['msx_plus_single_share'][f]:.1f} % of {s['windows']} windows "
            f"(most often {{{top}}} alone, {100 * only.get(top, 0.0):.1f} %); empty in "
            f"{100 * s['msx_plus_empty_share'][f]:.1f} %; MSX− empty in "
            f"{100 * s['msx_minus_empty_share'][f]:.1f} %."
        )
    return "\n".join(lines)


def _agent_rank(agent: str) -> int:
    return F.AGENT_ORDER.index(agent) if agent in F.AGENT_ORDER else len(F.AGENT_ORDER)


# ---------------------------------------------------------------------------------- report
def build_report(
    out_dir: str | Path,
    table: pd.DataFrame,
    kpis: pd.DataFrame | None = None,
    importance_logs: Mapping[str, pd.DataFrame] | None = None,
    reference: str = "aps",
    meta: Mapping[str, Any] | None = None,
) -> Report:
    """Write all figures and ``report.html`` into ``out_dir``; return what was written."""
    out = Path(out_dir)
    figdir = out / "figures"
    agg = F.aggregate_explanations(table)
    figs: dict[str, Path] = {
        "fig07_q_chosen": F.plot_component_bars(
            agg, "q_chosen", "average Q_c of chosen action (–)",
            "Average decomposed Q-value of the chosen action (Fig. 7)", figdir / "fig07_q_chosen.png"),
        "fig08_rdfx_inc": F.plot_component_bars(
            agg, "rdfx_inc", "average RDFX_c 'inc' (–)",
            "Average RDFX vs the next higher codec rate (Fig. 8)", figdir / "fig08_rdfx_inc.png"),
        "fig09_rdfx_dec": F.plot_component_bars(
            agg, "rdfx_dec", "average RDFX_c 'dec' (–)",
            "Average RDFX vs the next lower codec rate (Fig. 9)", figdir / "fig09_rdfx_dec.png"),
        "fig10_msx_plus_inc": F.plot_msx_frequency(table, "inc", figdir / "fig10_msx_plus_inc.png"),
        "fig11_msx_plus_dec": F.plot_msx_frequency(table, "dec", figdir / "fig11_msx_plus_dec.png"),
    }  # fmt: skip
    warnings: list[str] = []
    if importance_logs:
        figs["fig12_13_importance"] = F.plot_importance_weights(
            importance_logs, figdir / "fig12_13_importance.png"
        )
    else:
        warnings.append(
            "No MHA training logs with importance weights l_c were given: Figs. 12–13 omitted."
        )
    if kpis is not None and len(kpis):
        figs["fig14_kpis"] = F.plot_kpis(kpis, figdir / "fig14_kpis.png", reference=reference)
    else:
        warnings.append("No KPI table was given: Fig. 14 omitted.")
    summary = summarise(table)
    text = summary_text(summary)
    page = _html(table, summary, text, figs, kpis, reference, dict(meta or {}), warnings)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return Report(path, figs, summary, text, warnings)


_CAPTIONS = {
    "fig07_q_chosen": "Average decomposed Q-value Q_c(τ, u*) of the chosen action u* = argmax_u Σ_c Q_c "
    "per reward component, agent, algorithm and ring. The largest bar is the component that "
    "drives decisions.",
    "fig08_rdfx_inc": "RDFX 'inc' = Q_c(u*) − Q_c(u*+1): positive means component c prefers the chosen "
    "rate to the next higher one (0 when u* is already the highest rate).",
    "fig09_rdfx_dec": "RDFX 'dec' = Q_c(u*) − Q_c(u*−1): positive means component c prefers the chosen "
    "rate to the next lower one (0 when u* is already the lowest rate).",
    "fig10_msx_plus_inc": "Share of windows in which each component belongs to MSX+ of the 'inc' "
    "comparison; ∅ = no set of positive components outweighs the disadvantage (e.g. all RDFX 0).",
    "fig11_msx_plus_dec": "As Fig. 10 for the 'dec' comparison (chosen rate vs the next lower one).",
    "fig12_13_importance": "MHA importance weights l_c = softmax_c(mean_c [+ sinh(std_c)]) per "
    "training episode, from the learners' CSV logs.",
    "fig14_kpis": "Network KPIs of each policy driving the environment on its own (greedy), per ring.",
}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#555}table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f4f4f4}
.meta td{text-align:left}.warn{color:#8a5a00}pre{background:#f7f7f7;padding:.6em;white-space:pre-wrap}
"""


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _html(
    table: pd.DataFrame,
    summary: Mapping[str, Any],
    text: str,
    figs: Mapping[str, Path],
    kpis: pd.DataFrame | None,
    reference: str,
    meta: dict[str, Any],
    warnings: list[str],
) -> str:
    esc = html.escape
    meta_rows = "".join(
        f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in meta.items()
    )
    dom = pd.DataFrame(summary["dominant"])
    dom = dom.round(4)
    sizes = F.msx_set_sizes(table).round(3)
    rings = ", ".join(f"{r:g} m" for r in summary["rings_m"])
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>xr-codec-marl explanation report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Explanation report: which reward component drives the codec choice?</h1>",
        (
            f"<p>Reference policy <b>{esc(reference.upper())}</b> drives the environment; every "
            "learner is explained on the same trajectory (seed 002 Fig. 6). Explained learners: "
            f"{esc(', '.join(summary['algorithms']))}; rings {esc(rings)}; "
            f"{summary['windows']} explained agent-windows.</p>"
        ),
        f"<table class='meta'>{meta_rows}</table>" if meta_rows else "",
        "<h2>Summary</h2><pre>" + esc(text) + "</pre>",
        *(f"<p class='warn'>{esc(w)}</p>" for w in warnings),
    ]
    for key, path in figs.items():
        parts.append(f"<h2>{esc(_title(key))}</h2><figure>{_img(path, _title(key))}"
                     f"<figcaption>{esc(_CAPTIONS.get(key, ''))}</figcaption></figure>")  # fmt: skip
    parts.append("<h2>Dominant component per algorithm, ring and agent</h2>")
    parts.append(dom.to_html(index=False, border=0))
    parts.append("<h2>MSX set sizes (share of windows)</h2>")
    parts.append(sizes.to_html(index=False, border=0))
    if kpis is not None and len(kpis):
        parts.append("<h2>KPI table (mean and 95 % CI over runs)</h2>")
        ks = F.kpi_summary(kpis)
        ks["value"] = [f"{m:.3f} ± {c:.3f}" for m, c in zip(ks["mean"], ks["ci95"], strict=True)]
        wide = ks.pivot_table(index=["ring_m", "policy"], columns="kpi", values="value",
                              aggfunc="first", sort=False).reset_index()  # fmt: skip
        parts.append(wide.to_html(index=False, border=0))
    parts.append("</body></html>")
    return "\n".join(parts)


def _title(key: str) -> str:
    return {
        "fig07_q_chosen": "Fig. 7 — average decomposed Q of the chosen action",
        "fig08_rdfx_inc": "Fig. 8 — average RDFX 'inc'",
        "fig09_rdfx_dec": "Fig. 9 — average RDFX 'dec'",
        "fig10_msx_plus_inc": "Fig. 10 — MSX+ 'inc' frequency",
        "fig11_msx_plus_dec": "Fig. 11 — MSX+ 'dec' frequency",
        "fig12_13_importance": "Figs. 12–13 — MHA importance weights over training",
        "fig14_kpis": "Fig. 14 — KPI comparison vs the reference",
    }.get(key, key)


def json_default(o: Any) -> Any:
    """``json.dumps(default=...)`` helper for numpy scalars and paths."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
