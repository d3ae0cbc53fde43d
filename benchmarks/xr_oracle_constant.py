#!/usr/bin/env python3
"""How much is there to adapt to within an episode? Constants against an oracle (issue 14).

On the analytic twin, per ring, every constant rate ``fixed:K`` is played on the same
evaluation episodes (same seeds: the same channel draws). The *oracle constant* takes, for
each episode, the constant that did best in it, as if it knew the episode's channel in
advance; ``best-fixed`` is the single constant tuned on other seeds. If the oracle gains little
over ``best-fixed``, an episode's channel barely moves the best rate and a learner has little
reason to leave a constant; if APS (which adapts window by window) falls below both, reacting
to loss costs more than it returns. Team reward per window (sum of components) and
throughput, mean ± 95 % CI. Writes benchmarks/results/xr_oracle_constant.{json,md}.

    python benchmarks/xr_oracle_constant.py [--rings 200,300,400] [--episodes 32]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xr_codec_marl.baselines import make_policy  # noqa: E402
from xr_codec_marl.env.factory import make_env  # noqa: E402
from xr_codec_marl.experiments.evaluation import evaluate_policy  # noqa: E402
from xr_codec_marl.experiments.results import stamp, write_atomic, write_json_atomic  # noqa: E402
from xr_codec_marl.experiments.stats import mean_ci95  # noqa: E402

OUT = ROOT / "benchmarks" / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rings", default="200,300,400")
    ap.add_argument("--episodes", type=int, default=32)
    args = ap.parse_args()
    t0, load0 = time.perf_counter(), os.getloadavg()
    rows = []
    for ring in map(float, args.rings.split(",")):
        spec = make_env("xr", "analytic", num_envs=1, ring_m=ring).spec

        def play(name: str) -> tuple[np.ndarray, np.ndarray]:
            r = evaluate_policy(lambda n: make_env("xr", "analytic", num_envs=n, ring_m=ring),
                                make_policy(name, spec), episodes=args.episodes, seed=0,
                                backend="analytic")
            return r.episode_rewards.sum(-1), r.team_values("throughput_mbps")

        const = [play(f"fixed:{k}") for k in range(spec.n_actions)]
        team = np.stack([c[0] for c in const])  # [K, E]
        thr = np.stack([c[1] for c in const])
        pick = team.argmax(0)  # the oracle's constant per episode
        e = np.arange(team.shape[1])
        best = make_policy("best-fixed", spec)
        out = {"oracle constant": (team[pick, e], thr[pick, e]),
               best.name: (team[best.k], thr[best.k]), "aps": play("aps")}
        for name, (tr, th) in out.items():
            m, h = mean_ci95(tr)
            tm, thh = mean_ci95(th)
            d, dh = mean_ci95(tr - out["aps"][0])
            rows.append({"ring_m": ring, "policy": name, "team_reward": [float(m), float(h)],
                         "team_reward_vs_aps": [float(d), float(dh)],
                         "throughput_mbps": [float(tm), float(thh)]})
        rows[-3]["oracle_picks"] = np.bincount(pick, minlength=spec.n_actions).tolist()
        print(rows[-3:], flush=True)
    report = {**stamp({"load_avg_start": load0, "load_avg_end": os.getloadavg(),
                       "wall_s": round(time.perf_counter() - t0, 1)}),
              "episodes": args.episodes, "rows": rows}
    write_json_atomic(OUT / "xr_oracle_constant.json", report)
    lines = ["# Constants vs an oracle constant vs APS (analytic twin, paper profile)", "",
             f"Generated {report['created_utc']}; command `{report['command']}`; machine "
             f"{report['machine']}.", "",
             f"{args.episodes} episodes per ring (seeds 0..), every policy on the same ones. "
             "Oracle constant: the best `fixed:K` of each episode, chosen after the fact.", "",
             "| ring | policy | team reward | vs APS (paired) | throughput Mbps | oracle's picks "
             "(fixed:0..9) |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['ring_m']:g} | {r['policy']} | {r['team_reward'][0]:.3f} ± "
                     f"{r['team_reward'][1]:.3f} | {r['team_reward_vs_aps'][0]:+.3f} ± "
                     f"{r['team_reward_vs_aps'][1]:.3f} | {r['throughput_mbps'][0]:.2f} ± "
                     f"{r['throughput_mbps'][1]:.2f} | {r.get('oracle_picks', '')} |")
    write_atomic(OUT / "xr_oracle_constant.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
