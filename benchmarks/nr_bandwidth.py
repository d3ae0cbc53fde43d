#!/usr/bin/env python3
"""Which bandwidth reproduces the paper's picture on ns-3 NR: 20 MHz (§VI-A) or 40 (Table III)?

The paper's gains over APS appear mainly at 400 m, so its cell must be comfortable at 200 m and
congested at 400 m with the maximum codec rates. This runs APS / max / min on ns-3 NR at
40 MHz on the same seeds as the 20 MHz reference (benchmarks/results/calibration_ns3_nr.json,
seeds 0..episodes-1) and writes both side by side, paired by seed, to
benchmarks/results/nr_bandwidth.{json,md}.

    python benchmarks/nr_bandwidth.py [--episodes 4] [--rings 200,400] [--workers 2]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xr_codec_marl.baselines import make_policy  # noqa: E402
from xr_codec_marl.env.factory import env_spec, make_env  # noqa: E402
from xr_codec_marl.experiments.evaluation import evaluate_policy  # noqa: E402
from xr_codec_marl.experiments.results import stamp, write_atomic, write_json_atomic  # noqa: E402
from xr_codec_marl.experiments.stats import mean_ci95  # noqa: E402

OUT = ROOT / "benchmarks" / "results"
REF = OUT / "calibration_ns3_nr.json"
KPIS = (("xr_index", "XR index", 1.0), ("plr", "PLR %", 100.0), ("delay_ms", "delay ms", 1.0),
        ("throughput_mbps", "thr Mbps", 1.0))
POLICIES = ("aps", "max", "min")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--rings", default="200,400")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    rings = [float(r) for r in args.rings.split(",")]
    ref = json.loads(REF.read_text())
    if ref["seed"] != 0:
        raise SystemExit(f"nr_bandwidth: {REF.name} starts at seed {ref['seed']}, expected 0")
    base = {(r["ring_m"], r["policy"]): r for r in ref["results"]}
    spec = env_spec("xr", "ns3", ran="nr")
    rows = []
    for ring, policy in itertools.product(rings, POLICIES):
        res = evaluate_policy(
            lambda n: make_env("xr", "ns3", n, ring_m=ring, ran="nr", bandwidth_mhz=40.0,
                               sim_timeout_s=180.0),
            make_policy(policy, spec), args.episodes, 0, "ns3", batch_size=args.workers)
        assert res.record.get("ran") == "nr", res.record
        got = {k: res.episode_kpis[k].mean(axis=1).tolist() for k, _, _ in KPIS}
        twenty = {k: base[(ring, policy)][k][: args.episodes] for k, _, _ in KPIS}
        rows.append({"ring_m": ring, "policy": policy, "episodes": args.episodes,
                     "truncated": sum(1 for r in res.truncation_reasons if r),
                     "mhz20": twenty, "mhz40": got})
        print(f"{ring:g} m {policy}: 40 MHz " + ", ".join(
            f"{k}={np.mean(got[k]):.4g} (20 MHz {np.mean(twenty[k]):.4g})" for k, _, _ in KPIS),
            flush=True)
    write_json_atomic(OUT / "nr_bandwidth.json", stamp({
        "what": "ns-3 NR xr-codec at 20 and 40 MHz, same seeds (20 MHz from calibration_ns3_nr.json)",
        "seeds": list(range(args.episodes)), "rows": rows}))
    lines = ["# ns-3 NR: 20 MHz vs 40 MHz on the same seeds\n",
             f"`python benchmarks/nr_bandwidth.py --episodes {args.episodes}` — mean ± 95 % CI "
             f"over seeds 0–{args.episodes - 1} (team means; 20 MHz rows are those seeds of "
             "`calibration_ns3_nr.json`).\n",
             "| ring m | policy | " + " | ".join(f"{t} 20 | {t} 40" for _, t, _ in KPIS) + " |",
             "|---:|---|" + "---:|" * (2 * len(KPIS))]
    for r in rows:
        cells = []
        for k, _, scale in KPIS:
            for mhz in ("mhz20", "mhz40"):
                m, h = mean_ci95(np.asarray(r[mhz][k], dtype=float) * scale)
                cells.append(f"{float(m):.3g} ± {float(h):.2g}")
        lines.append(f"| {r['ring_m']:g} | {r['policy']} | " + " | ".join(cells) + " |")
    write_atomic(OUT / "nr_bandwidth.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
