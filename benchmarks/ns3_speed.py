#!/usr/bin/env python3
"""ns-3 speed: simulated seconds per CPU second of the xr-codec scenario, NR beside LTE, by ring.

Standalone runs (``--fixedAction``, no agent server), so this is the simulator alone. Each run
is a full episode (default 40 windows = 20 s of network + 0.5 s warm-up); the wall time is
measured around the process (start-up, topology, attach included) and also reported by the
scenario itself. The RANs alternate run by run (same ring, action and seed), so the NR/LTE
ratio compares runs under the same load. Writes benchmarks/results/ns3_speed.json (machine,
command, every run).

    python benchmarks/ns3_speed.py [--rans lte,nr] [--rings 200,300,400] [--actions max,min]
                                   [--seeds 2] [--windows 40] [--build-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xr_codec_marl.bridge.build import build_ns3, nr_root_of  # noqa: E402
from xr_codec_marl.experiments.results import stamp, write_json_atomic  # noqa: E402


def run_once(binary: Path, ran: str, ring: float, action: str, seed: int, windows: int) -> dict:
    cmd = [str(binary), f"--ran={ran}", f"--fixedAction={action}", f"--ringRadius={ring:g}",
           f"--seed={seed}", f"--episodeLimit={windows}"]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])["summary"]
    plr = statistics.fmean(m["plr"] for m in summary["mean_kpis"].values())
    assert summary["ran"] == ran, summary["ran"]
    return {
        "ran": ran,
        "ring_m": ring,
        "action": action,
        "seed": seed,
        "sim_s": summary["sim_s"],
        "wall_s_process": round(wall, 3),
        "sim_s_per_wall_s": round(summary["sim_s"] / wall, 3),
        "sim_s_per_wall_s_in_run": round(summary["sim_s_per_wall_s"], 3),
        "cpu_s": round(cpu, 3),
        "sim_s_per_cpu_s": round(summary["sim_s"] / cpu, 3) if cpu > 0 else None,
        "mean_plr": round(plr, 4),
        "packets_sent": sum(m["sent"] for m in summary["mean_kpis"].values()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rans", default=None,
                    help="RANs to time, e.g. lte,nr (default: both where NR is built, else lte)")
    ap.add_argument("--rings", default="200,300,400")
    ap.add_argument("--actions", default="max,min",
                    help="fixed joint actions to time (max = heaviest traffic)")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--windows", type=int, default=40)
    ap.add_argument("--build-dir", default=None)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/ns3_speed.json"))
    args = ap.parse_args()

    bdir = build_ns3(args.build_dir, jobs=2)
    rans = (args.rans or ("lte,nr" if nr_root_of(bdir) else "lte")).split(",")
    load0 = os.getloadavg()
    binary = bdir / "xr-codec"
    rings = [float(r) for r in args.rings.split(",")]
    actions = [a.strip() for a in args.actions.split(",") if a.strip()]
    runs = []
    for ring in rings:
        for action in actions:
            for seed in range(1, args.seeds + 1):
                for ran in rans:
                    r = run_once(binary, ran, ring, action, seed, args.windows)
                    runs.append(r)
                    print(f"{ran:>3} ring {ring:>5g} m  action {action:>3}  seed {seed}: "
                          f"{r['sim_s_per_wall_s']:.2f} sim s / wall s, "
                          f"{r['sim_s_per_cpu_s']:.2f} sim s / CPU s  (plr {r['mean_plr']:.2f})",
                          flush=True)
    summary: dict[str, dict[str, float]] = {}
    summary_cpu: dict[str, dict[str, float]] = {}
    for ran in rans:
        summary[ran], summary_cpu[ran] = {}, {}
        for ring in rings:
            for action in actions:
                sel = [r for r in runs if (r["ran"], r["ring_m"], r["action"]) == (ran, ring, action)]
                key = f"{ring:g}m/{action}"
                summary[ran][key] = round(statistics.fmean(r["sim_s_per_wall_s"] for r in sel), 3)
                summary_cpu[ran][key] = round(statistics.fmean(r["sim_s_per_cpu_s"] for r in sel), 3)
    ratio = ({k: round(summary_cpu["nr"][k] / summary_cpu["lte"][k], 3) for k in summary_cpu["nr"]}
             if {"nr", "lte"} <= set(rans) else {})
    result = stamp({
        "what": "xr-codec (20 MHz, 3 UEs, TR 38.838 traffic) simulated seconds per CPU second "
                "and per wall second, standalone (--fixedAction, no agent server), process "
                "times; NR = 5G-LENA v4.0 (numerology 2, 4x8 array), LTE = ns-3 LTE",
        "scenario_command": f"{binary.name} --ran=RAN --fixedAction=A --ringRadius=R --seed=S "
                            f"--episodeLimit={args.windows}",
        "argv": sys.argv[1:],
        "episode_sim_s": 0.5 + 0.5 * args.windows,
        "mean_sim_s_per_wall_s": summary,
        "mean_sim_s_per_cpu_s": summary_cpu,
        "nr_over_lte_sim_s_per_cpu_s": ratio,
        "load_average_at_start": load0,
        "load_average_at_end": os.getloadavg(),
        "runs": runs,
        "notes": (
            "Cost grows with the traffic carried (packets through the RAN stack), so max rates "
            "are slower than min rates. The machine is shared (2 cores): other jobs slow "
            "individual runs, so the wall-clock figure depends on the load (see "
            "load_average_*); sim s per CPU s does not."
        ),
    })
    write_json_atomic(args.out, result)
    print(json.dumps({"sim_s_per_cpu_s": summary_cpu, "nr_over_lte": ratio}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
