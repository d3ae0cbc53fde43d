"""Training throughput of mha-dqmix on the analytic XR model, and wall time to first beat APS.

Measures, at batch 32 episodes (Table II) and ``--num-envs`` environment copies:

1. collection only: env windows/s with the ε-greedy agents acting (no learning);
2. training: env windows/s including learning (the default one gradient step per rollout);
3. gradient steps/s of ``Learner.train`` alone on sampled batches of 32 episodes;
4. wall time until the greedy policy first beats APS at 400 m, evaluating every
   ``--eval-every`` windows on ``--eval-episodes`` episodes that share seeds with APS: on XR
   index (the issue's criterion; on this model any policy that keeps rates moderate does
   that, so it comes early) and on the mean team reward (the learning objective, which also
   counts the data-rate ratio, so lowering rates alone does not win it), and on team reward
   against the best constant-rate policy (which only state-dependent adaptation can beat).

    nice -n 10 python benchmarks/train_throughput.py --out benchmarks/results/train_throughput.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learners_vs_aps import EVAL_SEED, _git_commit, aps_eval, constant_evals, evaluate, team_reward  # noqa: E402


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def main(argv: list[str] | None = None) -> int:
    from xr_codec_marl.env.factory import make_env
    from xr_codec_marl.learners.config import build_config
    from xr_codec_marl.learners.learner import epsilon_at
    from xr_codec_marl.learners.policy import CheckpointPolicy
    from xr_codec_marl.learners.registry import get_algo
    from xr_codec_marl.learners.trainer import Trainer

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algo", default="mha-dqmix")
    p.add_argument("--ring", type=float, default=400.0)
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--measure-windows", type=int, default=3200)
    p.add_argument("--grad-steps", type=int, default=20)
    p.add_argument("--beat-budget", type=int, default=16_000, help="max windows for the APS race")
    p.add_argument("--eval-every", type=int, default=1600)
    p.add_argument("--eval-episodes", type=int, default=32)
    p.add_argument("--race-set", action="append",
                   default=["grad_steps_per_rollout=4", "epsilon_anneal_steps=4000", "lr=1e-3"],
                   help="learner settings for the APS race (short-budget settings)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/train_throughput.json")
    args = p.parse_args(argv)
    algo = get_algo(args.algo)
    base = [f"num_envs={args.num_envs}", "batch_size=32", "tensorboard=false"]

    def env_for(cfg: Any) -> Any:
        return make_env("xr", "analytic", num_envs=cfg.num_envs, ring_m=args.ring, seed=args.seed)

    # 1-3: throughput with the default settings (Table II / config defaults)
    cfg = build_config(None, base)
    env = env_for(cfg)
    trainer = Trainer(env, algo, cfg, args.seed)
    warm = cfg.batch_size * env.spec.episode_limit  # until learning starts
    w0, c0 = _clock()
    trainer.train(warm, progress=False)
    w1, c1 = _clock()
    collect = {"windows": trainer.env_steps, "wall_s": w1 - w0, "cpu_s": c1 - c0,
               "windows_per_s": trainer.env_steps / (w1 - w0)}
    s0, g0 = trainer.env_steps, trainer.learner.train_steps
    trainer.train(s0 + args.measure_windows, progress=False)
    w2, c2 = _clock()
    training = {"windows": trainer.env_steps - s0, "grad_steps": trainer.learner.train_steps - g0,
                "wall_s": w2 - w1, "cpu_s": c2 - c1,
                "windows_per_s": (trainer.env_steps - s0) / (w2 - w1)}
    rng = np.random.default_rng(0)
    batches = [trainer.buffer.sample(32, rng) for _ in range(args.grad_steps)]
    w3, c3 = _clock()
    for b in batches:
        trainer.learner.train(b)
    w4, c4 = _clock()
    grads = {"steps": args.grad_steps, "wall_s": w4 - w3, "cpu_s": c4 - c3,
             "steps_per_s": args.grad_steps / (w4 - w3), "steps_per_cpu_s": args.grad_steps / (c4 - c3)}
    env.close()
    print(f"collection {collect['windows_per_s']:.0f} win/s; training {training['windows_per_s']:.0f} "
          f"win/s incl. learning; {grads['steps_per_s']:.2f} gradient steps/s", flush=True)

    # 4: race against APS
    aps = aps_eval(args.ring, args.eval_episodes, None)
    cfg = build_config(None, base + list(args.race_set))
    env = env_for(cfg)
    out_dir = Path("/tmp") / f"xr-marl-race-{os.getpid()}"
    trainer = Trainer(env, algo, cfg, args.seed, out_dir=out_dir)
    history = []
    beat_at = None  # first evaluation with XR index above APS (the criterion)
    beat_reward_at = None  # first evaluation with mean team reward above APS (the objective)
    beat_const_at = None  # first evaluation with team reward above the best constant-rate policy
    aps_reward = team_reward(aps)
    consts = constant_evals(args.ring, args.eval_episodes, None)
    best_const_reward, best_const = max((team_reward(v), k) for k, v in consts.items())
    # the untrained greedy policy is itself a constant-rate policy: start the race once learning does
    t = time.perf_counter()
    trainer.train(max(cfg.learning_starts, cfg.batch_size) * env.spec.episode_limit, progress=False, log=False)
    train_wall = time.perf_counter() - t
    t_start = time.perf_counter()
    while trainer.env_steps < args.beat_budget:
        t = time.perf_counter()
        trainer.train(trainer.env_steps + args.eval_every, progress=False, log=False)
        train_wall += time.perf_counter() - t
        policy = CheckpointPolicy.from_checkpoint(out_dir, env.spec)
        kpis = evaluate(policy, args.ring, args.eval_episodes, None)
        reward = team_reward(kpis)
        history.append({"windows": trainer.env_steps, "train_wall_s": round(train_wall, 2),
                        "epsilon": round(epsilon_at(trainer.env_steps, cfg), 3),
                        "xr_index": kpis["xr_index"], "aps_xr_index": aps["xr_index"],
                        "train_steps": trainer.learner.train_steps,
                        "team_reward": reward, "aps_team_reward": aps_reward,
                        "best_constant_team_reward": best_const_reward,
                        "delay_ms": kpis["delay_ms"], "plr": kpis["plr"],
                        "throughput_mbps": kpis["throughput_mbps"],
                        "aps_throughput_mbps": aps["throughput_mbps"]})
        print(history[-1], flush=True)
        if beat_at is None and kpis["xr_index"] > aps["xr_index"]:
            beat_at = history[-1]
        if beat_reward_at is None and reward > aps_reward:
            beat_reward_at = history[-1]
        if beat_const_at is None and reward > best_const_reward:
            beat_const_at = history[-1]
        if None not in (beat_at, beat_reward_at, beat_const_at):
            break
    env.close()
    result = {
        "benchmark": "train_throughput",
        "command": " ".join([sys.executable, *sys.argv]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "loadavg_at_end": os.getloadavg(),
                    "note": "2 cores shared with other engineers' jobs; wall times include contention"},
        "code_commit": _git_commit(),
        "algo": algo.name, "ring_m": args.ring, "num_envs": args.num_envs, "batch_size": 32,
        "episode_limit": env.spec.episode_limit,
        "collection_only": collect, "training": training, "gradient_steps": grads,
        "race_vs_aps": {"settings": args.race_set, "eval_episodes": args.eval_episodes,
                        "eval_seed": EVAL_SEED, "aps": aps, "history": history,
                        "first_beat_xr_index": beat_at,
                        "first_beat_team_reward": beat_reward_at,
                        "best_constant": {"policy": best_const, "team_reward": best_const_reward},
                        "first_beat_best_constant_team_reward": beat_const_at,
                        "note": "evaluations start once learning starts (32 episodes); train_wall_s "
                                "counts training only (no evaluation), from the run's start",
                        "total_wall_s": round(time.perf_counter() - t_start, 1)},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
