"""One self-contained HTML explanation report (figures inlined as base64 PNG) plus a text summary.

:func:`build_report` takes the tidy explanation table (and optionally a KPI table and the
learners' importance-weight logs), writes every figure as PNG under ``out_dir/figures``, and
writes ``out_dir/report.html`` that needs nothing but itself to display.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xr_codec_marl.core.kpis import KpiSpec
from xr_codec_marl.experiments.compare import axis_name, axis_of, point_title, value_text
from xr_codec_marl.explain import figures as F
from xr_codec_marl.explain.framework import setting_columns


@dataclass
class Report:
    """What :func:`build_report` produced."""

    path: Path
    figures: dict[str, Path]
    summary: dict[str, Any]
    text: str
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------- summary
def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def summarise(table: pd.DataFrame) -> dict[str, Any]:
    """The run's headline facts, JSON-ready.

    - ``settings``: each settings column of the table with its values.
    - ``dominant``: per (algorithm, settings, agent) the component with the largest average Q
      of the chosen action, with every component's average.
    - ``dominant_share``: per component, the share of those cells it dominates.
    - per comparison ``f`` (``inc``/``dec`` over the agents with ordered actions, ``alt`` when
      the table has it): ``msx_plus_single_share[f]``, the share of windows whose MSX+ is a
      single component; ``msx_plus_only[f]`` the share of windows whose MSX+ is exactly {c},
      per component; ``msx_plus_empty_share`` and ``msx_minus_empty_share`` likewise (None
      when no agent has the comparison).
    - ``unordered_agents``: agents without ordered actions (no inc/dec for them).
    """
    group = setting_columns(table)
    agg = F.aggregate_explanations(table, group)
    keys = ["algorithm", *group, "agent"]
    wide = agg.pivot_table(index=keys, columns="component", values="q_chosen", sort=False)
    comps = list(dict.fromkeys(table["component"]))
    dominant = []
    for key, row in wide.iterrows():
        key = key if isinstance(key, tuple) else (key,)
        dominant.append({**{k: _plain(v) for k, v in zip(keys, key, strict=True)},
                         "dominant": str(row[comps].idxmax()),
                         **{f"q_{c}": float(row[c]) for c in comps}})  # fmt: skip
    dom = pd.Series([d["dominant"] for d in dominant])
    first = table[table["component"] == comps[0]]
    unordered = sorted(set(first.loc[first["inc_action"].isna(), "agent"]),
                       key=list(dict.fromkeys(first["agent"])).index)
    out: dict[str, Any] = {
        "windows": len(first),
        "algorithms": list(dict.fromkeys(table["algorithm"])),
        "settings": {g: sorted(_plain(v) for v in table[g].unique()) for g in group},
        "components": comps,
        "unordered_agents": unordered,
        "dominant": dominant,
        "dominant_share": {c: float((dom == c).mean()) for c in comps},
    }
    for f in ("inc", "dec", *(("alt",) if "msx_plus_alt_size" in table else ())):
        size = first[f"msx_plus_{f}_size"].dropna()
        minus = first[f"msx_minus_{f}_size"].dropna()
        n = len(size)
        out.setdefault("msx_plus_single_share", {})[f] = float((size == 1).mean()) if n else None
        out.setdefault("msx_plus_empty_share", {})[f] = float((size == 0).mean()) if n else None
        out.setdefault("msx_minus_empty_share", {})[f] = float((minus == 0).mean()) if n else None
        single = table[(table[f"msx_plus_{f}_size"] == 1) & (table[f"msx_plus_{f}"] == 1)]
        counts = single["component"].value_counts()
        out.setdefault("msx_plus_only", {})[f] = (
            {c: float(counts.get(c, 0) / n) for c in comps} if n else {})
    out["compared_windows"] = {f: int(first[f"msx_plus_{f}_size"].notna().sum())
                               for f in out["msx_plus_only"]}
    return out


_WORDS = {"inc": "the next higher action", "dec": "the next lower action",
          "alt": "its strongest alternative"}


def summary_text(s: Mapping[str, Any], axes: Sequence[Any] = ()) -> str:
    """A few plain sentences: dominant components per agent and settings, and MSX set sizes."""
    lines = []
    group = list(s.get("settings", {}))
    agents = list(dict.fromkeys(d["agent"] for d in s["dominant"]))
    by_cell: dict[tuple, list[str]] = {}
    for d in s["dominant"]:
        by_cell.setdefault((tuple(d[g] for g in group), d["agent"]), []).append(
            f"{d['dominant']} ({d['algorithm']})"
        )
    for (point, agent), doms in sorted(by_cell.items(),
                                       key=lambda kv: (kv[0][0], agents.index(kv[0][1]))):
        where = point_title(dict(zip(group, point, strict=True)), axes)
        lines.append(f"{where + ', ' if where else ''}{agent}: dominant component "
                     f"{', '.join(doms)}.")
    share = ", ".join(f"{c} {100 * v:.0f} %" for c, v in s["dominant_share"].items())
    cells = " × ".join(["algorithm", *(["settings"] if group else []), "agent"])
    lines.append(f"Dominant component over all {cells} cells: {share}.")
    for f, only in s["msx_plus_only"].items():
        if not only:
            continue
        n = s.get("compared_windows", {}).get(f, s["windows"])
        top = max(only, key=only.get)
        lines.append(
            f"MSX+ vs {_WORDS[f]} ('{f}'): a single component in "
            f"{100 * s['msx_plus_single_share'][f]:.1f} % of {n} windows "
            f"(most often {{{top}}} alone, {100 * only.get(top, 0.0):.1f} %); empty in "
            f"{100 * s['msx_plus_empty_share'][f]:.1f} %; MSX− empty in "
            f"{100 * s['msx_minus_empty_share'][f]:.1f} %."
        )
    if s.get("unordered_agents"):
        lines.append(unordered_note(s["unordered_agents"], all_agents=len(s["unordered_agents"])
                                    == len(agents)))
    return "\n".join(lines)


def unordered_note(agents: Sequence[str], all_agents: bool) -> str:
    """Why RDFX inc/dec is missing for some agents."""
    return (f"RDFX 'inc'/'dec' (the next higher/lower action) needs ordered actions; agent(s) "
            f"{', '.join(agents)} have an unordered action space, so their inc/dec values are "
            f"empty (NaN)" + (" and Figs. 8–11 are omitted" if all_agents else
                              " and Figs. 8–11 show the other agents only")
            + "; the 'alt' comparison (the chosen action vs its strongest alternative) "
              "explains every agent instead.")


# ---------------------------------------------------------------------------------- report
def build_report(
    out_dir: str | Path,
    table: pd.DataFrame,
    kpis: pd.DataFrame | None = None,
    importance_logs: Mapping[str, pd.DataFrame] | None = None,
    reference: str = "",
    meta: Mapping[str, Any] | None = None,
    kpi_specs: Sequence[KpiSpec] | None = None,
    axes: Sequence[Any] = (),
    component_labels: Mapping[str, str] | None = None,
    agent_colours: Mapping[str, str] | None = None,
) -> Report:
    """Write all figures and ``report.html`` into ``out_dir``; return what was written.

    ``kpi_specs`` are the KPI declarations (Fig. 14 shows the headline ones; without them,
    every numeric KPI column), ``axes`` the sweep axes behind the settings columns (for
    labels and units), ``component_labels`` the reward components' labels and
    ``agent_colours`` colours by agent id (all optional)."""
    out = Path(out_dir)
    figdir = out / "figures"
    group = setting_columns(table)
    style = F.Style(group, tuple(axes), dict(component_labels or {}), dict(agent_colours or {}))
    agg = F.aggregate_explanations(table, group)
    summary = summarise(table)
    agents = list(dict.fromkeys(table["agent"]))
    ordered_any = len(summary["unordered_agents"]) < len(agents)
    figs: dict[str, Path] = {
        "fig07_q_chosen": F.plot_component_bars(
            agg, "q_chosen", "average Q_c of chosen action (–)",
            "Average decomposed Q-value of the chosen action (Fig. 7)",
            figdir / "fig07_q_chosen.png", style=style),
    }  # fmt: skip
    if ordered_any:
        figs.update({
            "fig08_rdfx_inc": F.plot_component_bars(
                agg, "rdfx_inc", "average RDFX_c 'inc' (–)",
                "Average RDFX vs the next higher action (Fig. 8)", figdir / "fig08_rdfx_inc.png",
                style=style),
            "fig09_rdfx_dec": F.plot_component_bars(
                agg, "rdfx_dec", "average RDFX_c 'dec' (–)",
                "Average RDFX vs the next lower action (Fig. 9)", figdir / "fig09_rdfx_dec.png",
                style=style),
            "fig10_msx_plus_inc": F.plot_msx_frequency(table, "inc",
                                                       figdir / "fig10_msx_plus_inc.png", style),
            "fig11_msx_plus_dec": F.plot_msx_frequency(table, "dec",
                                                       figdir / "fig11_msx_plus_dec.png", style),
        })  # fmt: skip
    if "rdx_alt" in table:
        figs["fig08b_rdx_alt"] = F.plot_component_bars(
            agg, "rdx_alt", "average RDX_c vs the strongest alternative (–)",
            "Average RDX of the chosen action vs its strongest alternative",
            figdir / "fig08b_rdx_alt.png", style=style)
        figs["fig10b_msx_plus_alt"] = F.plot_msx_frequency(table, "alt",
                                                           figdir / "fig10b_msx_plus_alt.png", style)
    warnings: list[str] = []
    if summary["unordered_agents"]:
        warnings.append(unordered_note(summary["unordered_agents"], not ordered_any))
    if importance_logs:
        figs["fig12_13_importance"] = F.plot_importance_weights(
            importance_logs, figdir / "fig12_13_importance.png", component_labels
        )
    else:
        warnings.append(
            "No MHA training logs with importance weights l_c were given: Figs. 12–13 omitted."
        )
    panels = F.kpi_panels(kpis, kpi_specs, group) if kpis is not None and len(kpis) else ()
    if panels:
        figs["fig14_kpis"] = F.plot_kpis(kpis, figdir / "fig14_kpis.png", reference=reference,
                                         panels=panels, group=group, axes=axes)
    else:
        warnings.append("No KPI table was given: Fig. 14 omitted.")
    text = summary_text(summary, axes)
    page = _html(table, summary, text, figs, kpis if panels else None, reference,
                 dict(meta or {}), warnings, panels, group, axes)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return Report(path, figs, summary, text, warnings)


_CAPTIONS = {
    "fig07_q_chosen": "Average decomposed Q-value Q_c(τ, u*) of the chosen action u* = argmax_u Σ_c Q_c "
    "per reward component, agent, algorithm and setting. The largest bar is the component that "
    "drives decisions.",
    "fig08_rdfx_inc": "RDFX 'inc' = Q_c(u*) − Q_c(u*+1): positive means component c prefers the chosen "
    "action to the next higher one (0 when u* is already the highest action). Agents with "
    "ordered actions only.",
    "fig09_rdfx_dec": "RDFX 'dec' = Q_c(u*) − Q_c(u*−1): positive means component c prefers the chosen "
    "action to the next lower one (0 when u* is already the lowest action). Agents with "
    "ordered actions only.",
    "fig08b_rdx_alt": "RDX 'alt' = Q_c(u*) − Q_c(u'), u' the best other available action by Σ_c Q_c: "
    "positive means component c prefers the chosen action to its strongest alternative. Any "
    "discrete action space.",
    "fig10_msx_plus_inc": "Share of windows in which each component belongs to MSX+ of the 'inc' "
    "comparison; ∅ = no set of positive components outweighs the disadvantage (e.g. all RDFX 0).",
    "fig11_msx_plus_dec": "As Fig. 10 for the 'dec' comparison (chosen action vs the next lower one).",
    "fig10b_msx_plus_alt": "As Fig. 10 for the 'alt' comparison (chosen action vs its strongest "
    "alternative).",
    "fig12_13_importance": "MHA importance weights l_c = softmax_c(mean_c [+ sinh(std_c)]) per "
    "training episode, from the learners' CSV logs.",
    "fig14_kpis": "Network KPIs of each policy driving the environment on its own (greedy), per "
    "setting.",
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
    panels: Sequence[KpiSpec],
    group: Sequence[str],
    axes: Sequence[Any],
) -> str:
    esc = html.escape
    meta_rows = "".join(
        f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in meta.items()
    )
    dom = pd.DataFrame(summary["dominant"])
    dom = dom.round(4)
    sizes = F.msx_set_sizes(table, group).round(3)
    settings = "; ".join(
        f"{axis_name(g, axes)} " + ", ".join(value_text(v, axis_of(g, axes)) for v in vals)
        for g, vals in summary["settings"].items())
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>xr-codec-marl explanation report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Explanation report: which reward component drives each agent's choice?</h1>",
        (
            f"<p>Reference policy <b>{esc(reference.upper())}</b> drives the environment; every "
            "learner is explained on the same trajectory (seed 002 Fig. 6). Explained learners: "
            f"{esc(', '.join(summary['algorithms']))}"
            + (f"; {esc(settings)}" if settings else "")
            + f"; {summary['windows']} explained agent-windows.</p>"
        ),
        f"<table class='meta'>{meta_rows}</table>" if meta_rows else "",
        "<h2>Summary</h2><pre>" + esc(text) + "</pre>",
        *(f"<p class='warn'>{esc(w)}</p>" for w in warnings),
    ]
    for key, path in figs.items():
        parts.append(f"<h2>{esc(_title(key))}</h2><figure>{_img(path, _title(key))}"
                     f"<figcaption>{esc(_CAPTIONS.get(key, ''))}</figcaption></figure>")  # fmt: skip
    parts.append("<h2>Dominant component per algorithm, setting and agent</h2>")
    parts.append(dom.to_html(index=False, border=0))
    parts.append("<h2>MSX set sizes (share of windows)</h2>")
    parts.append(sizes.to_html(index=False, border=0))
    if kpis is not None and len(kpis):
        parts.append("<h2>KPI table (mean and 95 % CI over runs)</h2>")
        ks = F.kpi_summary(kpis, panels, group)
        fmt = {k.key: k.fmt for k in panels}
        ks["value"] = [f"{m:{fmt.get(k, '.3f')}} ± {c:{fmt.get(k, '.3f')}}"
                       for k, m, c in zip(ks["kpi"], ks["mean"], ks["ci95"], strict=True)]
        titles = {k.key: k.title for k in panels}
        ks["kpi"] = ks["kpi"].map(lambda k: titles.get(k, k))
        wide = ks.pivot_table(index=[*group, "policy"], columns="kpi", values="value",
                              aggfunc="first", sort=False).reset_index()  # fmt: skip
        parts.append(wide.to_html(index=False, border=0))
    parts.append("</body></html>")
    return "\n".join(parts)


def _title(key: str) -> str:
    return {
        "fig07_q_chosen": "Fig. 7 — average decomposed Q of the chosen action",
        "fig08_rdfx_inc": "Fig. 8 — average RDFX 'inc'",
        "fig09_rdfx_dec": "Fig. 9 — average RDFX 'dec'",
        "fig08b_rdx_alt": "Average RDX vs the strongest alternative ('alt')",
        "fig10_msx_plus_inc": "Fig. 10 — MSX+ 'inc' frequency",
        "fig11_msx_plus_dec": "Fig. 11 — MSX+ 'dec' frequency",
        "fig10b_msx_plus_alt": "MSX+ 'alt' frequency",
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
