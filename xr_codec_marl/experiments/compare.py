"""Table IV-style comparison: each policy's % change vs a reference (APS) with 95 % CIs.

Episodes are paired: cell (ring, seed) evaluates every policy on the same evaluation seeds,
so episode e of a policy and episode e of APS saw the same placements, shadowing and traffic
draws. The % change of the mean, 100 (m_p - m_ref) / m_ref, gets a 95 % interval from a
paired bootstrap over episodes (seeded, so tables reproduce). The paper's "gain" is the sign-
adjusted change: up for XR index, down for jitter, delay and PLR.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: KPI -> +1 if higher is better, -1 if lower is better (Table IV arrows). Throughput is
#: ours, not the paper's: without it a policy that sends less data "wins" every other column.
TABLE4_KPIS: dict[str, int] = {
    "xr_index": +1, "jitter_ms": -1, "delay_ms": -1, "plr": -1, "throughput_mbps": +1,
}
PAPER_MHA_DQMIX_GAIN = {"xr_index": 10.7, "jitter_ms": 41.4, "delay_ms": 33.3, "plr": 67.9}


def episode_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (policy, ring, seed, episode): KPIs averaged over agents."""
    keys = ["policy", "ring_m", "seed", "episode"]
    cols = [k for k in TABLE4_KPIS if k in rows.columns]
    return rows.groupby(keys, sort=False)[cols].mean().reset_index()


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


def compare_to_reference(rows: pd.DataFrame, reference: str = "aps") -> pd.DataFrame:
    """Per (ring, policy, KPI): means, % change vs the reference with CI, and the gain.

    Includes an ``all`` ring row per policy: the change of the mean over every ring's
    episodes (the paper's "average gain" reading).
    """
    ep = episode_table(rows)
    if reference not in set(ep["policy"]):
        raise ValueError(f"reference policy {reference!r} is not in the results")
    out = []
    for ring in [*sorted(ep["ring_m"].unique()), "all"]:
        sub = ep if ring == "all" else ep[ep["ring_m"] == ring]
        ref = sub[sub["policy"] == reference].set_index(["ring_m", "seed", "episode"])
        for policy in sub["policy"].unique():
            if policy == reference:
                continue
            pol = sub[sub["policy"] == policy].set_index(["ring_m", "seed", "episode"])
            common = pol.index.intersection(ref.index)
            if len(common) == 0:
                continue
            for kpi, sign in TABLE4_KPIS.items():
                pv, rv = pol.loc[common, kpi].to_numpy(), ref.loc[common, kpi].to_numpy()
                change, lo, hi = pct_change_ci(pv, rv)
                out.append({
                    "ring_m": ring, "policy": policy, "kpi": kpi, "episodes": len(common),
                    "mean": float(pv.mean()), "ref_mean": float(rv.mean()),
                    "change_pct": change, "ci_lo": lo, "ci_hi": hi,
                    "gain_pct": sign * change,
                    "gain_lo": min(sign * lo, sign * hi), "gain_hi": max(sign * lo, sign * hi),
                    "better": bool(min(sign * lo, sign * hi) > 0),
                    "worse": bool(max(sign * lo, sign * hi) < 0),
                })
    return pd.DataFrame(out)


def table4_rows(cmp: pd.DataFrame, ring: object = "all") -> list[tuple[str, list[pd.Series | None]]]:
    """Per policy, the comparison row of each Table IV KPI at ``ring`` (None where missing)."""
    sub = cmp[cmp["ring_m"].astype(str) == str(ring)]
    out = []
    for policy, grp in sub.groupby("policy", sort=False):
        by_kpi = {r.kpi: r for r in grp.itertuples(index=False)}
        out.append((str(policy), [by_kpi.get(k) for k in TABLE4_KPIS]))
    return out


def table4_markdown(cmp: pd.DataFrame, ring: object = "all") -> str:
    """Markdown Table IV: gain % vs the reference (positive = better) with its 95 % CI."""
    head = "| policy | " + " | ".join(
        f"{k} {'↑' if s > 0 else '↓'} %" for k, s in TABLE4_KPIS.items()) + " |\n"
    head += "|---|" + "---:|" * len(TABLE4_KPIS) + "\n"
    lines = [
        f"| {policy} | " + " | ".join(
            "–" if r is None else f"{r.gain_pct:+.1f} [{r.gain_lo:+.1f}, {r.gain_hi:+.1f}]"
            for r in rows) + " |"
        for policy, rows in table4_rows(cmp, ring)
    ]
    return head + "\n".join(lines) + "\n"
