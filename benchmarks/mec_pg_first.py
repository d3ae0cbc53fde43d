"""A first, short measurement of the policy-gradient learners on the MEC twin (issue 15).

multi-mec with N devices and K servers on the analytic twin: MAPPO, IPPO and IMAPPO on the
hybrid action space (``--actions hybrid``: target head + continuous fraction and power),
IMAPPO on the discrete product space, and the value learners IQL and QMIX (discrete), each
trained for ``--steps`` windows from one seed, then evaluated greedily beside the rules on
``--episodes`` episodes (evaluation seed 100, common to all). Training throughput is env
windows per second of training wall time, learning included (``log.csv``'s ``wall_s``).

This is a short-budget first look, not seed 001's Table 1: one training seed, a small
network, windows counted in thousands. Read the CIs as across-episode spread only.

    nice -n 10 .venv/bin/python benchmarks/mec_pg_first.py --runs /tmp/mec-pg

Outputs ``benchmarks/results/mec_pg_first.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
XR_MARL = str(Path(sys.executable).with_name("xr-marl"))

#: (label, algo, action space, extra --set)
LEARNERS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("mappo (hybrid)", "mappo", "hybrid", ()),
    ("ippo (hybrid)", "ippo", "hybrid", ()),
    ("imappo (hybrid)", "imappo", "hybrid", ()),
    ("imappo (discrete)", "imappo", "discrete", ()),
    ("iql", "iql", "discrete", ()),
    ("qmix", "qmix", "discrete", ()),
)
RULES = ("least-loaded", "greedy", "vcg", "nearest", "local")
KPIS = ("completion_pct", "response_time_s", "tasks_per_j", "aoi_mean_s", "deadline_pct")


def _scenario(args: argparse.Namespace, actions: str) -> list[str]:
    return ["--env", "mec", "--devices", str(args.devices), "--servers", str(args.servers),
            "--actions", actions]


def _train(args: argparse.Namespace, label: str, algo: str, actions: str,
           sets: tuple[str, ...]) -> dict[str, Any]:
    out = Path(args.runs) / label.replace(" ", "_").replace("(", "").replace(")", "")
    cmd = [XR_MARL, "train", *_scenario(args, actions), "--algo", algo, "--steps",
           str(args.steps), "--seed", str(args.seed), "--out", str(out), "--no-progress",
           "--set", "tensorboard=false", *[x for s in sets for x in ("--set", s)]]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with (out / "log.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    last = rows[-1]
    steps, wall = int(last["env_steps"]), float(last["wall_s"])
    return {"run": str(out), "env_steps": steps, "train_wall_s": wall,
            "windows_per_s": steps / wall if wall > 0 else None}


def _evaluate(args: argparse.Namespace, policy: str, actions: str) -> dict[str, Any]:
    cmd = [XR_MARL, "evaluate", *_scenario(args, actions), "--policy", policy, "--episodes",
           str(args.episodes), "--seed", "100", "--json"]
    res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    team = sum(res["rewards"].values())
    return {"kpis": {k: res["kpis"].get(k) for k in KPIS},
            "ci95": {k: res.get("ci95", {}).get(k) for k in KPIS},
            "team_reward": team, "rewards": res["rewards"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", required=True, help="run directories (resumed if present)")
    p.add_argument("--devices", type=int, default=10)
    p.add_argument("--servers", type=int, default=3)
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tag", default="mec_pg_first")
    p.add_argument("--algos", default=",".join(dict.fromkeys(a for _, a, _, _ in LEARNERS)),
                   help="learners to train (comma-separated algo names)")
    args = p.parse_args()
    rows: list[dict[str, Any]] = []
    t0 = time.time()
    load_start = os.getloadavg()
    for label, algo, actions, sets in LEARNERS:
        if algo not in args.algos.split(","):
            continue
        info = _train(args, label, algo, actions, sets)
        rows.append({"policy": label, "kind": "learner", "actions": actions, **info,
                     **_evaluate(args, info["run"], actions)})
        print(f"{label}: {rows[-1]['team_reward']:.3f}", file=sys.stderr)
    for rule in RULES:
        rows.append({"policy": rule, "kind": "rule", "actions": "discrete",
                     **_evaluate(args, rule, "discrete")})
    data = {"devices": args.devices, "servers": args.servers, "steps": args.steps,
            "episodes": args.episodes, "train_seed": args.seed, "eval_seed": 100,
            "machine": platform.platform(), "cpus": os.cpu_count(),
            "wall_s": time.time() - t0, "load_average_start": load_start,
            "load_average_end": os.getloadavg(), "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS / f"{args.tag}.json.tmp"
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(RESULTS / f"{args.tag}.json")
    (RESULTS / f"{args.tag}.md").write_text(_table(data))
    print(_table(data))
    return 0


def _table(data: dict[str, Any]) -> str:
    def cell(row: dict[str, Any], k: str) -> str:
        v, ci = row["kpis"][k], row["ci95"].get(k)
        return "n/a" if v is None else (f"{v:.3g} ± {ci:.2g}" if ci is not None else f"{v:.3g}")

    lines = [f"# Learners and rules on the MEC twin: N = {data['devices']}, "
             f"K = {data['servers']}, {data['steps']} training windows, 1 seed",
             "", f"Greedy evaluation, {data['episodes']} episodes (seed 100); ± is the 95 % "
             "CI across episodes. windows/s: training throughput, learning included, on "
             f"{data['cpus']} CPUs (load average at the start "
             f"{', '.join(f'{x:.1f}' for x in data.get('load_average_start', ()))}: shared "
             "with other runs, so read throughput as rough). A run trained by an earlier "
             "invocation keeps its throughput of then.", "",
             "| policy | actions | team reward | completion % | response s | tasks/J | "
             "AoI s | deadline % | windows/s |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in data["rows"]:
        wps = f"{r['windows_per_s']:.0f}" if r.get("windows_per_s") else "—"
        lines.append(f"| {r['policy']} | {r['actions']} | {r['team_reward']:.3f} | "
                     + " | ".join(cell(r, k) for k in KPIS) + f" | {wps} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
