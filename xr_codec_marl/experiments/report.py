"""The sweep report: one self-contained HTML page (figures inlined) plus Markdown tables.

Contents: the Table IV-style comparison vs the reference policy per axis point and over all
points, the Fig. 14-style KPI bars, per-agent KPI tables, and — for learners trained in the
sweep — learning curves and the MHA importance weights from their training logs. KPIs, their
labels, units and better directions come from the scenario's declarations (the spec's
``kpis``); axis points from its sweep axes.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from xr_codec_marl.core.api import EnvSpec  # noqa: E402
from xr_codec_marl.core.kpis import KpiSpec  # noqa: E402
from xr_codec_marl.experiments.compare import (  # noqa: E402
    ALL, NON_KPI_COLUMNS, arrow, axis_of, compare_to_reference, headline, infer_kpis,
    point_title, points, pooled_title, setting_columns, table4_markdown, table4_rows,
    team_table, value_text, with_team_reward,
)
from xr_codec_marl.experiments.results import write_atomic  # noqa: E402

_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
h2{border-bottom:1px solid #ddd;margin-top:1.5em}table{border-collapse:collapse;font-size:.85em}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f4f4f4}
img{max-width:100%;border:1px solid #eee}.good{color:#0a7d00}.bad{color:#b00020}
figcaption{color:#555;font-size:.9em}pre{background:#f7f7f7;padding:.5em}"""


# --------------------------------------------------------------------------- figure toolkit
# Shared with the explanation report (xr_codec_marl.explain.figures re-exports these).
#: The default colour cycle (matplotlib's tab10) for components, agents and policies.
CYCLE = tuple(plt.get_cmap("tab10").colors)
#: The cycle for policies beside the reference: tab10 without its grey (the reference's)
POLICY_CYCLE = tuple(c for i, c in enumerate(CYCLE) if i != 7)
EMPTY = "∅"
EMPTY_COLOUR = "#b0b0b0"
REFERENCE_COLOUR = "#7f7f7f"
DPI = 110

plt.rcParams.update({"font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10,
                     "legend.fontsize": 9, "figure.dpi": DPI})  # fmt: skip

plt.rcParams.update({"font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10,
                     "legend.fontsize": 9, "figure.dpi": DPI})  # fmt: skip


def _hex(colour: Any) -> str:
    return matplotlib.colors.to_hex(colour)


def component_colours(components: Sequence[str]) -> dict[str, str]:
    """Colour per reward component (the default cycle, in order) and for the empty set."""
    out = {c: _hex(CYCLE[i % len(CYCLE)]) for i, c in enumerate(dict.fromkeys(components))}
    out[EMPTY] = EMPTY_COLOUR
    return out


def component_labels(components: Sequence[str],
                     labels: Mapping[str, str] | None = None) -> dict[str, str]:
    """Legend label per component: its declared label, else ``name (r_i)``."""
    sub = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
    out = {c: (labels or {}).get(c) or f"{c} (r{str(i + 1).translate(sub)})"
           for i, c in enumerate(dict.fromkeys(components))}
    out[EMPTY] = "MSX+ = ∅"
    return out


def _points(frame: pd.DataFrame, group: Sequence[str]) -> list[tuple]:
    """The axis points of ``frame`` to draw, one ``()`` when it has no axis columns."""
    return points(frame, group) or [()]


def _mask(frame: pd.DataFrame, group: Sequence[str], point: tuple) -> np.ndarray:
    m = np.ones(len(frame), bool)
    for g, v in zip(group, point, strict=True):
        m &= (frame[g] == v).to_numpy()
    return m


def plot_importance_weights(logs: Mapping[str, pd.DataFrame], path: str | Path,
                            labels: Mapping[str, str] | None = None) -> Path:
    """Figs. 12–13: importance weights l_c over training episodes, one panel per run label.

    Thin lines are the per-episode values, thick lines a centred rolling mean over ~2 % of the
    run (at least 5 episodes) so trends stay visible when the log has one row per env copy.
    """
    fig, axes = plt.subplots(
        1, len(logs), squeeze=False, sharey=True, figsize=(max(7.0, 5.2 * len(logs)), 3.8)
    )
    comps = list(dict.fromkeys(c for log in logs.values() for c in log["component"].unique()))
    colours, names = component_colours(comps), component_labels(comps, labels)
    for ax, (label, log) in zip(axes[0], logs.items(), strict=True):
        for comp in log["component"].unique():
            part = log[log.component == comp].sort_values("episode")
            colour = colours.get(comp)
            window = max(5, len(part) // 50)
            smooth = part["l"].rolling(window, center=True, min_periods=1).mean()
            ax.plot(part["episode"], part["l"], lw=0.5, alpha=0.35, color=colour)
            ax.plot(part["episode"], smooth, lw=1.8, color=colour,
                    label=f"l for {names.get(comp, comp)}")  # fmt: skip
        ax.set_title(label)
        ax.set_xlabel("training episode")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("importance weight l_c (–)")
    fig.suptitle("MHA importance weights l_c during training", fontsize=12)
    _legend(fig, axes)
    return _save(fig, path)


def kpi_panels(kpis: pd.DataFrame, declared: Sequence[KpiSpec] | None = None,
               group: Sequence[str] = ()) -> tuple[KpiSpec, ...]:
    """The KPIs Fig. 14 shows: the headline declarations present in the table (without
    declarations, every numeric KPI-looking column)."""
    if declared is None:
        skip = NON_KPI_COLUMNS | set(group)
        return tuple(KpiSpec(str(c)) for c in kpis.columns
                     if c not in skip and not str(c).startswith("reward_")
                     and pd.api.types.is_numeric_dtype(kpis[c]))
    return headline(tuple(k for k in declared if k.key in kpis.columns))


def kpi_summary(kpis: pd.DataFrame, panels: Sequence[KpiSpec] | None = None,
                group: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean and 95 % CI (normal approx.) per (policy, settings, KPI) over runs.

    A run is one (seed, episode, env) if those columns exist; agents are combined within a
    run first (per each KPI's declared team rule), as the paper reports one value per
    algorithm and setting. ``group``: the settings columns (default: the table's)."""
    group = [g for g in (setting_columns(kpis) if group is None else group) if g in kpis.columns]
    panels = kpi_panels(kpis, None, group) if panels is None else tuple(panels)
    run_keys = ["policy", *group, *[k for k in ("seed", "episode", "env") if k in kpis.columns]]
    per_run = team_table(kpis, run_keys, panels)
    rows = []
    for key, grp in per_run.groupby(["policy", *group], sort=False):
        where = dict(zip(["policy", *group], key if isinstance(key, tuple) else (key,), strict=True))
        for kpi in panels:
            v = grp[kpi.key].to_numpy(float)
            half = 1.96 * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0
            rows.append({**where, "kpi": kpi.key, "mean": v.mean(), "ci95": half,
                         "runs": len(v)})  # fmt: skip
    return pd.DataFrame(rows)


def plot_kpis(kpis: pd.DataFrame, path: str | Path, reference: str = "",
              panels: Sequence[KpiSpec] | None = None, group: Sequence[str] | None = None,
              axes: Sequence[Any] = ()) -> Path:
    """Fig. 14: the headline KPIs per settings point for every policy vs the reference."""
    group = [g for g in (setting_columns(kpis) if group is None else group) if g in kpis.columns]
    panels = kpi_panels(kpis, None, group) if panels is None else tuple(panels)
    summ = kpi_summary(kpis, panels, group)
    policies = list(dict.fromkeys(summ["policy"]))
    policies = [p for p in policies if p == reference] + [p for p in policies if p != reference]
    pts = _points(summ, group)
    fig, grid = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 3.8), squeeze=False)
    width = 0.8 / len(policies)
    x = np.arange(len(pts))
    ticks = [", ".join(value_text(v, axis_of(g, axes)) for g, v in zip(group, p, strict=True))
             or "all" for p in pts]
    xlabel = ", ".join((axis_of(g, axes).label or axis_of(g, axes).name).lower()
                       if axis_of(g, axes) is not None else g for g in group)
    for ax, kpi in zip(grid[0], panels, strict=True):
        for k, pol in enumerate(policies):
            sub = summ[(summ.policy == pol) & (summ.kpi == kpi.key)]
            means, cis = [], []
            for p in pts:
                hit = sub[_mask(sub, group, p)]
                means.append(hit["mean"].mean() if len(hit) else np.nan)
                cis.append(hit["ci95"].mean() if len(hit) else np.nan)
            ax.bar(x + (k - (len(policies) - 1) / 2) * width, means, width,
                   yerr=cis, capsize=2, label=str(pol).upper(),
                   color=REFERENCE_COLOUR if pol == reference else POLICY_CYCLE[k % len(POLICY_CYCLE)])  # fmt: skip
        ax.set_xticks(x, ticks)
        if xlabel:
            ax.set_xlabel(xlabel)
        ax.set_ylabel(kpi.title)
        ax.grid(axis="y", alpha=0.3)
    where = " per " + xlabel if xlabel else ""
    fig.suptitle(f"KPIs{where} vs {reference.upper()} (mean ± 95 % CI over runs)", fontsize=12)
    _legend(fig, grid)
    return _save(fig, path)


def _legend(fig: plt.Figure, axes: np.ndarray) -> None:
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if labels:  # an empty panel has nothing to name (and ncol=0 is an error)
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6),
                   frameon=False)
    fig.tight_layout(rect=(0, 0.07 if axes.shape[0] < 2 else 0.05, 1, 0.96))


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


# -------------------------------------------------------------------- training-log reader
_EPISODE_COLUMNS = ("episode", "episodes", "ep", "env_steps", "t_env", "step")
_L_PATTERN = re.compile(r"^(?:l_|l/|importance_|importance/)(?P<comp>\w+)$")


@dataclass
class ImportanceLog:
    """A training run's importance weights in long form (``episode, component, l``) and its origin."""

    table: pd.DataFrame
    mode: str | None  # "variance" (eq. 35), "mean" (eq. 36) or unknown
    algo: str | None
    #: the scenario settings the run recorded (its ``run.json``), e.g. its sweep-axis values
    settings: dict[str, Any]
    path: Path
    #: the scenario's sweep axes (to show settings with their units)
    axes: Sequence[Any] = ()

    def label(self) -> str:
        """Panel title: algorithm, recorded settings and which importance equation the run used."""
        where = " ".join(value_text(v, axis_of(k, self.axes)) for k, v in self.settings.items())
        head = " ".join(x for x in (self.algo.upper() if self.algo else "", where) if x)
        return f"{head or self.path.parent.name}: {importance_label(self.mode, 'importance mode unknown')}"


def _recorded(info: Mapping[str, Any]) -> tuple[dict[str, Any], Sequence[Any]]:
    """The recorded settings in a run's ``run.json`` (its scenario's ``record_settings``)."""
    from xr_codec_marl.core.registry import find_scenario

    scenario = find_scenario(str(info.get("env", ""))) if info.get("env") else None
    if scenario is None:
        return {}, ()
    return ({k: info[k] for k in scenario.record_settings if info.get(k) is not None},
            tuple(scenario.sweep_axes))


def read_importance_log(path: str | Path) -> ImportanceLog:
    """Read a learner's training CSV log (``<run>/log.csv`` of ``xr-marl train``).

    Needs: an x column (first found of ``episode``, ``episodes``, ``ep``, ``env_steps``,
    ``t_env``, ``step``) and one ``l_<component>`` column per reward component (also accepted:
    ``l/<c>``, ``importance_<c>``; ``l_batch_<c>`` columns are ignored). Rows without
    importance values are dropped. The importance mode (``"variance"``/``"mean"``), algorithm
    and recorded settings come from an ``importance`` column or the ``run.json``/``config.json`` beside the
    log (``{"env", "algo", <recorded settings>, "config": {"importance"}}``) when present.
    Raises ``ValueError`` naming what is missing.
    """
    path = Path(path)
    log = pd.read_csv(path)
    xcol = next((c for c in _EPISODE_COLUMNS if c in log.columns), None)
    lcols = {c: m.group("comp") for c in log.columns
             if (m := _L_PATTERN.match(str(c))) and not m.group("comp").startswith("batch_")}  # fmt: skip
    if xcol is None or not lcols:
        raise ValueError(
            f"{path}: need an episode column (one of {', '.join(_EPISODE_COLUMNS)}) and "
            f"importance columns l_<component> (MHA runs only); found columns {list(log.columns)}"
        )
    info: dict = {}
    for name in ("run.json", "config.json"):
        side = path.parent / name
        if side.is_file():
            try:
                info = json.loads(side.read_text())
            except json.JSONDecodeError:
                info = {}
            break
    cfg = info.get("config", info) if isinstance(info, dict) else {}
    mode = cfg.get("importance") if isinstance(cfg, dict) else None
    if "importance" in log.columns and log["importance"].notna().any():
        mode = str(log["importance"].dropna().iloc[0])
    settings, axes = _recorded(info) if isinstance(info, dict) else ({}, ())
    long = log[[xcol, *lcols]].rename(columns={xcol: "episode", **lcols})
    long = long.melt(id_vars="episode", var_name="component", value_name="l").dropna()
    if long.empty:  # e.g. a run that failed before its first episode ended
        raise ValueError(f"{path}: no rows with importance values (the run logged no episode)")
    return ImportanceLog(long.reset_index(drop=True), mode, info.get("algo"), settings, path,
                         axes)  # fmt: skip


def importance_label(mode: str | None, fallback: str) -> str:
    """Description of a run's importance mode (eq. 35 = with variance, eq. 36 = without)."""
    if mode == "variance":
        return "with variance term (eq. 35)"
    if mode == "mean":
        return "without variance term (eq. 36)"
    return fallback


# ----------------------------------------------------------------------------- the report
def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def plot_learning_curves(run_dirs: dict[str, Path], path: Path,
                         step_s: float | None = None) -> Path | None:
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
    ax.set_xlabel("environment windows" + (f" ({step_s:g} s each)" if step_s else ""))
    ax.set_ylabel("episode return (sum of components)")
    ax.set_title("Training curves (rolling mean)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _cmp_html(cmp: pd.DataFrame, kpis: Sequence[KpiSpec], group: Sequence[str],
              point: object) -> str:
    rows = table4_rows(cmp, kpis, group, point)
    if not rows:
        return "<p>no comparison</p>"
    head = "<tr><th>policy</th>" + "".join(
        f"<th>{html.escape(k.key)} {arrow(k)}</th>" for k in kpis) + "</tr>"
    body = []
    for policy, cells in rows:
        tds = []
        for r in cells:
            if r is None:
                tds.append("<td>–</td>")
                continue
            cls = "good" if r.better else "bad" if r.worse else ""
            tds.append(f"<td class='{cls}'>{r.gain_pct:+.1f} {r.unit} "
                       f"<small>[{r.gain_lo:+.1f}, {r.gain_hi:+.1f}]</small></td>")
        body.append(f"<tr><th>{html.escape(policy)}</th>{''.join(tds)}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _failures_html(failures: dict[str, str]) -> str:
    items = "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>"
                    for k, v in sorted(failures.items()))
    return (f"<h2 class='bad'>Failed cells ({len(failures)})</h2><p>These cells produced no "
            f"results and are missing from every table below; rerun the same command to retry "
            f"them.</p><ul>{items}</ul>")


def _kpi_legend(kpis: Sequence[KpiSpec]) -> str:
    items = "".join(
        f"<li><code>{html.escape(k.key)}</code>: {html.escape(k.title)}"
        f"{' — ' + ('higher' if k.sign > 0 else 'lower') + ' is better' if k.sign else ''}</li>"
        for k in kpis)
    return f"<ul>{items}</ul>"


def build_sweep_report(
    out: str | Path, rows: pd.DataFrame, meta: dict[str, Any], reference: str | None = None,
    run_dirs: dict[str, Path] | None = None, failures: dict[str, str] | None = None,
    spec: EnvSpec | None = None, axes: Sequence[Any] = (),
) -> Path:
    """Write ``report.html``, ``table4.md`` and ``comparison.csv`` into ``out``.

    ``spec`` gives the KPI declarations (without it, the numeric KPI columns of ``rows`` are
    compared as plain KPIs) and ``axes`` the swept axes (their setting columns group the
    rows). ``reference`` defaults to the first policy of the rows. ``failures`` (cell key ->
    one-line error) are listed at the top; with no rows at all the report still says what
    failed, so a broken sweep never ends without a report.
    """
    from xr_codec_marl.core.registry import find_scenario

    out = Path(out)
    figdir = out / "figures"
    failures = failures or {}
    axes = list(axes)
    group = [a.setting for a in axes if a.setting in rows.columns]
    declared = tuple(spec.kpis) if spec is not None else infer_kpis(rows, group)
    present = tuple(k for k in declared if k.key in rows.columns)
    compared = headline(present)
    if reference is None and not rows.empty:
        reference = str(rows["policy"].iloc[0])
    reference = reference or ""
    scenario = find_scenario(str(spec.extra.get("scenario", spec.name))) if spec else None
    figs: list[tuple[str, Path, str]] = []
    if not rows.empty and compared:
        per = " × ".join(a.name.replace("_", " ") for a in axes if a.setting in group)
        figs.append((f"KPIs{' per ' + per if per else ''} (Fig. 14 style)",
                     plot_kpis(rows, figdir / "kpis.png", reference=reference, panels=compared,
                                 group=group, axes=axes),
                     "Mean over episodes (agents combined per episode) with 95 % CIs."))
    run_dirs = run_dirs or {}
    curve = plot_learning_curves(run_dirs, figdir / "learning_curves.png",
                                 spec.step_interval_s if spec is not None else None)
    if curve:
        figs.append(("Learning curves", curve, "Return per training episode, rolling mean."))
    logs = {}
    for name, d in run_dirs.items():
        log = d / "log.csv"
        if log.is_file() and any(c.startswith("l_") for c in pd.read_csv(log, nrows=0).columns):
            try:
                logs[name] = read_importance_log(log).table
            except ValueError:  # a run that logged no episode (e.g. it failed): nothing to plot
                continue
    if logs:
        figs.append(("MHA importance weights over training",
                     plot_importance_weights(logs, figdir / "importance.png"),
                     "l_c = softmax(mean_c + sinh(std_c)) per episode (eq. 35)."))
    env = meta.get("env") or (scenario.name if scenario is not None else "")
    ref_title = reference.upper()
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>xr-codec-marl sweep report</title><style>{_CSS}</style></head><body>",
        f"<h1>Sweep report{': ' + html.escape(str(env)) if env else ''} — policies vs "
        f"{html.escape(ref_title)}</h1>",
        "<pre>" + html.escape(json.dumps(meta, indent=1, default=str)) + "</pre>",
    ]
    if failures:
        parts.append(_failures_html(failures))
    if rows.empty:
        parts.append("<p class='bad'>No cell produced results.</p></body></html>")
        return write_atomic(out / "report.html", "\n".join(parts))
    rows, compared = with_team_reward(rows, compared)  # the objective beside the KPIs
    has_cmp = bool(compared) and reference in set(rows["policy"]) and rows["policy"].nunique() > 1
    cmp = compare_to_reference(rows, reference, compared, group) if has_cmp else pd.DataFrame()
    point_list = points(rows, group)
    if has_cmp:
        notes = tuple(scenario.report_notes) if scenario is not None else ()
        parts.append(f"<h2>Gain vs {html.escape(ref_title)} (Table IV style)</h2>")
        parts.append("<p>Gain in % (positive = better: ↑ KPIs higher, ↓ KPIs lower; a KPI "
                     "without a better direction shows its plain % change); bracket = 95 % "
                     "paired-bootstrap CI of the gain; green/red = significantly better/worse."
                     + "".join(" " + html.escape(n) for n in notes) + "</p>")
        parts.append(_kpi_legend(compared))
        for point in [*point_list, ALL]:
            label = (pooled_title(group, axes) if point == ALL
                     else point_title(dict(zip(group, point, strict=True)), axes, short=True))
            if group:
                parts.append(f"<h3>{html.escape(label)}</h3>")
            parts.append(_cmp_html(cmp, compared, group, point))
            if not group:
                break
    for title, path, caption in figs:
        parts.append(f"<h2>{html.escape(title)}</h2><figure>{_img(path, title)}"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    agent_kpis = [k.key for k in present if k.scope == "agent"]
    if agent_kpis:
        per_agent = (rows.groupby([*group, "policy", "agent"], sort=False)[agent_kpis]
                     .mean().round(4).reset_index())
        parts.append("<h2>Per-agent KPI means</h2>" + per_agent.to_html(index=False, border=0))
    global_kpis = [k.key for k in present if k.scope == "global"]
    if global_kpis:
        per_ep = rows.groupby([*group, "policy", "seed", "episode"], sort=False)[global_kpis].mean()
        glob = per_ep.groupby([*group, "policy"], sort=False).mean().round(4).reset_index()
        parts.append("<h2>Global KPI means</h2>" + glob.to_html(index=False, border=0))
    parts.append("</body></html>")
    path = write_atomic(out / "report.html", "\n".join(parts))
    if has_cmp:
        md = ["# Gain vs " + ref_title + "\n"]
        for point in [*point_list, ALL]:
            if group:
                label = (pooled_title(group, axes) if point == ALL
                         else point_title(dict(zip(group, point, strict=True)), axes, short=True))
                md.append(f"\n## {label}\n\n")
            else:
                md.append("\n")
            md.append(table4_markdown(cmp, compared, group, point))
            if not group:
                break
        write_atomic(out / "table4.md", "".join(md))
        write_atomic(out / "comparison.csv", cmp.to_csv(index=False))
    return path
