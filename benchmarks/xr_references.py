#!/usr/bin/env python3
"""The references an XR learner must beat, per ring, on the analytic twin (issue 14).

APS, its x1.5 sibling and the best constant rate (``best-fixed``: tuned on seeds the
evaluation never uses), and any checkpoints given, on the same evaluation seeds (common random
numbers): team reward, XR index and throughput with 95 % CIs, the paired change of each vs
APS, and whether the policy adapts (the action diagnostics: mean entropy over agents, share of
windows off the modal action). Writes benchmarks/results/xr_references.{json,md}.

    python benchmarks/xr_references.py [--rings 200,300,400] [--episodes 32]
                                      [--checkpoint NAME=PATH ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xr_codec_marl.baselines import make_policy  # noqa: E402
from xr_codec_marl.env.factory import make_env  # noqa: E402
from xr_codec_marl.experiments.evaluation import evaluate_policy  # noqa: E402
from xr_codec_marl.experiments.results import stamp, write_atomic, write_json_atomic  # noqa: E402
from xr_codec_marl.experiments.stats import mean_ci95  # noqa: E402

OUT = ROOT / "benchmarks" / "results"
RULES = ("aps", "aps-x1.5", "best-fixed", "max")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rings", default="200,300,400")
    ap.add_argument("--episodes", type=int, default=32)
    ap.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH")
    args = ap.parse_args()
    t0, load0 = time.perf_counter(), os.getloadavg()
    policies = {r: r for r in RULES}
    for item in args.checkpoint:
        name, path = item.split("=", 1)
        policies[name] = path
    rows = []
    for ring in map(float, args.rings.split(",")):
        spec = make_env("xr", "analytic", num_envs=1, ring_m=ring).spec
        per = {}
        for name, ref in policies.items():
            policy = make_policy(ref, spec)
            r = evaluate_policy(lambda n: make_env("xr", "analytic", num_envs=n, ring_m=ring),
                                policy, episodes=args.episodes, seed=0, backend="analytic")
            s = r.summary()
            per[name] = {"team_reward": r.episode_rewards.sum(-1),
                         "xr_index": r.team_values("xr_index"),
                         "throughput_mbps": r.team_values("throughput_mbps"),
                         "actions": s["actions"], "label": getattr(policy, "name", name)}
        base = per["aps"]
        for name, v in per.items():
            row = {"ring_m": ring, "policy": name, "label": v["label"]}
            for m in ("team_reward", "xr_index", "throughput_mbps"):
                mean, half = mean_ci95(v[m])
                d_mean, d_half = mean_ci95(v[m] - base[m])  # paired: same seeds
                row[m] = [float(mean), float(half)]
                row[f"{m}_vs_aps"] = [float(d_mean), float(d_half)]
            acts = [a for a in v["actions"].values() if a.get("windows")]
            row["entropy_bits"] = float(np.mean([a["entropy_bits"] for a in acts]))
            row["off_modal"] = float(np.mean([a["off_modal"] for a in acts]))
            rows.append(row)
            print(row, flush=True)
    report = {**stamp({"load_avg_start": load0, "load_avg_end": os.getloadavg(),
                       "wall_s": round(time.perf_counter() - t0, 1)}),
              "episodes": args.episodes, "rows": rows}
    write_json_atomic(OUT / "xr_references.json", report)
    lines = ["# XR references per ring (analytic twin, paper profile)", "",
             f"Generated {report['created_utc']}; command `{report['command']}`; machine "
             f"{report['machine']}.", "",
             f"{args.episodes} episodes of 40 windows per policy and ring, evaluation seeds "
             "0.. (the same for every policy); mean ± 95 % CI; *vs APS* = paired difference "
             "(same seeds). `best-fixed` is tuned on seeds 1,000,003.. (never evaluated). "
             "Entropy (bits) and off-modal share: mean over the agents of their actions' "
             "spread (0 and 0: one action always).", "",
             "| ring | policy | team reward | vs APS | XR index | vs APS | throughput Mbps | "
             "vs APS | entropy | off-modal |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = []
        for m in ("team_reward", "xr_index", "throughput_mbps"):
            cells += [f"{r[m][0]:.3f} ± {r[m][1]:.3f}",
                      f"{r[m + '_vs_aps'][0]:+.3f} ± {r[m + '_vs_aps'][1]:.3f}"]
        lines.append(f"| {r['ring_m']:g} | {r['label']} | " + " | ".join(cells)
                     + f" | {r['entropy_bits']:.2f} | {r['off_modal']:.2f} |")
    write_atomic(OUT / "xr_references.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
