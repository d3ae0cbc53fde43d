"""Analytic XR environment speed: 0.5 s windows simulated per wall second, by batch size.

    python benchmarks/analytic_throughput.py [--seconds 5] [--batches 1,64,1024]

Writes benchmarks/results/analytic_throughput.json. The ratio to real time is
windows/s x 0.5 s (one window is half a second of network).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import numpy as np

from xr_codec_marl.scenarios.xr.analytic import AnalyticXREnv
from xr_codec_marl.experiments.results import stamp, write_json_atomic
from xr_codec_marl.scenarios.xr.settings import XRScenario


def measure(batch: int, seconds: float, ring: float = 400.0) -> dict[str, float]:
    env = AnalyticXREnv(XRScenario(ring_m=ring), num_envs=batch)
    env.reset(seed=0)
    actions = np.full((batch, 3), 9)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        if env.step(actions).truncated.any():
            env.reset(seed=steps)
        steps += 1
    wall = time.perf_counter() - t0
    wps = steps * batch / wall
    return {
        "batch": batch,
        "windows_per_s": round(wps, 1),
        "realtime_factor": round(wps * env.scenario.window_s, 1),
        "batched_step_ms": round(1e3 * wall / steps, 3),
    }


def top_costs(batch: int) -> list[str]:
    """Where a batched window spends its time (cumulative, top functions)."""
    env = AnalyticXREnv(XRScenario(ring_m=400.0), num_envs=batch)
    env.reset(seed=0)
    a = np.full((batch, 3), 9)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(20):
        env.step(a)
    prof.disable()
    stats = pstats.Stats(prof).sort_stats("tottime")
    rows = []
    for (file, _, func), (_, _, tt, _, _) in list(stats.stats.items()):
        rows.append((tt, f"{func} ({file.rsplit('/', 1)[-1]})"))
    rows.sort(reverse=True)
    total = sum(t for t, _ in rows)
    return [f"{name}: {100 * t / total:.0f}%" for t, name in rows[:6]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--batches", default="1,64,1024")
    ap.add_argument("--out", default="benchmarks/results/analytic_throughput.json")
    args = ap.parse_args()
    rows = [measure(int(b), args.seconds) for b in args.batches.split(",")]
    for r in rows:
        print(f"batch {r['batch']:>5}: {r['windows_per_s']:>10.0f} windows/s  "
              f"({r['realtime_factor']:.0f}x real time, {r['batched_step_ms']:.2f} ms per batched window)")
    big = max(rows, key=lambda r: r["batch"])
    result = stamp({
        "what": "analytic XR env windows (0.5 s of network) per wall second, ring 400 m, max rates",
        "aim": ">= 20000 windows/s at batch 1024 (10000x real time)",
        "results": rows,
        "meets_aim": big["batch"] >= 1024 and big["windows_per_s"] >= 20000,
        "profile_top_tottime_batch_1024": top_costs(1024),
        "limits": (
            "30 frame periods per window are a Python loop of ~40 numpy ops on [B, 3] arrays: "
            "at batch 1 the interpreter overhead per op dominates (~5 ms per window); at large "
            "batch numpy's elementwise work and the random draws dominate."
        ),
    })
    write_json_atomic(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
