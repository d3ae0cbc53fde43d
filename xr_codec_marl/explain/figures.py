"""The paper's explanation and KPI figures (seed 002 Figs. 7–14) as PNG files (matplotlib Agg).

Inputs are the tidy tables of :mod:`xr_codec_marl.explain.framework` (explanations and KPIs)
and the learners' training CSV logs (importance weights). Each ``plot_*`` function writes one
PNG and returns its path. Layout of Figs. 7–11: one row per agent (in the spec's order), one
column per point of the run's settings (e.g. each explained sweep-axis value), grouped bars per
algorithm with one bar per reward component.

The KPI bars (Fig. 14), the importance-weight plot (Figs. 12–13), its log reader and the
colour helpers live in :mod:`xr_codec_marl.experiments.report` (the sweep report draws them
too) and are re-exported here. Nothing here knows a scenario: components are coloured from a
default cycle (in their order), labelled by the reward declarations when given; agents by the
scenario's ``agent_colours`` (by id, then kind) falling back to the cycle; KPI panels are the
headline KPI declarations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from xr_codec_marl.experiments.compare import point_title, setting_columns
from xr_codec_marl.experiments.report import (  # noqa: F401  (re-exported: the figure toolkit)
    CYCLE, DPI, EMPTY, EMPTY_COLOUR, REFERENCE_COLOUR, ImportanceLog, _hex, _legend, _mask,
    _points, _save, component_colours, component_labels, importance_label, kpi_panels,
    kpi_summary, plot_importance_weights, plot_kpis, read_importance_log,
)

#: What each comparison compares the chosen action with (for titles and captions).
COMPARISONS = {"inc": "the next higher action", "dec": "the next lower action",
               "alt": "its strongest alternative"}  # fmt: skip


def agent_colours(spec: Any, palette: Mapping[str, str] | None = None,
                  cycle: bool = True) -> dict[str, str]:
    """Colour per agent id: ``palette`` by agent id, then by agent kind, else (``cycle``) the
    default cycle; without ``cycle`` agents the palette does not name are left out."""
    palette = palette or {}
    out = {}
    for i, a in enumerate(spec.agents):
        colour = palette.get(a.agent_id) or palette.get(a.kind)
        if colour or cycle:
            out[a.agent_id] = colour or _hex(CYCLE[i % len(CYCLE)])
    return out


@dataclass
class Style:
    """What the figures name and colour: the settings columns and their sweep axes, component
    labels and agent colours for the agent panels' titles (all optional: plain names, the
    default component cycle and black titles otherwise)."""

    group: Sequence[str] | None = None
    axes: Sequence[Any] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    agent_colours: Mapping[str, str] = field(default_factory=dict)

    def settings(self, table: pd.DataFrame) -> list[str]:
        group = setting_columns(table) if self.group is None else self.group
        return [g for g in group if g in table.columns]


# ----------------------------------------------------------------------------- aggregation
def _comparisons(table: pd.DataFrame) -> list[str]:
    """The comparisons a table carries: inc and dec (when any agent has them), alt."""
    out = []
    if "msx_plus_inc_size" in table and table["msx_plus_inc_size"].notna().any():
        out += ["inc", "dec"]
    if "msx_plus_alt_size" in table:
        out.append("alt")
    return out


def aggregate_explanations(table: pd.DataFrame, group: Sequence[str] | None = None) -> pd.DataFrame:
    """Means per (algorithm, settings, agent, component) of Q, RDFX, RDX and MSX membership.

    ``msx_*`` columns become the share of windows (0–1) in which the component is in the set
    (over the windows where the comparison exists). ``group`` are the settings columns
    (default: the table's)."""
    group = setting_columns(table) if group is None else list(group)
    keys = ["algorithm", *group, "agent", "component"]
    cols = ["q_chosen", "rdfx_inc", "rdfx_dec", "msx_plus_inc", "msx_plus_dec",
            "msx_minus_inc", "msx_minus_dec"]  # fmt: skip
    cols += [c for c in ("rdx_alt", "msx_plus_alt", "msx_minus_alt") if c in table]
    data = table[keys + cols].copy()
    for c in cols:
        data[c] = data[c].astype(np.float64)
    agg = data.groupby(keys, sort=False)[cols].mean().reset_index()
    agg["windows"] = table.groupby(keys, sort=False).size().to_numpy()
    return agg


def msx_set_sizes(table: pd.DataFrame, group: Sequence[str] | None = None) -> pd.DataFrame:
    """Per (algorithm, settings, agent): share of windows with MSX+ empty / single / larger for
    each comparison (inc/dec where the agent's actions are ordered, NaN otherwise; alt).

    Computed on one row per window (the set sizes repeat over the component rows).
    """
    group = setting_columns(table) if group is None else list(group)
    keys = ["algorithm", *group, "agent"]
    first = table["component"] == table["component"].iloc[0]
    steps = table[first]
    out = []
    for key, grp in steps.groupby(keys, sort=False):
        row = dict(zip(keys, key, strict=True))
        for f in _comparisons(table):
            size = grp[f"msx_plus_{f}_size"].dropna()
            minus = grp[f"msx_minus_{f}_size"].dropna()
            if len(size):
                row[f"plus_{f}_empty"] = float((size == 0).mean())
                row[f"plus_{f}_single"] = float((size == 1).mean())
                row[f"minus_{f}_empty"] = float((minus == 0).mean())
            else:
                row[f"plus_{f}_empty"] = row[f"plus_{f}_single"] = np.nan
                row[f"minus_{f}_empty"] = np.nan
        row["windows"] = len(grp)
        out.append(row)
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------------- plots
def _grid(agg: pd.DataFrame, title: str, group: Sequence[str]):
    agents = list(dict.fromkeys(agg["agent"]))
    pts = _points(agg, group)
    algos = list(dict.fromkeys(agg["algorithm"]))
    fig, axes = plt.subplots(len(agents), len(pts), squeeze=False, sharey="row",
                             figsize=(max(4.2, 1.4 + 1.3 * len(algos)) * len(pts),
                                      2.6 * len(agents) + 0.8))  # fmt: skip
    fig.suptitle(title, fontsize=12)
    return fig, axes, agents, pts, algos


def plot_component_bars(
    agg: pd.DataFrame, value: str, ylabel: str, title: str, path: str | Path,
    zero_line: bool = True, style: Style | None = None,
) -> Path:
    """Grouped bars of ``agg[value]`` per component for each algorithm; agent rows × settings
    columns."""
    style = style or Style()
    group = style.settings(agg)
    fig, axes, agents, pts, algos = _grid(agg, title, group)
    comps = [c for c in dict.fromkeys(agg["component"]) if c != EMPTY]
    comps += [EMPTY] if EMPTY in set(agg["component"]) else []
    colours = component_colours([c for c in comps if c != EMPTY])
    labels = component_labels([c for c in comps if c != EMPTY], style.labels)
    width = 0.8 / len(comps)
    x = np.arange(len(algos))
    for i, agent in enumerate(agents):
        for j, point in enumerate(pts):
            ax = axes[i, j]
            sub = agg[(agg.agent == agent).to_numpy() & _mask(agg, group, point)]
            for k, comp in enumerate(comps):
                vals = [sub.loc[(sub.algorithm == a) & (sub.component == comp), value].mean()
                        for a in algos]  # fmt: skip
                ax.bar(x + (k - (len(comps) - 1) / 2) * width, vals, width,
                       color=colours.get(comp), label=labels.get(comp, comp))  # fmt: skip
            if zero_line:
                ax.axhline(0, color="black", lw=0.6)
            ax.set_xticks(x, [a.upper() for a in algos], rotation=20 if len(algos) > 3 else 0)
            where = point_title(dict(zip(group, point, strict=True)), style.axes)
            ax.set_title(f"{agent} agent" + (f", {where}" if where else ""),
                         color=style.agent_colours.get(agent, "black"))
            ax.grid(axis="y", alpha=0.3)
            if j == 0:
                ax.set_ylabel(ylabel)
    _legend(fig, axes)
    return _save(fig, path)


def plot_msx_frequency(table: pd.DataFrame, fluct: str, path: str | Path,
                       style: Style | None = None) -> Path:
    """Figs. 10–11: share of windows in which each component is in MSX+ (and MSX+ = ∅), in %.

    ``fluct`` is ``inc``, ``dec`` (ordered action spaces) or ``alt`` (any discrete space)."""
    style = style or Style()
    group = style.settings(table)
    agg = aggregate_explanations(table, group)
    sizes = msx_set_sizes(table, group)
    col = f"msx_plus_{fluct}"
    keys = ["algorithm", *group, "agent", "component", col]
    empty = sizes.assign(component=EMPTY, **{col: sizes[f"plus_{fluct}_empty"]})
    data = pd.concat([agg[keys], empty[keys]])
    data[col] = 100.0 * data[col]
    return plot_component_bars(
        data, col, "windows with c ∈ MSX+ (%)",
        f"MSX+ ('{fluct}'): components needed to prefer the chosen action over "
        f"{COMPARISONS[fluct]}", path, zero_line=False, style=style,
    )


