"""Sweep throughput: episodes per minute with 1 and 2 parallel jobs, analytic and ns-3.

    python benchmarks/sweep_throughput.py [--episodes 8] [--backends analytic,ns3]

Each measurement is a fresh sweep of APS cells (3 rings x 2 seeds, ``episodes`` episodes per
cell) into a temporary directory, timed end to end through ``run_sweep`` (the code path of
``xr-marl sweep``). Scaling = episodes/min with 2 jobs over episodes/min with 1 job, measured
in the same run. Writes benchmarks/results/sweep_throughput.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from xr_codec_marl.experiments.results import stamp, write_json_atomic
from xr_codec_marl.experiments.sweep import SweepConfig, run_sweep


def measure(backend: str, jobs: int, episodes: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        cfg = SweepConfig(env="xr", axes={"ring": (200.0, 300.0, 400.0)}, policies=("aps",),
                          seeds=2, out=out,
                          backend=backend, episodes=episodes, workers=jobs, sim_workers=1)
        t0 = time.perf_counter()
        cells, _, failures = run_sweep(cfg)
        wall = time.perf_counter() - t0
    n = len(cells) * episodes
    return {"backend": backend, "jobs": jobs, "cells": len(cells), "episodes": n,
            "failed_cells": len(failures), "wall_s": round(wall, 2),
            "episodes_per_min": round(60.0 * n / wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=8)
    ap.add_argument("--ns3-episodes", type=int, default=2)
    ap.add_argument("--backends", default="analytic,ns3")
    ap.add_argument("--out", default="benchmarks/results/sweep_throughput.json")
    args = ap.parse_args()
    rows, scaling = [], {}
    load0 = os.getloadavg()
    for backend in args.backends.split(","):
        eps = args.ns3_episodes if backend == "ns3" else args.episodes
        one, two = measure(backend, 1, eps), measure(backend, 2, eps)
        rows += [one, two]
        scaling[backend] = round(two["episodes_per_min"] / one["episodes_per_min"], 2)
        for r in (one, two):
            print(f"{backend:>8} jobs={r['jobs']}: {r['episodes_per_min']:8.1f} episodes/min "
                  f"({r['episodes']} episodes in {r['wall_s']} s)")
        print(f"{backend:>8} scaling 1 -> 2 jobs: x{scaling[backend]}")
    write_json_atomic(args.out, stamp({
        "what": "xr-marl sweep throughput: APS cells, 3 rings x 2 seeds, fresh output directory",
        "episode_windows": 40, "results": rows, "scaling_1_to_2_jobs": scaling,
        "load_average_before": load0, "load_average_after": os.getloadavg(),
        "note": "2-core machine; analytic cells are short, so process start-up (importing torch) "
                "is a large share of each cell; ns-3 cells are simulation-bound.",
    }))


if __name__ == "__main__":
    main()
