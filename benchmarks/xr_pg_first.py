"""A first look at MAPPO / IMAPPO on the XR scenario against APS and the best constant.

The analytic XR model at one ring (default 400 m, the scenario's default profile and
observation): each learner trained for ``--steps`` windows from one seed, evaluated greedily
beside ``aps`` and ``best-fixed`` on ``--episodes`` episodes (seed 100). Reported: team
reward, XR index, throughput, PLR, delay and, per learner, how much its actions vary (the
mean over agents of the entropy in bits of the rates it picks): a learner that settled on
one rate shows 0.

    nice -n 10 .venv/bin/python benchmarks/xr_pg_first.py --runs /tmp/xr-pg

Outputs ``benchmarks/results/xr_pg_first.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mec_pg_first as first  # noqa: E402  (paths and the throughput reader)

KPIS = ("xr_index", "throughput_mbps", "plr", "delay_ms")


def _evaluate(args: argparse.Namespace, policy: str) -> dict[str, Any]:
    cmd = [first.XR_MARL, "evaluate", "--env", "xr", "--ring", str(args.ring), "--policy", policy,
           "--episodes", str(args.episodes), "--seed", "100", "--json"]
    res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    ent = [a["entropy_bits"] for a in res["actions"].values() if a.get("entropy_bits") is not None]
    return {"team_reward": res["team_reward"], "team_reward_ci95": res["team_reward_ci95"],
            "kpis": {k: res["kpis"][k] for k in KPIS},
            "ci95": {k: res["ci95"].get(k) for k in KPIS},
            "action_entropy_bits": float(np.mean(ent)) if ent else None}


def _train(args: argparse.Namespace, algo: str) -> dict[str, Any]:
    out = Path(args.runs) / algo
    cmd = [first.XR_MARL, "train", "--env", "xr", "--ring", str(args.ring), "--algo", algo,
           "--steps", str(args.steps), "--seed", str(args.seed), "--out", str(out),
           "--no-progress", "--set", "tensorboard=false"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    import csv

    with (out / "log.csv").open() as fh:
        last = list(csv.DictReader(fh))[-1]
    steps, wall = int(last["env_steps"]), float(last["wall_s"])
    return {"run": str(out), "env_steps": steps, "windows_per_s": steps / wall if wall else None}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", required=True)
    p.add_argument("--ring", type=float, default=400.0)
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--episodes", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--algos", default="mappo,imappo")
    args = p.parse_args()
    t0, load = time.time(), os.getloadavg()
    rows = []
    for algo in args.algos.split(","):
        info = _train(args, algo)
        rows.append({"policy": algo, **info, **_evaluate(args, info["run"])})
        print(f"{algo}: {rows[-1]['team_reward']:.3f}", file=sys.stderr)
    for rule in ("aps", "best-fixed"):
        rows.append({"policy": rule, **_evaluate(args, rule)})
    data = {"ring_m": args.ring, "steps": args.steps, "episodes": args.episodes,
            "train_seed": args.seed, "cpus": os.cpu_count(), "load_average_start": load,
            "wall_s": time.time() - t0, "rows": rows}
    tmp = first.RESULTS / "xr_pg_first.json.tmp"
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(first.RESULTS / "xr_pg_first.json")
    (first.RESULTS / "xr_pg_first.md").write_text(_table(data))
    print(_table(data))
    return 0


def _table(data: dict[str, Any]) -> str:
    lines = [f"# MAPPO / IMAPPO on the XR analytic model at {data['ring_m']:g} m: "
             f"{data['steps']} training windows, 1 seed", "",
             f"Greedy evaluation, {data['episodes']} episodes (seed 100); ± is the 95 % CI "
             "across episodes. entropy: mean over agents of the entropy (bits) of the rates "
             "picked (0: one constant rate).", "",
             "| policy | team reward | XR index | throughput Mbps | PLR | delay ms | entropy | "
             "windows/s |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in data["rows"]:
        k, ci = r["kpis"], r["ci95"]
        cells = [f"{k[x]:.3g} ± {ci[x]:.2g}" if ci.get(x) is not None else f"{k[x]:.3g}"
                 for x in KPIS]
        ent = "—" if r.get("action_entropy_bits") is None else f"{r['action_entropy_bits']:.2f}"
        wps = f"{r['windows_per_s']:.0f}" if r.get("windows_per_s") else "—"
        lines.append(f"| {r['policy']} | {r['team_reward']:.3f} ± {r['team_reward_ci95']:.2g} | "
                     + " | ".join(cells) + f" | {ent} | {wps} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
