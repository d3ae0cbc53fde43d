#!/usr/bin/env python3
"""Speed of the packet-level MEC scenario (``mec-offload``): simulated s per wall s by N.

Each run is one episode through the Python agent server (``Ns3Env``, one simulator) with the
``least-loaded`` rule (every task offloaded over the uplink, the heavy case) and with
``local`` (no uplink traffic, the light one), at N = 10/50/100 devices and K = 9 servers, on
LTE (one cell) and NR (one cell per 50 devices: 5G-LENA carries no more here). Timed: the whole episode (launch, topology, attach, warm-up, the steps and the
agent server's side), as simulated seconds (warm-up included) per wall second; the
simulator's own figure (its summary) is recorded too. Cost growth with N: the wall seconds
per simulated second, and its ratio to N = 10's. Writes
benchmarks/results/mec_ns3_speed.{json,md} with machine, load and command.

    python benchmarks/mec_ns3_speed.py [--rans lte,nr] [--devices 10,50,100] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xr_codec_marl.baselines import make_policy  # noqa: E402
from xr_codec_marl.experiments.results import stamp, write_atomic, write_json_atomic  # noqa: E402
from xr_codec_marl.scenarios.mec.ns3 import mec_ns3_env  # noqa: E402
from xr_codec_marl.scenarios.mec.ns3_args import MAX_NR_DEVICES_PER_CELL  # noqa: E402
from xr_codec_marl.scenarios.mec.settings import preset  # noqa: E402

OUT = ROOT / "benchmarks" / "results"


def run(ran: str, n: int, k: int, rule: str, steps: int, seed: int) -> dict:
    # NR carries at most 50 devices' uploads per cell here (MAX_NR_DEVICES_PER_CELL)
    cells = 1 if ran == "lte" else math.ceil(n / MAX_NR_DEVICES_PER_CELL)
    settings = preset("multi-mec", devices=n, servers=k, episode_limit=steps, ran=ran,
                      cells=cells)
    logs = Path(tempfile.mkdtemp(prefix="mec-speed-"))
    t0 = time.perf_counter()
    env = mec_ns3_env(settings, timeout_s=1200.0, connect_timeout_s=600.0, log_dir=logs)
    try:
        policy = make_policy(rule, env.spec)
        policy.reset(1, seed=seed)
        obs = env.reset(seed=seed)
        agent_s = 0.0
        done = False
        while not done:
            a0 = time.perf_counter()
            actions = policy.act(obs)
            agent_s += time.perf_counter() - a0
            obs = env.step(actions)
            done = bool(obs.truncated[0] or obs.terminated[0])
    finally:
        env.close()
    wall = time.perf_counter() - t0
    [log] = list(logs.glob("*.log"))
    summary = [json.loads(x)["summary"] for x in log.read_text().splitlines()
               if x.startswith('{"summary"')][-1]
    return {"ran": ran, "devices": n, "servers": k, "cells": cells, "rule": rule, "steps": steps,
            "seed": seed, "sim_s": summary["sim_s"], "wall_s": round(wall, 2),
            "sim_s_per_wall_s": round(summary["sim_s"] / wall, 4),
            "sim_s_per_wall_s_simulator": summary["sim_s_per_wall_s"],
            "wall_s_per_sim_s": round(wall / summary["sim_s"], 3),
            "rule_s": round(agent_s, 3), "uplink_bytes": summary["uplink_bytes"],
            "completed": summary["completed"], "resolved": summary["resolved"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rans", default="lte,nr")
    ap.add_argument("--devices", default="10,50,100")
    ap.add_argument("--servers", type=int, default=9)
    ap.add_argument("--rules", default="least-loaded,local")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    runs = []
    for ran in args.rans.split(","):
        for rule in args.rules.split(","):
            for n in map(int, args.devices.split(",")):
                r = run(ran, n, args.servers, rule, args.steps, args.seed)
                runs.append(r)
                print(json.dumps(r), flush=True)
    for r in runs:
        base = next(x for x in runs if (x["ran"], x["rule"]) == (r["ran"], r["rule"])
                    and x["devices"] == min(int(d) for d in args.devices.split(",")))
        r["cost_vs_smallest_n"] = round(r["wall_s_per_sim_s"] / base["wall_s_per_sim_s"], 2)
    report = {**stamp({"load_avg_start": load0, "load_avg_end": os.getloadavg(),
                       "wall_s": round(time.perf_counter() - t0, 1)}), "runs": runs}
    write_json_atomic(OUT / "mec_ns3_speed.json", report)
    lines = ["# mec-offload speed (packet-level MEC), simulated s per wall s", "",
             f"Generated {report['created_utc']}; command `{report['command']}`; "
             f"load average {load0} at start, {report['load_avg_end']} at end; machine "
             f"{report['machine']}.", "",
             f"One episode of {args.steps} decision steps (0.1 s) + 0.5 s warm-up per run "
             f"through the agent server, K = {args.servers}. `cost` = wall s per simulated s "
             "relative to the smallest N of the same RAN and rule.", "",
             "| RAN | rule | N | cells | sim s / wall s | wall s / sim s | cost | uplink MB | "
             "tasks done |", "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['ran']} | {r['rule']} | {r['devices']} | {r['cells']} | "
                     f"{r['sim_s_per_wall_s']:.3f} "
                     f"| {r['wall_s_per_sim_s']:.2f} | {r['cost_vs_smallest_n']:.1f}x | "
                     f"{r['uplink_bytes'] / 1e6:.1f} | {r['completed']:g}/{r['resolved']:g} |")
    write_atomic(OUT / "mec_ns3_speed.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
