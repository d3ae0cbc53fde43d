"""Why a value learner runs every MEC task locally: its Q-values per action, where it chooses.

Plays ``--episodes`` episodes of the MEC twin with a value learner's greedy policy and, over
the windows where an agent has more than one available action, averages the learner's summed
Q-value of each action and counts which action is the argmax. A learner that settled on
always-local shows local's Q above every offload's in (nearly) every such window.

    .venv/bin/python benchmarks/mec_value_probe.py --run /tmp/mec-t1/n50k9/iql-40000-s0 \\
        --devices 50 --servers 9 --tag mec_value_probe_n50

Outputs ``benchmarks/results/<tag>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xr_codec_marl.env.factory import make_env  # noqa: E402
from xr_codec_marl.experiments.results import write_json_atomic  # noqa: E402
from xr_codec_marl.learners.policy import CheckpointPolicy, load_policy  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, help="a value learner's run directory")
    p.add_argument("--devices", type=int, default=10)
    p.add_argument("--servers", type=int, default=3)
    p.add_argument("--episodes", type=int, default=4)
    p.add_argument("--seed", type=int, default=100)
    p.add_argument("--tag", default="mec_value_probe")
    args = p.parse_args()
    env = make_env("mec", "analytic", num_envs=args.episodes, seed=args.seed,
                   devices=args.devices, servers=args.servers)
    policy = load_policy(args.run, env.spec)
    if not isinstance(policy, CheckpointPolicy):
        p.error(f"--run {args.run}: not a value learner's run")
    policy.reset(args.episodes, 0)
    step, prev, rows = env.reset(seed=args.seed), None, []
    for _ in range(env.spec.episode_limit):
        avail = np.asarray(step.avail_actions, bool)
        q = np.where(avail, policy.q_values(step, prev).sum(2), -np.inf)  # [B, N, A]
        choice = avail.sum(-1) > 1
        rows.append(q[choice])
        prev = q.argmax(-1)
        step = env.step(prev)
    q = np.concatenate(rows)
    q[~np.isfinite(q)] = np.nan
    labels = list(env.spec.agents[0].space.labels)
    best = np.bincount(np.nanargmax(q, 1), minlength=q.shape[1])
    mean = np.nanmean(q, 0)
    data = {"run": args.run, "devices": args.devices, "servers": args.servers,
            "episodes": args.episodes, "eval_seed": args.seed, "choice_windows": int(len(q)),
            "actions": labels, "mean_q": mean.round(4).tolist(),
            "argmax_count": best.tolist(),
            "local_minus_best_offload": float(mean[0] - np.nanmax(mean[1:])),
            "machine": platform.platform(), "load_average": os.getloadavg(),
            "command": " ".join(sys.argv), "time_utc": time.strftime("%Y-%m-%d %H:%M:%S",
                                                                     time.gmtime())}
    write_json_atomic(ROOT / "benchmarks" / "results" / f"{args.tag}.json", data)
    top = np.argsort(-mean)[:5]
    print(f"{len(q)} choice windows; argmax of {labels[int(best.argmax())]} in "
          f"{best.max()}/{len(q)}; highest mean Q: "
          + ", ".join(f"{labels[i]} {mean[i]:.2f}" for i in top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
