#!/usr/bin/env python3
"""Seed 001's Table 1 shape on the packet-level MEC scenario: rules and two learners trained
on the twin, evaluated on ns-3 (and on the twin, the same seeds, beside it).

    python benchmarks/mec_ns3_table1.py train --runs /tmp/mec-ns3-runs   # on the twin
    python benchmarks/mec_ns3_table1.py eval --runs /tmp/mec-ns3-runs    # ns-3 + twin

The setting is seed 001's (N = 50 devices, K = 9 servers) on the ns-3 network (one LTE cell,
``--ran lte``: NR costs ~20x the wall time at N = 50, see mec_ns3_speed.md), episodes of
``--steps`` decision steps. ``train`` trains ``qmix`` and ``mha-dqmix`` with ``xr-marl train``
on the twin calibrated to that network (``--twin ns3-lte``); ``eval`` plays every rule and
both checkpoints on ns-3 and on the twin, ``--episodes`` episodes each (seeds 0, 1, ...), and
writes benchmarks/results/mec_ns3_table1.{json,md}: per policy completion %, response time,
energy efficiency (tasks/J), mean AoI, team reward (mean ± 95 % CI over episodes), on both
backends, and the sim-to-real gap of each.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xr_codec_marl.baselines import make_policy  # noqa: E402
from xr_codec_marl.env.factory import make_env  # noqa: E402
from xr_codec_marl.experiments.results import stamp, write_atomic, write_json_atomic  # noqa: E402
from xr_codec_marl.experiments.stats import mean_ci95  # noqa: E402
from xr_codec_marl.scenarios.mec.ns3 import mec_ns3_env  # noqa: E402
from xr_codec_marl.scenarios.mec.settings import TWINS, preset  # noqa: E402

OUT = ROOT / "benchmarks" / "results"
XR_MARL = str(Path(sys.executable).with_name("xr-marl"))
N, K = 50, 9
RULES = ("local", "nearest", "least-loaded", "greedy", "min-energy", "vcg")
LEARNERS = {"qmix": 12_000, "mha-dqmix": 8_000}
#: as benchmarks/mec_learners.py (budgets below 200 gradient steps need a faster target)
LEARNER_SETTINGS = {"grad_steps_per_rollout": 4, "learning_starts": 16, "batch_size": 16,
                    "lr": 1e-3, "target_update_interval": 25, "checkpoint_every_s": 60}
COLUMNS = ("completion_pct", "response_time_s", "tasks_per_j", "aoi_mean_s", "team_reward")


def train(args: argparse.Namespace) -> None:
    for algo, steps in LEARNERS.items():
        out = Path(args.runs) / algo
        if (out / "checkpoint.pt").exists() and not args.retrain:
            print(f"{algo}: checkpoint exists, kept", flush=True)
            continue
        cmd = [XR_MARL, "train", "--env", "mec", "--devices", str(N), "--servers", str(K),
               "--twin", "ns3-lte", "--episode-limit", str(args.steps), "--algo", algo,
               "--seed", "0", "--steps", str(steps), "--out", str(out), "--no-progress"]
        for k, v in {**LEARNER_SETTINGS, "epsilon_anneal_steps": int(0.4 * steps)}.items():
            cmd += ["--set", f"{k}={v}"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        print(f"{algo}: trained {steps} windows in {time.perf_counter() - t0:.0f} s", flush=True)


def play(env, policy, seed: int) -> list[dict]:
    """One batch of episodes: per episode the Table 1 columns from its event totals."""
    policy.reset(env.num_envs, seed=seed)
    obs = env.reset(seed=seed)
    g = env.spec.global_kpi_names
    b = env.num_envs
    tot = np.zeros((b, len(g)))
    resp, aoi, reward, steps = np.zeros(b), np.zeros(b), np.zeros(b), np.zeros(b)
    done = np.zeros(b, bool)
    while not done.all():
        res = env.step(policy.act(obs))
        live = np.asarray(res.info.get("measured", np.ones(b, bool)), bool) & ~done
        kp = np.asarray(res.info["global_kpis"], np.float64)
        tot += kp * live[:, None]
        resp += kp[:, g.index("response_time_s")] * kp[:, g.index("completed")] * live
        aoi += kp[:, g.index("aoi_mean_s")] * live
        reward += np.asarray(res.rewards, np.float64).sum(-1) * live
        steps += live
        done |= res.terminated | res.truncated
        obs = res
    c = lambda name: tot[:, g.index(name)]  # noqa: E731
    return [{"completion_pct": 100 * c("completed")[i] / max(c("resolved")[i], 1),
             "response_time_s": resp[i] / max(c("completed")[i], 1),
             "tasks_per_j": c("completed")[i] / max(c("energy_j")[i], 1e-12),
             "aoi_mean_s": aoi[i] / max(steps[i], 1),
             "team_reward": reward[i] / max(steps[i], 1),
             "offload_share": c("uploads")[i] / max(c("energy_tasks")[i], 1)} for i in range(b)]


def evaluate(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    load0 = os.getloadavg()
    policies = {r: r for r in RULES}
    for algo in LEARNERS:
        ckpt = Path(args.runs) / algo / "checkpoint.pt"
        if ckpt.exists():
            policies[algo] = str(ckpt)
    twin = preset("multi-mec", devices=N, servers=K, episode_limit=args.steps,
                  **TWINS["ns3-lte"])
    rows = []
    for name, ref in policies.items():
        row = {"policy": name}
        for backend in ("ns3", "twin"):
            eps: list[dict] = []
            if backend == "ns3":
                env = mec_ns3_env(preset("multi-mec", devices=N, servers=K,
                                         episode_limit=args.steps, ran="lte"),
                                  workers=args.workers, timeout_s=600.0, connect_timeout_s=600.0)
            else:
                env = make_env("mec", "analytic", num_envs=args.episodes,
                               **{k: v for k, v in twin.to_dict().items()
                                  if k in ("devices", "servers", "episode_limit",
                                           *TWINS["ns3-lte"])})
            try:
                policy = make_policy(ref, env.spec)
                for seed in range(0, args.episodes, env.num_envs):
                    eps += play(env, policy, seed)
            finally:
                env.close()
            eps = eps[:args.episodes]
            row[backend] = {m: tuple(float(x) for x in mean_ci95([e[m] for e in eps]))
                            for m in (*COLUMNS, "offload_share")}
        print(name, {b: {m: round(row[b][m][0], 3) for m in COLUMNS} for b in ("ns3", "twin")},
              flush=True)
        rows.append(row)
    report = {**stamp({"load_avg_start": load0, "load_avg_end": os.getloadavg(),
                       "wall_s": round(time.perf_counter() - t0, 1)}),
              "devices": N, "servers": K, "steps": args.steps, "episodes": args.episodes,
              "ran": "lte", "twin": TWINS["ns3-lte"], "learners": LEARNERS,
              "learner_settings": LEARNER_SETTINGS, "rows": rows}
    write_json_atomic(OUT / "mec_ns3_table1.json", report)
    write_atomic(OUT / "mec_ns3_table1.md", markdown(report))


def markdown(r: dict) -> str:
    best = max(r["rows"], key=lambda x: x["ns3"]["team_reward"][0])["policy"]
    lines = [
        "# Seed 001's Table 1 shape on ns-3 (mec-offload, LTE) and on the twin", "",
        f"Generated {r['created_utc']}; command `{r['command']}`; load {r['load_avg_start']} "
        f"-> {r['load_avg_end']}; machine {r['machine']}.", "",
        f"N = {r['devices']}, K = {r['servers']}, one LTE cell (20 MHz); {r['episodes']} "
        f"episodes of {r['steps']} steps per policy and backend, seeds 0..; mean ± 95 % CI. "
        f"Learners trained on the twin calibrated to this network (`--twin ns3-lte`: "
        f"{r['twin']}), budgets {r['learners']} windows. Team reward = mean per step of the "
        "five components (equal weights, 0–5). Best on ns-3 by team reward: "
        f"**{best}**.", "",
        "| policy | backend | completion % | response s | tasks/J | AoI s | team reward | "
        "offloaded share |", "|---|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        for b in ("ns3", "twin"):
            v = row[b]
            lines.append(f"| {row['policy']} | {b} | " + " | ".join(
                f"{v[m][0]:.3g} ± {v[m][1]:.2g}" for m in (*COLUMNS, "offload_share")) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("phase", choices=("train", "eval"))
    ap.add_argument("--runs", default="/tmp/mec-ns3-runs")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--episodes", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--retrain", action="store_true")
    args = ap.parse_args()
    train(args) if args.phase == "train" else evaluate(args)


if __name__ == "__main__":
    main()
