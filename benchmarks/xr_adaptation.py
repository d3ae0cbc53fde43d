#!/usr/bin/env python3
"""Issue 14's table: do XR learners beat APS *and* the best constant rate without sending less?

Evaluates learner checkpoints (one per training seed) beside the references on the same
unseen evaluation seeds (common random numbers), on the analytic twin or live ns-3:

- references: APS, APS x1.5, ``best-fixed`` (the constant of highest team reward, tuned on
  the twin of this env on seeds the evaluation never uses), ``sinr-fit`` (channel-aware:
  rates fitted to the last window's SINR by the twin's link model, its eta tuned likewise)
  and ``max``;
- ``--frontier``: the throughput / team-reward trade-off of every constant rate and of
  sinr-fit over a range of eta, i.e. what sending more costs, and whether any of these
  reaches APS's throughput with a better team reward (the corner the bar asks for);
- per policy: team reward, the paper's four KPIs (XR index, jitter, delay, PLR) and
  throughput, mean ± 95 % CI over episodes; paired differences vs APS and vs best-fixed;
- learners: each training seed, and all seeds pooled (every seed's episodes against the
  references' same episodes), the bar's verdict (beats APS and best-fixed on team reward and
  XR index with throughput no lower than APS's, paired CIs), the paper's Table IV gains
  (% vs APS) beside the paper's own, and whether actions follow the state (action entropy,
  off-modal share, Spearman correlation of the rate with the last window's SINR and buffer).

Writes ``benchmarks/results/xr_adaptation_<tag>.{json,md}``.

    python benchmarks/xr_adaptation.py --tag twin-ch --backend analytic --profile ns3-nr \\
        --set observation=channel --learner mha-dqmix=runs/s0,runs/s1,runs/s2
    python benchmarks/xr_adaptation.py --tag nr-ch --backend ns3 --ran nr --workers 2 \\
        --episodes 6 --set observation=channel --learner mha-dqmix=runs/s0,runs/s1,runs/s2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xr_codec_marl.baselines import make_policy  # noqa: E402
from xr_codec_marl.env.factory import make_env  # noqa: E402
from xr_codec_marl.experiments.evaluation import EvalResult, evaluate_policy  # noqa: E402
from xr_codec_marl.experiments.results import stamp, write_atomic, write_json_atomic  # noqa: E402
from xr_codec_marl.experiments.stats import mean_ci95  # noqa: E402
from xr_codec_marl.scenarios.xr.settings import XRScenario, scenario_field_names  # noqa: E402

OUT = ROOT / "benchmarks" / "results"
RULES = ("aps", "aps-x1.5", "best-fixed", "sinr-fit", "max")
#: The trade-off curves: every constant rate, and the channel-aware rule at these eta.
FRONTIER_ETAS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 0.9, 1.0, 1.1, 1.2)
#: (result key, label, higher is better)
METRICS: tuple[tuple[str, str, bool], ...] = (
    ("team_reward", "team reward", True),
    ("xr_index", "XR index", True),
    ("jitter_ms", "jitter ms", False),
    ("delay_ms", "delay ms", False),
    ("plr", "PLR", False),
    ("throughput_mbps", "throughput Mbps", True),
)
#: The paper's Table IV average gains of MHA-DQMIX over APS (REFERENCE.md §1), %.
PAPER_GAINS = {"xr_index": 10.7, "jitter_ms": -41.4, "delay_ms": -33.3, "plr": -67.9}


def parse_settings(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` scenario settings (XRScenario fields), typed like the field's default."""
    defaults = XRScenario()
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in scenario_field_names() or not _:
            raise SystemExit(f"--set {item!r}: expected FIELD=VALUE with FIELD an XRScenario "
                             "setting")
        kind = type(getattr(defaults, key))
        out[key] = (value.lower() in ("1", "true", "yes")) if kind is bool else kind(value)
    return out


def per_episode(r: EvalResult) -> dict[str, np.ndarray]:
    """``[E]`` per-episode values of every metric."""
    vals = {"team_reward": r.episode_rewards.sum(-1)}
    for key, _, _ in METRICS[1:]:
        vals[key] = r.team_values(key)
    return vals


def follows(r: EvalResult) -> dict[str, float]:
    """Mean over agents of the Spearman correlation of the rate with last window's KPIs."""
    out: dict[str, float] = {}
    for kpi in ("sinr_db", "buffer_ratio", "pdr"):
        rhos = [a.get("follows", {}).get(kpi) for a in r.action_stats.values()]
        rhos = [x for x in rhos if x is not None and np.isfinite(x)]
        out[kpi] = float(np.mean(rhos)) if rhos else float("nan")
    return out


def mean_sinr(r: EvalResult) -> float:
    """Mean downlink SINR (dB) over agents and episodes: the channel the policy met (the
    twin's and ns-3's must agree for a SINR-reading policy to transfer)."""
    return float(np.nanmean(r.episode_kpis["sinr_db"])) if "sinr_db" in r.episode_kpis \
        else float("nan")


def summarise(vals: dict[str, np.ndarray], refs: dict[str, dict[str, np.ndarray]],
              reps: int = 1) -> dict[str, Any]:
    """Means, CIs and paired differences vs each reference (repeated ``reps`` times: a
    learner's seeds pooled meet the same reference episodes once per seed)."""
    row: dict[str, Any] = {}
    for key, _, _ in METRICS:
        mean, half = mean_ci95(vals[key])
        row[key] = [float(mean), float(half)]
        for ref, rv in refs.items():
            d_mean, d_half = mean_ci95(vals[key] - np.tile(rv[key], reps))
            row[f"{key}_vs_{ref}"] = [float(d_mean), float(d_half)]
    return row


def verdict(row: dict[str, Any]) -> dict[str, bool]:
    """The bar: paired CIs clear of zero where it says 'beats', not below zero for throughput."""
    def above(key: str, ref: str) -> bool:
        m, h = row[f"{key}_vs_{ref}"]
        return m - h > 0

    return {
        "beats_aps_team_reward": above("team_reward", "aps"),
        "beats_aps_xr_index": above("xr_index", "aps"),
        "beats_best_fixed_team_reward": above("team_reward", "best-fixed"),
        "beats_best_fixed_xr_index": above("xr_index", "best-fixed"),
        "throughput_not_below_aps": row["throughput_mbps_vs_aps"][0]
        + row["throughput_mbps_vs_aps"][1] >= 0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tag", required=True, help="results file suffix")
    ap.add_argument("--backend", choices=("analytic", "ns3"), default="analytic")
    ap.add_argument("--profile", default="ns3-nr", help="analytic profile (analytic backend)")
    ap.add_argument("--ran", choices=("nr", "lte"), default="nr", help="ns-3 RAN")
    ap.add_argument("--ring", type=float, default=400.0)
    ap.add_argument("--episodes", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0, help="first evaluation seed")
    ap.add_argument("--workers", type=int, default=2, help="ns-3 simulators in parallel")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="scenario setting, e.g. observation=channel, load_users=4")
    ap.add_argument("--learner", action="append", default=[], metavar="NAME=DIR[,DIR...]",
                    help="a learner's runs, one per training seed")
    ap.add_argument("--rules", default=",".join(RULES))
    ap.add_argument("--frontier", action="store_true",
                    help="also evaluate fixed:0..K-1 and sinr-fit at several eta")
    args = ap.parse_args()
    t0, load0 = time.perf_counter(), os.getloadavg()
    settings = {"ring_m": args.ring, **parse_settings(args.set)}
    from xr_codec_marl.env.factory import env_spec

    def env_of(s: dict[str, Any]):
        """``(make_env_batch, spec)`` of the evaluated env with settings ``s``."""
        if args.backend == "analytic":
            return (lambda n: make_env("xr", "analytic", num_envs=n, profile=args.profile, **s),
                    make_env("xr", "analytic", num_envs=1, profile=args.profile, **s).spec)
        logs = str(Path(tempfile.gettempdir()) / "xr_adaptation_ns3_logs")
        return (lambda n: make_env("xr", "ns3", num_envs=n, workers=n, ran=args.ran,
                                   log_dir=logs, **s),
                env_spec("xr", "ns3", ran=args.ran, **s))

    batch = 256 if args.backend == "analytic" else args.workers
    make, spec = env_of(settings)

    def run(policy, maker=None) -> EvalResult:
        return evaluate_policy(maker or make, policy, episodes=args.episodes, seed=args.seed,
                               backend=args.backend, batch_size=batch)

    results: dict[str, Any] = {}
    vals: dict[str, dict[str, np.ndarray]] = {}
    labels: dict[str, str] = {}
    for name in [r for r in args.rules.split(",") if r]:
        policy = make_policy(name, spec)
        r = run(policy)
        vals[name], labels[name] = per_episode(r), getattr(policy, "name", name)
        results[name] = {"actions": r.summary()["actions"], "follows": follows(r),
                         "mean_sinr_db": mean_sinr(r),
                         "truncated": sum(bool(x) for x in r.truncation_reasons)}
        print(f"{labels[name]}: team reward {vals[name]['team_reward'].mean():.3f}, "
              f"throughput {vals[name]['throughput_mbps'].mean():.2f}", flush=True)
    refs = {k: vals[k] for k in ("aps", "best-fixed") if k in vals}
    frontier = []
    if args.frontier:
        # through make_policy, so the rules act in either action option (discrete indices
        # or continuous rates: the table's K_o rates either way)
        n_rates = XRScenario(**settings).n_rates
        candidates = [make_policy(f"fixed:{k}", spec) for k in range(n_rates)]
        candidates += [make_policy("sinr-fit", spec, eta=e) for e in FRONTIER_ETAS]
        for policy in candidates:
            v = per_episode(run(policy))
            frontier.append({"policy": policy.name, **summarise(v, refs)})
            print(f"frontier {policy.name}: team {v['team_reward'].mean():.3f}, throughput "
                  f"{v['throughput_mbps'].mean():.2f}", flush=True)
    rows = [{"policy": labels[k], "kind": "rule", **summarise(v, refs), **results[k]}
            for k, v in vals.items()]
    learners = []
    for item in args.learner:
        name, _, dirs = item.partition("=")
        seeds = []
        for d in dirs.split(","):
            # the learner sees what it was trained to see (its recorded observation); the
            # network, and so the references' episodes, are the same whatever it observes
            own = _recorded(d)
            lmake, lspec = env_of({**settings, **own}) if own else (make, spec)
            policy = make_policy(d, lspec)
            r = run(policy, lmake)
            v = per_episode(r)
            seeds.append(v)
            row = {"policy": f"{name} ({Path(d).name})", "kind": "learner-seed", "run": d,
                   **summarise(v, refs), "actions": r.summary()["actions"],
                   "follows": follows(r), "mean_sinr_db": mean_sinr(r),
                   "truncated": sum(bool(x) for x in r.truncation_reasons)}
            row["bar"] = verdict(row)
            rows.append(row)
            print(f"{row['policy']}: team reward {row['team_reward'][0]:.3f} "
                  f"(vs APS {row['team_reward_vs_aps'][0]:+.3f}, vs best-fixed "
                  f"{row['team_reward_vs_best-fixed'][0]:+.3f}), throughput "
                  f"{row['throughput_mbps'][0]:.2f}, follows {row['follows']}", flush=True)
        pooled = {k: np.concatenate([s[k] for s in seeds]) for k in seeds[0]}
        prow = {"policy": f"{name} (all {len(seeds)} seeds)", "kind": "learner",
                **summarise(pooled, refs, reps=len(seeds))}
        prow["bar"] = verdict(prow)
        aps = vals["aps"]
        prow["table_iv_gains_pct"] = {
            k: float(100 * (pooled[k].mean() - aps[k].mean()) / abs(aps[k].mean()))
            for k in PAPER_GAINS}
        rows.append(prow)
        learners.append(prow)
    if frontier:  # each policy against the curves at its own throughput: the gain, cost shown
        for row in rows:
            row["vs_frontier_at_same_throughput"] = at_same_throughput(row, frontier)
    report = {**stamp({"load_avg_start": load0, "load_avg_end": os.getloadavg(),
                       "wall_s": round(time.perf_counter() - t0, 1)}),
              "backend": args.backend, "profile": args.profile if args.backend == "analytic"
              else None, "ran": args.ran if args.backend == "ns3" else None,
              "settings": settings, "episodes": args.episodes, "eval_seed": args.seed,
              "paper_table_iv_gains_pct": PAPER_GAINS, "rows": rows, "frontier": frontier}
    write_json_atomic(OUT / f"xr_adaptation_{args.tag}.json", report)
    write_atomic(OUT / f"xr_adaptation_{args.tag}.md", markdown(report, args))


def at_same_throughput(row: dict[str, Any], frontier: list[dict[str, Any]]) -> dict[str, float]:
    """Team reward minus that of the constants' curve, and of sinr-fit's, at the row's own
    throughput (linear between the curve's points, means only; nan outside the curve's span):
    what a policy gains over one that sends as much."""
    out = {}
    for label, prefix in (("constants", "fixed:"), ("sinr_fit", "sinr-fit:")):
        pts = sorted((f["throughput_mbps"][0], f["team_reward"][0]) for f in frontier
                     if f["policy"].startswith(prefix))
        thr = row["throughput_mbps"][0]
        if len(pts) < 2 or not pts[0][0] <= thr <= pts[-1][0]:
            out[label] = float("nan")
            continue
        xs, ys = zip(*pts)
        out[label] = float(row["team_reward"][0] - np.interp(thr, xs, ys))
    return out


def _recorded(run_dir: str) -> dict[str, Any]:
    """The observation a checkpoint was trained with, where it differs from the default."""
    from xr_codec_marl.learners.checkpoint import read_checkpoint

    seen = read_checkpoint(run_dir)["spec"].get("settings", {}).get("observation", "eq13")
    return {"observation": seen}


def _signed(x: float | None) -> str:
    return "" if x is None or not np.isfinite(x) else f"{x:+.3f}"


def _cell(row: dict[str, Any], key: str) -> str:
    m, h = row[key]
    return f"{m:+.3f} ± {h:.3f}" if "_vs_" in key else f"{m:.3f} ± {h:.3f}"


def markdown(report: dict[str, Any], args: argparse.Namespace) -> str:
    where = (f"analytic twin, profile `{args.profile}`" if args.backend == "analytic"
             else f"ns-3 {args.ran.upper()}, {args.workers} simulators in parallel")
    lines = [f"# XR adaptation: learners vs APS and the best constant ({where})", "",
             f"Generated {report['created_utc']}; command `{report['command']}`; machine "
             f"{report['machine']}; wall {report['wall_s']} s.", "",
             f"Settings: `{report['settings']}`. {args.episodes} evaluation episodes per "
             f"policy (seeds {args.seed}..), the same for every policy; mean ± 95 % CI; "
             "*vs* columns are paired differences on the same episodes. `best-fixed` is tuned "
             "on this env's analytic twin on seeds 1,000,003.. . A learner's pooled row pairs "
             "each training seed's episodes with the references' same episodes.", "",
             "| policy | " + " | ".join(label for _, label, _ in METRICS)
             + " | team vs APS | team vs best-fixed | XR idx vs APS | XR idx vs best-fixed "
             "| thr vs APS | entropy | off-modal | ρ(rate, SINR) | vs constants at same thr "
             "| vs sinr-fit at same thr |",
             "|---" * (len(METRICS) + 11) + "|"]
    for r in report["rows"]:
        acts = [a for a in r.get("actions", {}).values() if a.get("windows")]
        ent = f"{np.mean([a['entropy_bits'] for a in acts]):.2f}" if acts else ""
        off = f"{np.mean([a['off_modal'] for a in acts]):.2f}" if acts else ""
        rho = r.get("follows", {}).get("sinr_db")
        rho_s = "" if rho is None or not np.isfinite(rho) else f"{rho:+.2f}"
        lines.append(f"| {r['policy']} | " + " | ".join(_cell(r, k) for k, _, _ in METRICS)
                     + " | " + " | ".join(_cell(r, k) for k in (
                         "team_reward_vs_aps", "team_reward_vs_best-fixed",
                         "xr_index_vs_aps", "xr_index_vs_best-fixed",
                         "throughput_mbps_vs_aps"))
                     + f" | {ent} | {off} | {rho_s} | " + " | ".join(
                         _signed(r.get("vs_frontier_at_same_throughput", {}).get(k))
                         for k in ("constants", "sinr_fit")) + " |")
    if report["frontier"]:
        aps = next(r for r in report["rows"] if r["policy"] == "aps")
        lines += ["", "## Trade-off: what sending more costs", "",
                  "Every constant rate and the channel-aware rule at several eta, on the same "
                  f"episodes. APS: team reward {aps['team_reward'][0]:.3f}, throughput "
                  f"{aps['throughput_mbps'][0]:.2f} Mbps. *corner*: throughput not below "
                  "APS's (paired CI) **and** team reward above APS's (paired CI).", "",
                  "| policy | team reward | throughput Mbps | team vs APS | thr vs APS | "
                  "XR idx vs APS | corner |", "|---|---|---|---|---|---|---|"]
        for r in report["frontier"]:
            b = verdict(r)
            corner = b["throughput_not_below_aps"] and b["beats_aps_team_reward"]
            lines.append(f"| {r['policy']} | {_cell(r, 'team_reward')} | "
                         f"{_cell(r, 'throughput_mbps')} | {_cell(r, 'team_reward_vs_aps')} | "
                         f"{_cell(r, 'throughput_mbps_vs_aps')} | {_cell(r, 'xr_index_vs_aps')}"
                         f" | {'yes' if corner else 'no'} |")
    learners = [r for r in report["rows"] if r["kind"] == "learner"]
    if learners:
        lines += ["", "## The bar and the paper's Table IV", "",
                  "| learner | beats APS (team, XR idx) | beats best-fixed (team, XR idx) | "
                  "throughput ≥ APS | XR index % | jitter % | delay % | PLR % |",
                  "|---|---|---|---|---|---|---|---|"]
        paper = report["paper_table_iv_gains_pct"]
        lines.append("| paper's MHA-DQMIX (Table IV) | | | not reported | "
                     + " | ".join(f"{paper[k]:+.1f}" for k in PAPER_GAINS) + " |")
        for r in learners:
            b, g = r["bar"], r["table_iv_gains_pct"]
            yn = {True: "yes", False: "no"}
            lines.append(
                f"| {r['policy']} | {yn[b['beats_aps_team_reward']]}, "
                f"{yn[b['beats_aps_xr_index']]} | {yn[b['beats_best_fixed_team_reward']]}, "
                f"{yn[b['beats_best_fixed_xr_index']]} | {yn[b['throughput_not_below_aps']]} | "
                + " | ".join(f"{g[k]:+.1f}" for k in PAPER_GAINS) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
