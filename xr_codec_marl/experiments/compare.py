"""Table IV-style comparison: each policy's % change vs a reference policy with 95 % CIs.

Which KPIs are compared, whether higher or lower is better and how per-agent values make the
team value all come from the scenario's KPI declarations (:class:`~xr_codec_marl.core.kpis.
KpiSpec`): the headline KPIs, in declaration order. Results are grouped by the sweep's axis
columns (one group per combination of axis values, plus a pooled ``all`` group).

Episodes are paired: cell (axis values, seed) evaluates every policy on the same evaluation
seeds, so episode e of a policy and episode e of the reference saw the same random draws. The
% change of the mean, 100 (m_p - m_ref) / m_ref, gets a 95 % interval from a paired bootstrap
over episodes (seeded, so tables reproduce). The "gain" is the sign-adjusted change: positive
when the KPI moved the better way (up for ``higher`` KPIs, down for ``lower`` ones); KPIs
without a better direction report their plain change and are never "better" or "worse".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from xr_codec_marl.core.kpis import KpiSpec, headline

#: Columns of a sweep's result rows that are never KPIs.
NON_KPI_COLUMNS = frozenset({
    "policy", "kind", "seed", "episode", "eval_seed", "agent", "backend", "code_version",
    "windows", "episode_limit", "truncation_reason", "env", "algorithm", "reference",
})  # fmt: skip

ALL = "all"


def arrow(kpi: KpiSpec) -> str:
    return {"higher": "↑", "lower": "↓"}.get(kpi.direction, "")


def in_points(kpi: KpiSpec) -> bool:
    """A KPI that is itself a percentage is compared in percentage points (a relative change
    of a rate near 0 %, such as 0.2 % vs 0.05 % rejected, would read as hundreds of %)."""
    return kpi.unit == "%"


def change_unit(kpi: KpiSpec) -> str:
    """``pp`` (percentage points) or ``%`` (relative change): how the comparison reads."""
    return "pp" if in_points(kpi) else "%"


def infer_kpis(rows: pd.DataFrame, exclude: Sequence[str] = ()) -> tuple[KpiSpec, ...]:
    """Plain declarations for the numeric KPI-looking columns of a table without any."""
    skip = NON_KPI_COLUMNS | set(exclude)
    return tuple(KpiSpec(str(c)) for c in rows.columns
                 if c not in skip and not str(c).startswith("reward_")
                 and pd.api.types.is_numeric_dtype(rows[c]))


#: The team reward (the reward components summed, per window), compared beside the KPIs: a
#: policy that wins a KPI by trading away the objective it is trained on shows here.
TEAM_REWARD = KpiSpec("team_reward", "", "higher", "global", True, "Team reward", fmt=".3f")


def with_team_reward(rows: pd.DataFrame,
                     kpis: Sequence[KpiSpec]) -> tuple[pd.DataFrame, tuple[KpiSpec, ...]]:
    """``rows`` with a ``team_reward`` column (the sum of their ``reward_*`` columns) and
    ``kpis`` with its declaration last; unchanged when the rows carry no rewards."""
    parts = [c for c in rows.columns if str(c).startswith("reward_")]
    if not parts or TEAM_REWARD.key in rows.columns:
        return rows, tuple(kpis)
    rows = rows.assign(**{TEAM_REWARD.key: rows[parts].sum(axis=1)})
    return rows, (*kpis, TEAM_REWARD)


def team_table(rows: pd.DataFrame, keys: Sequence[str], kpis: Sequence[KpiSpec]) -> pd.DataFrame:
    """One row per ``keys``: each KPI's agents combined by its declared ``team`` rule.

    Global KPIs are repeated on every agent row, so they are averaged (a no-op)."""
    how = {k.key: ("mean" if k.scope == "global" else k.team) for k in kpis if k.key in rows}
    if not how:
        return rows[list(keys)].drop_duplicates().reset_index(drop=True)
    return rows.groupby(list(keys), sort=False).agg(how).reset_index()


def episode_table(rows: pd.DataFrame, kpis: Sequence[KpiSpec],
                  group: Sequence[str] = ()) -> pd.DataFrame:
    """One row per (policy, axis values, seed, episode): team values of ``kpis``."""
    return team_table(rows, ["policy", *group, "seed", "episode"], kpis)


def pct_change_ci(
    policy_vals: np.ndarray, ref_vals: np.ndarray, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """% change of the mean vs the reference and its paired-bootstrap 95 % interval."""
    p, r = np.asarray(policy_vals, float), np.asarray(ref_vals, float)
    ref_mean = r.mean()
    if ref_mean == 0:
        return (0.0 if p.mean() == 0 else np.inf), np.nan, np.nan
    change = 100.0 * (p.mean() - ref_mean) / ref_mean
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(p), size=(n_boot, len(p)))
    pm, rm = p[idx].mean(1), r[idx].mean(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        boots = 100.0 * (pm - rm) / rm
    boots = boots[np.isfinite(boots)]
    if len(boots) == 0:
        return change, np.nan, np.nan
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return float(change), float(lo), float(hi)


def diff_ci(policy_vals: np.ndarray, ref_vals: np.ndarray, n_boot: int = 2000,
            seed: int = 0) -> tuple[float, float, float]:
    """Difference of the means (policy − reference) and its paired-bootstrap 95 % interval."""
    p, r = np.asarray(policy_vals, float), np.asarray(ref_vals, float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(p), size=(n_boot, len(p)))
    boots = p[idx].mean(1) - r[idx].mean(1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return float(p.mean() - r.mean()), float(lo), float(hi)


def points(rows: pd.DataFrame, group: Sequence[str]) -> list[tuple[Any, ...]]:
    """The distinct combinations of the axis columns ``group``, sorted."""
    if not group:
        return []
    return sorted({tuple(r) for r in rows[list(group)].itertuples(index=False, name=None)})


def compare_to_reference(rows: pd.DataFrame, reference: str, kpis: Sequence[KpiSpec],
                         group: Sequence[str] = ()) -> pd.DataFrame:
    """Per (axis values, policy, KPI): means, the change vs the reference with CI, and the gain.

    The change is relative (%) except for KPIs that are percentages themselves, whose change is
    in percentage points (:func:`in_points`; column ``unit``).

    ``kpis`` are the compared KPIs (usually the headline ones); ``group`` the axis columns.
    Includes an ``all`` row per policy (``all`` in every axis column): the change of the mean
    over every axis point's episodes (the "average gain" reading).
    """
    group = [g for g in group if g in rows.columns]
    kpis = [k for k in kpis if k.key in rows.columns]
    ep = episode_table(rows, kpis, group)
    if reference not in set(ep["policy"]):
        raise ValueError(f"reference policy {reference!r} is not in the results")
    pair = [*group, "seed", "episode"]
    out = []
    for point in [*points(ep, group), ALL]:
        if point == ALL:
            sub, where = ep, {g: ALL for g in group}
        else:
            mask = np.logical_and.reduce([ep[g] == v for g, v in zip(group, point, strict=True)])
            sub, where = ep[mask], dict(zip(group, point, strict=True))
        ref = sub[sub["policy"] == reference].set_index(pair)
        for policy in sub["policy"].unique():
            if policy == reference:
                continue
            pol = sub[sub["policy"] == policy].set_index(pair)
            common = pol.index.intersection(ref.index)
            if len(common) == 0:
                continue
            for kpi in kpis:
                sign = kpi.sign or 1.0  # no better direction: the plain change
                pv, rv = pol.loc[common, kpi.key].to_numpy(), ref.loc[common, kpi.key].to_numpy()
                change, lo, hi = (diff_ci if in_points(kpi) else pct_change_ci)(pv, rv)
                glo, ghi = min(sign * lo, sign * hi), max(sign * lo, sign * hi)
                out.append({
                    **where, "policy": policy, "kpi": kpi.key, "episodes": len(common),
                    "mean": float(pv.mean()), "ref_mean": float(rv.mean()),
                    "change_pct": change, "ci_lo": lo, "ci_hi": hi, "unit": change_unit(kpi),
                    "gain_pct": sign * change, "gain_lo": glo, "gain_hi": ghi,
                    "better": bool(kpi.sign != 0 and glo > 0),
                    "worse": bool(kpi.sign != 0 and ghi < 0),
                })
    return pd.DataFrame(out)


def _select(cmp: pd.DataFrame, group: Sequence[str], point: object) -> pd.DataFrame:
    if cmp.empty:
        return cmp
    values = [ALL] * len(group) if point == ALL else (
        list(point) if isinstance(point, tuple) else [point])
    mask = np.ones(len(cmp), bool)
    for g, v in zip(group, values, strict=True):
        mask &= (cmp[g].astype(str) == str(v)).to_numpy()
    return cmp[mask]


def table4_rows(cmp: pd.DataFrame, kpis: Sequence[KpiSpec], group: Sequence[str] = (),
                point: object = ALL) -> list[tuple[str, list[Any]]]:
    """Per policy, the comparison row of each KPI at ``point`` (None where missing).

    ``point`` is ``"all"``, one axis value (one axis) or a tuple of values (one per axis)."""
    sub = _select(cmp, [g for g in group if g in cmp.columns], point)
    out = []
    for policy, grp in sub.groupby("policy", sort=False):
        by_kpi = {r.kpi: r for r in grp.itertuples(index=False)}
        out.append((str(policy), [by_kpi.get(k.key) for k in kpis]))
    return out


def table4_markdown(cmp: pd.DataFrame, kpis: Sequence[KpiSpec], group: Sequence[str] = (),
                    point: object = ALL) -> str:
    """Markdown Table IV: gain vs the reference (positive = better) with its 95 % CI, in %
    (relative) or, for percentage KPIs, percentage points (pp)."""
    head = "| policy | " + " | ".join(
        f"{k.key} {arrow(k)} {change_unit(k)}".replace("  ", " ") for k in kpis) + " |\n"
    head += "|---|" + "---:|" * len(kpis) + "\n"
    lines = [
        f"| {policy} | " + " | ".join(
            "–" if r is None else f"{r.gain_pct:+.1f} [{r.gain_lo:+.1f}, {r.gain_hi:+.1f}]"
            for r in rows) + " |"
        for policy, rows in table4_rows(cmp, kpis, group, point)
    ]
    return head + "\n".join(lines) + "\n"


# ------------------------------------------------------------------------- axis labels
def axis_of(setting: str, axes: Sequence[Any]) -> Any:
    """The sweep axis (:class:`~xr_codec_marl.core.scenario.SweepAxis`) of a setting column."""
    return next((a for a in axes if a.setting == setting), None)


def value_text(value: Any, axis: Any = None, sep: str = " ") -> str:
    """An axis value for people: ``400 m`` (with the axis' unit), ``b``."""
    text = f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)
    return f"{text}{sep}{axis.unit}" if axis is not None and axis.unit else text


def axis_name(setting: str, axes: Sequence[Any]) -> str:
    """Short name of a setting column's axis: the axis name, capitalised (``Speed``)."""
    axis = axis_of(setting, axes)
    return axis.name.replace("_", " ").capitalize() if axis is not None else setting


def point_title(point: dict[str, Any], axes: Sequence[Any], short: bool = False) -> str:
    """One axis point for headings: ``Variant b``, ``Radius 400 m`` (``short``: values
    with units only, ``400 m``)."""
    parts = []
    for setting, value in point.items():
        axis = axis_of(setting, axes)
        text = value_text(value, axis)
        parts.append(text if short and axis is not None and axis.unit else
                     f"{axis_name(setting, axes)} {text}")
    return ", ".join(parts)


def pooled_title(group: Sequence[str], axes: Sequence[Any]) -> str:
    """Heading of the pooled ``all`` group: ``all speeds`` for one axis named ``speed``."""
    if len(group) == 1:
        axis = axis_of(group[0], axes)
        if axis is None:
            return f"all {group[0]}"
        name = axis.name.replace('_', ' ')
        return f"all {name}" if name.endswith("s") else f"all {name}s"
    return "all points"


def setting_columns(table: pd.DataFrame) -> list[str]:
    """The settings columns of an explanation or KPI table (those between ``backend`` and
    ``seed``, where :mod:`xr_codec_marl.explain.framework` puts them)."""
    cols = [str(col) for col in table.columns]
    if "backend" not in cols or "seed" not in cols:
        return []
    i, j = cols.index("backend"), cols.index("seed")
    return cols[i + 1:j] if i < j else []
