"""Rule policies on the analytic model: APS vs max / min / random at each ring.

    python benchmarks/baseline_kpis.py [--episodes 10] [--seeds 3] [--rings 200,300,400]

Each (policy, ring) runs ``episodes`` episodes for each of ``seeds`` seeds (seeds 0..S-1,
common random numbers across policies); KPIs are means over all those episodes with 95 %
t-intervals. Writes benchmarks/results/baseline_kpis.json and baseline_kpis.md, the numbers
later issues compare learners against.
"""

from __future__ import annotations

import argparse

import numpy as np

from xr_codec_marl.baselines import make_policy
from xr_codec_marl.env.factory import make_env
from xr_codec_marl.experiments.evaluation import evaluate_policy
from xr_codec_marl.experiments.results import stamp, write_atomic, write_json_atomic
from xr_codec_marl.experiments.stats import mean_ci95

KPIS = ("xr_index", "delay_ms", "jitter_ms", "plr", "throughput_mbps", "codec_rate_mbps")


def run(policy: str, ring: float, episodes: int, seeds: int) -> dict:
    per_episode: dict[str, list[np.ndarray]] = {k: [] for k in KPIS}
    per_agent: dict[str, list[np.ndarray]] = {k: [] for k in KPIS}
    agents: tuple[str, ...] = ()
    for seed in range(seeds):
        spec = make_env("xr", "analytic", 1, ring_m=ring).spec
        agents = spec.agent_ids
        res = evaluate_policy(
            lambda n: make_env("xr", "analytic", n, ring_m=ring), make_policy(policy, spec),
            episodes, seed * 1000, "analytic",
        )
        for k in KPIS:
            per_episode[k].append(res.episode_kpis[k].mean(axis=1))
            per_agent[k].append(res.episode_kpis[k])
    out = {"policy": policy, "ring_m": ring, "episodes": episodes * seeds, "kpis": {}, "ci95": {},
           "per_agent": {a: {} for a in agents}}
    for k in KPIS:
        m, h = mean_ci95(np.concatenate(per_episode[k]))
        out["kpis"][k], out["ci95"][k] = float(m), float(h)
        pa = np.concatenate(per_agent[k])
        for i, a in enumerate(agents):
            out["per_agent"][a][k] = float(pa[:, i].mean())
    return out


def markdown(rows: list[dict]) -> str:
    head = "| ring m | policy | XR index | delay ms | jitter ms | PLR % | thr Mbps | codec Mbps |\n"
    head += "|---:|---|---:|---:|---:|---:|---:|---:|\n"
    lines = []
    for r in rows:
        cells = []
        for k in KPIS:
            s = 100.0 if k == "plr" else 1.0
            half = r["ci95"][k] * s
            cells.append(f"{r['kpis'][k] * s:.3g} ± {0.0 if abs(half) < 1e-9 else half:.2g}")
        lines.append(f"| {r['ring_m']:g} | {r['policy']} | " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rings", default="200,300,400")
    ap.add_argument("--policies", default="aps,max,min,random")
    ap.add_argument("--out", default="benchmarks/results/baseline_kpis")
    args = ap.parse_args()
    rows = [
        run(p, float(ring), args.episodes, args.seeds)
        for ring in args.rings.split(",")
        for p in args.policies.split(",")
    ]
    table = markdown(rows)
    print(table)
    write_json_atomic(f"{args.out}.json", stamp({
        "what": "rule policies on the analytic XR model, mean ± 95% CI over episodes x seeds",
        "settings": {"episodes_per_seed": args.episodes, "seeds": args.seeds,
                     "episode_windows": 40, "bandwidth_mhz": 20},
        "results": rows,
    }))
    write_atomic(f"{args.out}.md", "# Rule policies on the analytic model\n\n"
                 f"`python benchmarks/baseline_kpis.py --episodes {args.episodes} --seeds {args.seeds}`"
                 " — mean ± 95 % CI over all episodes.\n\n" + table)


if __name__ == "__main__":
    main()
