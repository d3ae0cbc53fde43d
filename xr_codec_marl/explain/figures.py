"""The paper's explanation and KPI figures (seed 002 Figs. 7–14) as PNG files (matplotlib Agg).

Inputs are the tidy tables of :mod:`xr_codec_marl.explain.framework` (explanations and KPIs)
and the learners' training CSV logs (importance weights). Each ``plot_*`` function writes one
PNG and returns its path. Layout of Figs. 7–11: one row per agent (AR/VR/CG), one column per
ring, grouped bars per algorithm with one bar per reward component.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

AGENT_ORDER = ("AR", "VR", "CG")
COMPONENT_COLOURS = {"delay": "#1f77b4", "pdr": "#ff7f0e", "drr": "#2ca02c"}
EMPTY = "∅"
COMPONENT_COLOURS[EMPTY] = "#b0b0b0"
COMPONENT_LABELS = {"delay": "delay (r₁)", "pdr": "PDR (r₂)", "drr": "DRR (r₃)", EMPTY: "MSX+ = ∅"}
DPI = 110

plt.rcParams.update({"font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10,
                     "legend.fontsize": 9, "figure.dpi": DPI})  # fmt: skip


# ----------------------------------------------------------------------------- aggregation
def aggregate_explanations(table: pd.DataFrame) -> pd.DataFrame:
    """Means per (algorithm, ring_m, agent, component) of Q, RDFX and MSX membership.

    ``msx_*`` columns become the share of windows (0–1) in which the component is in the set.
    """
    keys = ["algorithm", "ring_m", "agent", "component"]
    cols = ["q_chosen", "rdfx_inc", "rdfx_dec", "msx_plus_inc", "msx_plus_dec",
            "msx_minus_inc", "msx_minus_dec"]  # fmt: skip
    agg = table.groupby(keys, sort=False)[cols].mean().reset_index()
    agg["windows"] = table.groupby(keys, sort=False).size().to_numpy()
    return agg


def msx_set_sizes(table: pd.DataFrame) -> pd.DataFrame:
    """Per (algorithm, ring_m, agent): share of windows with MSX+ empty / single / larger, inc and dec.

    Computed on one row per window (the set sizes repeat over the component rows).
    """
    first = table["component"] == table["component"].iloc[0]
    steps = table[first]
    out = []
    for key, grp in steps.groupby(["algorithm", "ring_m", "agent"], sort=False):
        row = dict(zip(["algorithm", "ring_m", "agent"], key, strict=True))
        for f in ("inc", "dec"):
            size = grp[f"msx_plus_{f}_size"]
            row[f"plus_{f}_empty"] = float((size == 0).mean())
            row[f"plus_{f}_single"] = float((size == 1).mean())
            row[f"minus_{f}_empty"] = float((grp[f"msx_minus_{f}_size"] == 0).mean())
        row["windows"] = len(grp)
        out.append(row)
    return pd.DataFrame(out)


def _ordered(values: Sequence[object], preferred: Sequence[object]) -> list:
    vals = list(dict.fromkeys(values))
    return [v for v in preferred if v in vals] + [v for v in vals if v not in preferred]


# ---------------------------------------------------------------------------------- plots
def _grid(agg: pd.DataFrame, title: str) -> tuple[plt.Figure, np.ndarray, list, list, list]:
    agents = _ordered(agg["agent"], AGENT_ORDER)
    rings = sorted(agg["ring_m"].unique())
    algos = list(dict.fromkeys(agg["algorithm"]))
    fig, axes = plt.subplots(len(agents), len(rings), squeeze=False, sharey="row",
                             figsize=(max(4.2, 1.4 + 1.3 * len(algos)) * len(rings),
                                      2.6 * len(agents) + 0.8))  # fmt: skip
    fig.suptitle(title, fontsize=12)
    return fig, axes, agents, rings, algos


def plot_component_bars(
    agg: pd.DataFrame, value: str, ylabel: str, title: str, path: str | Path, zero_line: bool = True
) -> Path:
    """Grouped bars of ``agg[value]`` per component for each algorithm; agent rows × ring columns."""
    fig, axes, agents, rings, algos = _grid(agg, title)
    comps = _ordered(agg["component"], tuple(COMPONENT_COLOURS))
    width = 0.8 / len(comps)
    x = np.arange(len(algos))
    for i, agent in enumerate(agents):
        for j, ring in enumerate(rings):
            ax = axes[i, j]
            sub = agg[(agg.agent == agent) & (agg.ring_m == ring)]
            for k, comp in enumerate(comps):
                vals = [sub.loc[(sub.algorithm == a) & (sub.component == comp), value].mean()
                        for a in algos]  # fmt: skip
                ax.bar(x + (k - (len(comps) - 1) / 2) * width, vals, width,
                       color=COMPONENT_COLOURS.get(comp), label=COMPONENT_LABELS.get(comp, comp))  # fmt: skip
            if zero_line:
                ax.axhline(0, color="black", lw=0.6)
            ax.set_xticks(x, [a.upper() for a in algos], rotation=20 if len(algos) > 3 else 0)
            ax.set_title(f"{agent} agent, ring {ring:g} m")
            ax.grid(axis="y", alpha=0.3)
            if j == 0:
                ax.set_ylabel(ylabel)
    _legend(fig, axes)
    return _save(fig, path)


def plot_msx_frequency(table: pd.DataFrame, fluct: str, path: str | Path) -> Path:
    """Figs. 10–11: share of windows in which each component is in MSX+ (and MSX+ = ∅), in %."""
    agg = aggregate_explanations(table)
    sizes = msx_set_sizes(table)
    col = f"msx_plus_{fluct}"
    empty = sizes.assign(component=EMPTY, **{col: sizes[f"plus_{fluct}_empty"]})
    data = pd.concat([agg[["algorithm", "ring_m", "agent", "component", col]],
                      empty[["algorithm", "ring_m", "agent", "component", col]]])  # fmt: skip
    data[col] = 100.0 * data[col]
    direction = "higher" if fluct == "inc" else "lower"
    return plot_component_bars(
        data,
        col,
        "windows with c ∈ MSX+ (%)",
        f"MSX+ ('{fluct}'): components needed to prefer the chosen rate over the next {direction} one",
        path,
        zero_line=False,
    )


def plot_importance_weights(logs: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """Figs. 12–13: importance weights l_c over training episodes, one panel per run label.

    Thin lines are the per-episode values, thick lines a centred rolling mean over ~2 % of the
    run (at least 5 episodes) so trends stay visible when the log has one row per env copy.
    """
    fig, axes = plt.subplots(
        1, len(logs), squeeze=False, sharey=True, figsize=(max(7.0, 5.2 * len(logs)), 3.8)
    )
    for ax, (label, log) in zip(axes[0], logs.items(), strict=True):
        for comp in log["component"].unique():
            part = log[log.component == comp].sort_values("episode")
            colour = COMPONENT_COLOURS.get(comp)
            window = max(5, len(part) // 50)
            smooth = part["l"].rolling(window, center=True, min_periods=1).mean()
            ax.plot(part["episode"], part["l"], lw=0.5, alpha=0.35, color=colour)
            ax.plot(part["episode"], smooth, lw=1.8, color=colour,
                    label=f"l for {COMPONENT_LABELS.get(comp, comp)}")  # fmt: skip
        ax.set_title(label)
        ax.set_xlabel("training episode")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("importance weight l_c (–)")
    fig.suptitle("MHA importance weights l_c during training", fontsize=12)
    _legend(fig, axes)
    return _save(fig, path)


KPI_PANELS = (
    ("xr_index", "XR quality index (1–5)", 1.0),
    ("jitter_ms", "jitter (ms)", 1.0),
    ("delay_ms", "delay (ms)", 1.0),
    ("plr", "packet loss ratio (%)", 100.0),
)


def kpi_summary(kpis: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95 % CI (normal approx.) per (policy, ring_m, KPI) over runs.

    A run is one (seed, episode, env) if those columns exist; agents are averaged within a run
    first, as the paper reports one value per algorithm and ring.
    """
    run_keys = [k for k in ("policy", "ring_m", "seed", "episode", "env") if k in kpis.columns]
    per_run = kpis.groupby(run_keys)[[k for k, _, _ in KPI_PANELS]].mean().reset_index()
    rows = []
    for (policy, ring), grp in per_run.groupby(["policy", "ring_m"], sort=False):
        for kpi, _, scale in KPI_PANELS:
            v = grp[kpi].to_numpy(float) * scale
            half = 1.96 * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0
            rows.append({"policy": policy, "ring_m": ring, "kpi": kpi, "mean": v.mean(),
                         "ci95": half, "runs": len(v)})  # fmt: skip
    return pd.DataFrame(rows)


def plot_kpis(kpis: pd.DataFrame, path: str | Path, reference: str = "aps") -> Path:
    """Fig. 14: XR index, jitter, delay and PLR per ring for every policy vs the reference."""
    summ = kpi_summary(kpis)
    policies = _ordered(summ["policy"], (reference,))
    rings = sorted(summ["ring_m"].unique())
    fig, axes = plt.subplots(
        1, len(KPI_PANELS), figsize=(4.0 * len(KPI_PANELS), 3.8), squeeze=False
    )
    width = 0.8 / len(policies)
    x = np.arange(len(rings))
    cmap = plt.get_cmap("tab10")
    for ax, (kpi, label, _) in zip(axes[0], KPI_PANELS, strict=True):
        for k, pol in enumerate(policies):
            sub = summ[(summ.policy == pol) & (summ.kpi == kpi)].set_index("ring_m").reindex(rings)
            ax.bar(x + (k - (len(policies) - 1) / 2) * width, sub["mean"], width,
                   yerr=sub["ci95"], capsize=2, label=str(pol).upper(),
                   color="#7f7f7f" if pol == reference else cmap(k % 10))  # fmt: skip
        ax.set_xticks(x, [f"{r:g} m" for r in rings])
        ax.set_xlabel("ring radius")
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(
        f"Network KPIs per ring vs {reference.upper()} (mean ± 95 % CI over runs)", fontsize=12
    )
    _legend(fig, axes)
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
    ring_m: float | None
    path: Path

    def label(self) -> str:
        """Panel title: algorithm, ring and which importance equation the run used."""
        head = " ".join(x for x in (self.algo.upper() if self.algo else "",
                                    f"{self.ring_m:g} m" if self.ring_m else "") if x)  # fmt: skip
        return f"{head or self.path.parent.name}: {importance_label(self.mode, 'importance mode unknown')}"


def read_importance_log(path: str | Path) -> ImportanceLog:
    """Read a learner's training CSV log (``<run>/log.csv`` of ``xr-marl train``).

    Needs: an x column (first found of ``episode``, ``episodes``, ``ep``, ``env_steps``,
    ``t_env``, ``step``) and one ``l_<component>`` column per reward component (also accepted:
    ``l/<c>``, ``importance_<c>``; ``l_batch_<c>`` columns are ignored). Rows without
    importance values are dropped. The importance mode (``"variance"``/``"mean"``), algorithm
    and ring come from an ``importance`` column or the ``run.json``/``config.json`` beside the
    log (``{"algo", "ring_m", "config": {"importance"}}``) when present.
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
    ring = info.get("ring_m") if isinstance(info, dict) else None
    long = log[[xcol, *lcols]].rename(columns={xcol: "episode", **lcols})
    long = long.melt(id_vars="episode", var_name="component", value_name="l").dropna()
    if long.empty:  # e.g. a run that failed before its first episode ended
        raise ValueError(f"{path}: no rows with importance values (the run logged no episode)")
    return ImportanceLog(long.reset_index(drop=True), mode, info.get("algo"),
                         float(ring) if ring is not None else None, path)  # fmt: skip


def importance_label(mode: str | None, fallback: str) -> str:
    """Description of a run's importance mode (eq. 35 = with variance, eq. 36 = without)."""
    if mode == "variance":
        return "with variance term (eq. 35)"
    if mode == "mean":
        return "without variance term (eq. 36)"
    return fallback
