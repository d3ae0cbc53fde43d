"""Seed 001's Table 1 and Table 4 on the MEC twin, with several training seeds (issue 15).

``table1``: multi-mec with N = 50 devices and K = 9 servers. Every learner (IQL and QMIX on
the discrete product space; IPPO, MAPPO and IMAPPO on the hybrid space, IMAPPO also on the
discrete one) is trained for ``--steps`` windows from each of ``--seeds`` seeds, then
evaluated greedily on ``--episodes`` episodes of the common evaluation seed 100, beside every
rule on the same episodes. ``scaling``: Table 4's (N, K) pairs (10/3, 25/6, 50/9, 75/12,
100/15) for the learners named by ``--algos``, beside the best rule of each pair.

Columns: team reward (sum of the per-window mean reward components), completion %,
response time (latency), tasks per joule, mean AoI, deadline %, episodes to converge, and
training throughput (env windows per second of training wall time, learning included).

- Learners: mean over training seeds ± the 95 % t-interval across seeds (each seed's value
  is its run's mean over the evaluation episodes). Rules are deterministic given the
  episodes, so their ± is the 95 % t-interval across evaluation episodes.
- Episodes to converge: the training return smoothed over ``SMOOTH`` episodes; the first
  episode at which it has covered 90 % of the way from its first to its final level (the
  mean of the last 10 % of episodes). A run that never improves reports its first episode.
- Value learners use :func:`value_sets`: 4 gradient steps per rollout on batches of 16
  episodes (the default of 1 leaves them a few hundred updates in such a budget; issue 14
  found the same; 8 steps on batches of 32 cost about an hour per run at N = 50 on these 2
  CPUs), lr 1e-3, and ε annealed over 40 % of the budget. The policy-gradient learners use their defaults.

Runs are resumable (a run directory with a finished checkpoint is only evaluated; its
evaluation is cached in ``eval-<episodes>.json``), and ``--jobs`` runs trainings in
parallel. Read throughput as rough: the machine is shared and parallel jobs slow each other.

    nice -n 10 .venv/bin/python benchmarks/mec_table1.py table1 --runs /tmp/mec-t1 --jobs 2
    nice -n 10 .venv/bin/python benchmarks/mec_table1.py scaling --runs /tmp/mec-t4 \\
        --algos imappo,ippo --seeds 0

Outputs ``benchmarks/results/mec_table1.json``/``.md`` (or ``mec_table4``).
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from xr_codec_marl.experiments.stats import t_quantile_975

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
XR_MARL = str(Path(sys.executable).with_name("xr-marl"))

#: (label, algo, action space, extra --set)
LEARNERS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("iql", "iql", "discrete", ()),
    ("qmix", "qmix", "discrete", ()),
    ("ippo", "ippo", "hybrid", ()),
    ("mappo", "mappo", "hybrid", ()),
    ("imappo", "imappo", "hybrid", ()),
    ("imappo (value baseline)", "imappo", "hybrid", ("pg_baseline=value",)),
    ("imappo (discrete)", "imappo", "discrete", ()),
)
#: the labels run unless ``--algos`` names others
DEFAULT_LABELS = ("iql", "qmix", "ippo", "mappo", "imappo", "imappo (value baseline)")
VALUE_ALGOS = ("iql", "qmix", "vdn")
RULES = ("least-loaded", "greedy", "vcg", "nearest", "local")
#: seed 001's Table 4 pairs (devices, servers)
SCALING = ((10, 3), (25, 6), (50, 9), (75, 12), (100, 15))
KPIS = ("completion_pct", "response_time_s", "tasks_per_j", "aoi_mean_s", "deadline_pct")
HEAD = ("team reward", "completion %", "response s", "tasks/J", "AoI s", "deadline %")
SMOOTH = 20


def value_sets(steps: int) -> tuple[str, ...]:
    """The value learners' settings for a budget of ``steps`` windows (see the module doc)."""
    return ("grad_steps_per_rollout=4", "batch_size=16", "lr=1e-3",
            f"epsilon_anneal_steps={int(0.4 * steps)}")


def _scenario(n: int, k: int, actions: str) -> list[str]:
    return ["--env", "mec", "--devices", str(n), "--servers", str(k), "--actions", actions]


def _slug(label: str) -> str:
    return label.replace(" ", "_").replace("(", "").replace(")", "")


def converge_episode(returns: list[float], smooth: int = SMOOTH) -> int:
    """The first episode whose smoothed return has covered 90 % of the way from the first to
    the final level (see the module doc); 0-based, counted in training episodes."""
    r = np.asarray(returns, float)
    if r.size < smooth + 1:
        return int(r.size)
    m = np.convolve(r, np.ones(smooth) / smooth, mode="valid")  # m[j]: episodes j..j+smooth-1
    final = float(r[-max(1, r.size // 10):].mean())
    start = float(m[0])
    if final <= start:
        return 0
    hit = np.nonzero(m >= start + 0.9 * (final - start))[0]
    return int(hit[0] + smooth - 1) if hit.size else int(r.size)


def train_and_evaluate(args: argparse.Namespace, n: int, k: int, label: str, algo: str,
                       actions: str, sets: tuple[str, ...], seed: int) -> dict[str, Any]:
    """Train (or resume) one run, then evaluate it (cached); returns its row."""
    steps = args.value_steps if algo in VALUE_ALGOS and args.value_steps else args.steps
    budget = "" if steps == args.steps else f"-{steps}"
    out = Path(args.runs) / f"n{n}k{k}" / f"{_slug(label)}{budget}-s{seed}"
    sets = (*value_sets(steps), *sets) if algo in VALUE_ALGOS else sets
    cmd = [XR_MARL, "train", *_scenario(n, k, actions), "--algo", algo, "--steps",
           str(steps), "--seed", str(seed), "--out", str(out), "--no-progress",
           "--set", "tensorboard=false", *[x for s in sets for x in ("--set", s)]]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with (out / "log.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    done, wall = int(rows[-1]["env_steps"]), float(rows[-1]["wall_s"])
    cached = out / f"eval-{args.episodes}.json"
    if cached.is_file():
        ev = json.loads(cached.read_text())
    else:
        ev = evaluate(args, n, k, str(out), actions)
        tmp = cached.with_suffix(".tmp")
        tmp.write_text(json.dumps(ev))
        tmp.replace(cached)
    print(f"N={n} K={k} {label} seed {seed}: team {ev['team_reward']:.3f}", file=sys.stderr)
    return {"policy": label, "algo": algo, "actions": actions, "seed": seed, "run": str(out),
            "sets": list(sets), "budget": steps, "env_steps": done, "train_wall_s": wall,
            "windows_per_s": done / wall if wall > 0 else None,
            "converge_episode": converge_episode([float(r["return"]) for r in rows]),
            "train_episodes": len(rows), **ev}


def evaluate(args: argparse.Namespace, n: int, k: int, policy: str, actions: str) -> dict[str, Any]:
    cmd = [XR_MARL, "evaluate", *_scenario(n, k, actions), "--policy", policy, "--episodes",
           str(args.episodes), "--seed", "100", "--json"]
    res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return {"kpis": {q: res["kpis"].get(q) for q in KPIS},
            "ci95": {q: res.get("ci95", {}).get(q) for q in KPIS},
            "team_reward": sum(res["rewards"].values()), "rewards": res["rewards"]}


def _ci(values: list[float]) -> tuple[float, float]:
    x = np.asarray([v for v in values if v is not None], float)
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size < 2:
        return float(x.mean()), float("nan")
    return float(x.mean()), float(t_quantile_975(x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± 95 % CI across the seeds of one learner."""
    agg = {"team_reward": _ci([r["team_reward"] for r in runs]),
           "converge_episode": _ci([r["converge_episode"] for r in runs]),
           "windows_per_s": _ci([r["windows_per_s"] for r in runs])}
    for q in KPIS:
        agg[q] = _ci([r["kpis"][q] for r in runs])
    return {"seeds": [r["seed"] for r in runs], **agg}


def _fmt(pair: tuple[float, float] | list[float], digits: str = ".3g") -> str:
    m, ci = pair
    if m != m:
        return "n/a"
    return f"{m:{digits}}" if ci != ci else f"{m:{digits}} ± {ci:.2g}"


def run_pairs(args: argparse.Namespace, pairs: tuple[tuple[int, int], ...],
              learners: list[tuple[str, str, str, tuple[str, ...]]]) -> dict[str, Any]:
    jobs = [(n, k, *spec, seed) for n, k in pairs for spec in learners for seed in args.seeds]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        runs = list(pool.map(lambda j: train_and_evaluate(args, *j), jobs))
    out: dict[str, Any] = {}
    for n, k in pairs:
        key = f"N{n}_K{k}"
        rules = {rule: evaluate(args, n, k, rule, "discrete") for rule in RULES}
        best = max(rules, key=lambda r: rules[r]["team_reward"])
        learned = {}
        for label, *_ in learners:
            mine = [r for r in runs if r["policy"] == label and r["run"].split("/")[-2] == f"n{n}k{k}"]
            learned[label] = {"runs": mine, **aggregate(mine)}
        out[key] = {"devices": n, "servers": k, "learners": learned, "rules": rules,
                    "best_rule": best}
    return out


def table1_md(data: dict[str, Any]) -> str:
    cell = data["cells"][next(iter(data["cells"]))]
    lines = [f"# Seed 001's Table 1 on the MEC twin: N = {cell['devices']}, K = "
             f"{cell['servers']}, {data['steps']} training windows, seeds "
             f"{', '.join(map(str, data['seeds']))}", "", _notes(data), "",
             "| policy | actions | " + " | ".join(HEAD) + " | episodes to converge | windows/s |",
             "|---|---|" + "---:|" * (len(HEAD) + 2)]
    for label, agg in cell["learners"].items():
        acts = agg["runs"][0]["actions"] if agg["runs"] else "?"
        lines.append(f"| {label} | {acts} | {_fmt(agg['team_reward'], '.3f')} | "
                     + " | ".join(_fmt(agg[q]) for q in KPIS)
                     + f" | {_fmt(agg['converge_episode'], '.0f')} | "
                     f"{_fmt(agg['windows_per_s'], '.0f')} |")
    for rule, ev in cell["rules"].items():
        best = " (best rule)" if rule == cell["best_rule"] else ""
        lines.append(f"| {rule}{best} | discrete | {ev['team_reward']:.3f} | "
                     + " | ".join(_fmt((ev['kpis'][q], ev['ci95'].get(q) or float('nan')))
                                  for q in KPIS) + " | — | — |")
    return "\n".join(lines) + "\n"


def table4_md(data: dict[str, Any]) -> str:
    labels = list(next(iter(data["cells"].values()))["learners"])
    lines = [f"# Seed 001's Table 4 (scaling in N) on the MEC twin: {data['steps']} training "
             f"windows, seeds {', '.join(map(str, data['seeds']))}", "", _notes(data), "",
             "| N | K | policy | team reward | completion % | response s | AoI s | "
             "episodes to converge | windows/s |", "|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for cell in data["cells"].values():
        n, k = cell["devices"], cell["servers"]
        for label in labels:
            a = cell["learners"][label]
            lines.append(f"| {n} | {k} | {label} | {_fmt(a['team_reward'], '.3f')} | "
                         f"{_fmt(a['completion_pct'])} | {_fmt(a['response_time_s'])} | "
                         f"{_fmt(a['aoi_mean_s'])} | {_fmt(a['converge_episode'], '.0f')} | "
                         f"{_fmt(a['windows_per_s'], '.0f')} |")
        best = cell["best_rule"]
        ev = cell["rules"][best]
        lines.append(f"| {n} | {k} | {best} (best rule) | {ev['team_reward']:.3f} | "
                     f"{ev['kpis']['completion_pct']:.3g} | {ev['kpis']['response_time_s']:.3g} | "
                     f"{ev['kpis']['aoi_mean_s']:.3g} | — | — |")
    return "\n".join(lines) + "\n"


def _notes(data: dict[str, Any]) -> str:
    load = ", ".join(f"{x:.1f}" for x in data["load_average_start"])
    vsteps = data.get("value_steps") or data["steps"]
    return (f"Greedy evaluation on {data['episodes']} episodes of evaluation seed 100 (the "
            "same for every policy). Learners: mean over training seeds ± 95 % t-interval "
            "across seeds; rules: ± across evaluation episodes. Team reward: the sum of the "
            "per-window mean reward components. Episodes to converge: first training episode "
            f"whose {SMOOTH}-episode mean return covers 90 % of the way from its first to its "
            "final level. windows/s: training throughput with learning, on "
            f"{data['cpus']} shared CPUs, {data['jobs']} runs in parallel (load average at the "
            f"start {load}); a run trained by an earlier invocation keeps its throughput of "
            f"then. Value learners: {vsteps} windows"
            + (" (a smaller budget: they are several times slower per window)"
               if vsteps != data["steps"] else "")
            + f", {', '.join(value_sets(vsteps))}. Command: "
            f"`{data['command']}`. Machine: {data['machine']}."
            + (f" {data['note']}" if data.get("note") else ""))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=("table1", "scaling"))
    p.add_argument("--runs", required=True, help="run directories (resumed if present)")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    p.add_argument("--algos", default=None, help="labels of LEARNERS to run (comma-separated)")
    p.add_argument("--value-steps", type=int, default=None,
                   help="a smaller budget for the value learners (they are ~10x slower per "
                        "window at N = 50); the table says so")
    p.add_argument("--pairs", default=None, metavar="NxK,...",
                   help="scaling: only these (devices, servers) pairs, e.g. 10x3,25x6")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--tag", default=None)
    p.add_argument("--note", default="", help="a sentence for the table's notes (e.g. how the "
                                               "runs shared the machine)")
    args = p.parse_args()
    wanted = args.algos.split(",") if args.algos else list(DEFAULT_LABELS)
    learners = [x for x in LEARNERS if x[0] in wanted]
    if len(learners) != len(wanted):
        p.error(f"--algos: unknown label in {wanted}; known: {[x[0] for x in LEARNERS]}")
    pairs = ((50, 9),) if args.mode == "table1" else SCALING
    if args.pairs:
        pairs = tuple(tuple(int(v) for v in x.split("x")) for x in args.pairs.split(","))
    tag = args.tag or ("mec_table1" if args.mode == "table1" else "mec_table4")
    t0, load = time.time(), os.getloadavg()
    cells = run_pairs(args, pairs, learners)
    data = {"mode": args.mode, "steps": args.steps, "value_steps": args.value_steps,
            "episodes": args.episodes,
            "seeds": args.seeds, "jobs": args.jobs, "eval_seed": 100,
            "command": " ".join(sys.argv), "machine": platform.platform(),
            "cpus": os.cpu_count(), "wall_s": time.time() - t0, "load_average_start": load,
            "load_average_end": os.getloadavg(),
            "finished_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "note": args.note, "cells": cells}
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS / f"{tag}.json.tmp"
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(RESULTS / f"{tag}.json")
    md = table1_md(data) if args.mode == "table1" else table4_md(data)
    tmp_md = RESULTS / f"{tag}.md.tmp"
    tmp_md.write_text(md)
    tmp_md.replace(RESULTS / f"{tag}.md")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
