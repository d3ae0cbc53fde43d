"""Every learner against APS on the analytic XR model: Table IV-style % change with 95 % CIs.

For each (learner, ring, seed): train with ``Trainer`` for ``--steps`` windows, then evaluate
the greedy policy with the project's ``evaluate_policy`` on ``--eval-episodes`` episodes whose
seeds are shared with APS (common random numbers). The % change vs APS of each KPI is taken
per seed, then averaged over seeds with a 95 % t-interval across seeds (training variance).

    nice -n 10 python benchmarks/learners_vs_aps.py --rings 400 --seeds 3 --steps 12000 \
        --jobs 2 --out benchmarks/results/learners_vs_aps.json

The paper's bar (seed 002, Table IV, MHA-DQMIX vs APS): XR index >= +10.7 %, jitter <= -41.4 %,
delay <= -33.3 %, PLR <= -67.9 % at 400 m, and no KPI worse than APS at 200/300 m.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

KPIS = ("xr_index", "jitter_ms", "delay_ms", "plr", "throughput_mbps")
HIGHER_IS_BETTER = {"xr_index": True, "jitter_ms": False, "delay_ms": False, "plr": False,
                    "throughput_mbps": True}
PAPER_BAR_MHA_DQMIX_400 = {"xr_index": 10.7, "jitter_ms": -41.4, "delay_ms": -33.3, "plr": -67.9}
EVAL_SEED = 50_000  # far from the training episode seeds


def _env_factory(ring: float, episode_limit: int | None):
    from xr_codec_marl.env.factory import make_env

    kw = {} if episode_limit is None else {"episode_limit": episode_limit}
    return lambda n, seed=0: make_env("xr", "analytic", num_envs=n, ring_m=ring, seed=seed, **kw)


def evaluate(policy: Any, ring: float, episodes: int, episode_limit: int | None) -> dict[str, float]:
    from xr_codec_marl.experiments.evaluation import evaluate_policy

    make = _env_factory(ring, episode_limit)
    res = evaluate_policy(lambda n: make(n), policy, episodes, EVAL_SEED, "analytic",
                          batch_size=min(episodes, 64))
    s = res.summary()
    return {k: float(s["kpis"][k]) for k in KPIS} | {"reward_" + k: float(v) for k, v in s["rewards"].items()}


def train_and_eval(job: dict[str, Any]) -> dict[str, Any]:
    """One (algo, ring, seed) run in its own process."""
    from xr_codec_marl.learners.config import build_config
    from xr_codec_marl.learners.policy import CheckpointPolicy
    from xr_codec_marl.learners.registry import get_algo
    from xr_codec_marl.learners.trainer import Trainer

    cfg = build_config(None, job["overrides"])
    env = _env_factory(job["ring"], job["episode_limit"])(cfg.num_envs, job["seed"])
    out = Path(job["runs_dir"]) / f"{job['algo']}-{int(job['ring'])}m-s{job['seed']}"
    t0 = time.perf_counter()
    c0 = time.process_time()
    trainer = Trainer(env, get_algo(job["algo"]), cfg, job["seed"], out_dir=out)
    trainer.train(job["steps"], progress=False)
    train_wall, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    env.close()
    policy = CheckpointPolicy.from_checkpoint(out, env.spec)
    kpis = evaluate(policy, job["ring"], job["eval_episodes"], job["episode_limit"])
    return {"algo": job["algo"], "ring_m": job["ring"], "seed": job["seed"], "kpis": kpis,
            "env_steps": trainer.env_steps, "train_steps": trainer.learner.train_steps,
            "train_wall_s": round(train_wall, 2), "train_cpu_s": round(train_cpu, 2)}


class ConstantPolicy:
    """Every agent always picks action ``k`` (rate index): a reference for what no adaptation gets."""

    def __init__(self, spec: Any, k: int) -> None:
        self.name, self.spec, self.k = f"const-{k}", spec, k

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        pass

    def act(self, step: Any, explore: bool = False) -> np.ndarray:
        return np.full(step.avail_actions.shape[:2], self.k, dtype=np.int64)


def constant_evals(ring: float, episodes: int, episode_limit: int | None) -> dict[str, dict[str, float]]:
    """KPIs of each constant-rate policy (all agents at rate index k), same seeds as APS."""
    spec = _env_factory(ring, episode_limit)(1).spec
    return {f"const-{k}": evaluate(ConstantPolicy(spec, k), ring, episodes, episode_limit)
            for k in range(spec.n_actions)}


def team_reward(kpis: dict[str, float]) -> float:
    return float(sum(v for k, v in kpis.items() if k.startswith("reward_")))


def aps_eval(ring: float, episodes: int, episode_limit: int | None) -> dict[str, float]:
    from xr_codec_marl.baselines import make_policy

    spec = _env_factory(ring, episode_limit)(1).spec
    return evaluate(make_policy("aps", spec), ring, episodes, episode_limit)


def table(runs: list[dict[str, Any]], aps: dict[float, dict[str, float]]) -> list[dict[str, Any]]:
    """Per (algo, ring): mean % change vs APS over seeds with 95 % CI half-width."""
    from xr_codec_marl.experiments.stats import mean_ci95

    rows = []
    for algo in dict.fromkeys(r["algo"] for r in runs):
        for ring in sorted({r["ring_m"] for r in runs if r["algo"] == algo}):
            sel = [r for r in runs if r["algo"] == algo and r["ring_m"] == ring]
            row: dict[str, Any] = {"algo": algo, "ring_m": ring, "seeds": len(sel)}
            for k in KPIS:
                base = aps[ring][k]
                pct = np.array([100.0 * (r["kpis"][k] - base) / base for r in sel])
                m, h = mean_ci95(pct)
                row[f"{k}_pct"] = round(float(m), 2)
                row[f"{k}_ci95"] = None if np.isnan(h) else round(float(h), 2)
                row[f"{k}_mean"] = round(float(np.mean([r["kpis"][k] for r in sel])), 4)
            row["worse_than_aps"] = [
                k for k in KPIS[:4]
                if (row[f"{k}_pct"] < 0) == HIGHER_IS_BETTER[k] and row[f"{k}_pct"] != 0
            ]
            rows.append(row)
    return rows


def _git_commit() -> str:
    """HEAD commit (plus "+dirty" if tracked files changed): the model version the numbers belong to."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    from xr_codec_marl.learners.registry import ALGO_NAMES

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algos", default=",".join(ALGO_NAMES))
    p.add_argument("--rings", default="400")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=12_000)
    p.add_argument("--eval-episodes", type=int, default=64)
    p.add_argument("--episode-limit", type=int, default=None)
    p.add_argument("--set", action="append", default=[], help="learner setting key=value")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--runs-dir", default="/tmp/xr-marl-bench-runs")
    p.add_argument("--out", default="benchmarks/results/learners_vs_aps.json")
    args = p.parse_args(argv)
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    rings = [float(r) for r in args.rings.split(",")]
    overrides = list(args.set) + ["tensorboard=false"]
    jobs = [dict(algo=a, ring=ring, seed=s, steps=args.steps, overrides=overrides,
                 eval_episodes=args.eval_episodes, episode_limit=args.episode_limit,
                 runs_dir=args.runs_dir)
            for ring in rings for a in algos for s in range(args.seeds)]
    t0 = time.perf_counter()
    env_commit = _git_commit()
    aps = {ring: aps_eval(ring, args.eval_episodes, args.episode_limit) for ring in rings}
    constants = {ring: constant_evals(ring, args.eval_episodes, args.episode_limit) for ring in rings}
    runs: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for res in pool.map(train_and_eval, jobs):
            runs.append(res)
            print(f"{res['algo']:>10} {res['ring_m']:.0f} m seed {res['seed']}: "
                  f"XR {res['kpis']['xr_index']:.3f} (APS {aps[res['ring_m']]['xr_index']:.3f}) "
                  f"delay {res['kpis']['delay_ms']:.2f} plr {res['kpis']['plr']:.4f} "
                  f"thr {res['kpis']['throughput_mbps']:.1f}  [{res['train_wall_s']} s]", flush=True)
    rows = table(runs, aps)
    result = {
        "benchmark": "learners_vs_aps",
        "command": " ".join([sys.executable, *sys.argv]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "loadavg_at_end": os.getloadavg()},
        "code_commit": env_commit,
        "settings": {"steps": args.steps, "seeds": args.seeds, "rings": rings,
                     "eval_episodes": args.eval_episodes, "eval_seed": EVAL_SEED,
                     "overrides": overrides, "episode_limit": args.episode_limit},
        "aps": {str(int(r)): v for r, v in aps.items()},
        "table": rows,
        "constant_rate_policies": {str(int(r)): v for r, v in constants.items()},
        "team_reward": {
            "aps": {str(int(r)): team_reward(v) for r, v in aps.items()},
            "best_constant": {str(int(r)): max((team_reward(v), k) for k, v in c.items())
                              for r, c in constants.items()},
            "learners": {f"{a}@{int(r)}": float(np.mean([team_reward(x["kpis"]) for x in runs
                                                          if x["algo"] == a and x["ring_m"] == r]))
                         for a in dict.fromkeys(x["algo"] for x in runs) for r in rings},
        },
        "paper_bar_mha_dqmix_400m_pct": PAPER_BAR_MHA_DQMIX_400,
        "runs": runs,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\n{'algo':>10} {'ring':>5} " + " ".join(f"{k[:8]:>16}" for k in KPIS[:4]))
    for r in rows:
        cells = " ".join(f"{r[f'{k}_pct']:+7.1f}±{(r[f'{k}_ci95'] or float('nan')):<7.1f} " for k in KPIS[:4])
        print(f"{r['algo']:>10} {r['ring_m']:>5.0f} {cells}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
