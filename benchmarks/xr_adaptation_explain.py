#!/usr/bin/env python3
"""The paper's explanation finding re-checked on learners that adapt (issue 14).

Seed 002 §VI-B: PDR's Q-component dominates (largest average Q of the chosen action), DRR's is
smallest, MSX+ is often {PDR}, MSX- is empty. This runs ``xr-marl explain`` on each given
checkpoint (the learner's own greedy actions, APS driving the episodes) and tabulates, per
agent, which component is largest, and the MSX shares. Writes
``benchmarks/results/xr_adaptation_explain.{json,md}``.

    python benchmarks/xr_adaptation_explain.py --profile ns3-nr --ring 400 \\
        --checkpoint channel-s0=runs/ch8-s0 --checkpoint eq13-s0=runs/eq8-s0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xr_codec_marl.experiments.results import stamp, write_atomic, write_json_atomic  # noqa: E402
from xr_codec_marl.learners.checkpoint import read_checkpoint  # noqa: E402

OUT = ROOT / "benchmarks" / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="ns3-nr")
    ap.add_argument("--ring", type=float, default=400.0)
    ap.add_argument("--episodes", type=int, default=4, help="batches of 8 episodes")
    ap.add_argument("--checkpoint", action="append", required=True, metavar="NAME=DIR")
    args = ap.parse_args()
    t0, load0 = time.perf_counter(), os.getloadavg()
    rows, commands = [], []
    for item in args.checkpoint:
        name, _, run_dir = item.partition("=")
        seen = read_checkpoint(run_dir)["spec"].get("settings", {}).get("observation", "eq13")
        out = Path(tempfile.mkdtemp(prefix="xr-explain-"))
        cmd = [sys.executable, "-m", "xr_codec_marl.cli", "explain", "--backend", "analytic",
               "--analytic-profile", args.profile, "--observation", seen, "--ring",
               f"{args.ring:g}", "--checkpoint", run_dir, "--episodes", str(args.episodes),
               "--seed", "1000", "--out", str(out), "--json"]
        commands.append(" ".join(cmd[1:]))
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        s = json.loads((out / "summary.json").read_text())["summary"]
        rows.append({"name": name, "run": run_dir, "observation": seen,
                     "dominant": s["dominant"], "dominant_share": s["dominant_share"],
                     "msx_plus_single_share": s["msx_plus_single_share"],
                     "msx_minus_empty_share": s["msx_minus_empty_share"],
                     "msx_plus_only": s["msx_plus_only"]})
        print(name, [(d["agent"], d["dominant"]) for d in s["dominant"]], flush=True)
    report = {**stamp({"load_avg_start": load0, "load_avg_end": os.getloadavg(),
                       "wall_s": round(time.perf_counter() - t0, 1)}),
              "profile": args.profile, "ring_m": args.ring, "explain_commands": commands,
              "rows": rows}
    write_json_atomic(OUT / "xr_adaptation_explain.json", report)
    lines = ["# Does PDR's Q-component dominate on learners that adapt?", "",
             f"Generated {report['created_utc']}; command `{report['command']}`; machine "
             f"{report['machine']}.", "",
             f"`xr-marl explain` on the analytic twin (`{args.profile}`), {args.ring:g} m, "
             f"{args.episodes} x 8 episodes from seed 1000, APS driving, each learner's own "
             "greedy action explained. Paper (seed 002 §VI-B): PDR largest, DRR smallest, "
             "MSX- empty.", "",
             "| learner | observation | largest Q (AR, VR, CG) | Q delay / PDR / DRR (per agent) "
             "| MSX+ single (inc, dec) | MSX- empty (inc, dec) |", "|---|---|---|---|---|---|"]
    for r in rows:
        dom = ", ".join(d["dominant"] for d in r["dominant"])
        qs = "; ".join(f"{d['q_delay']:.2f}/{d['q_pdr']:.2f}/{d['q_drr']:.2f}" for d in r["dominant"])
        single, empty = r["msx_plus_single_share"], r["msx_minus_empty_share"]
        lines.append(f"| {r['name']} | {r['observation']} | {dom} | {qs} | "
                     f"{single['inc']:.0%}, {single['dec']:.0%} | "
                     f"{empty['inc']:.0%}, {empty['dec']:.0%} |")
    write_atomic(OUT / "xr_adaptation_explain.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
