"""Why the MEC learners lose: what a trained checkpoint chooses, beside the rules.

    python benchmarks/mec_learner_actions.py NAME=CHECKPOINT[@FLAGS] ... [--episodes 12]

For each checkpoint (``FLAGS``: the scenario settings it was trained with, e.g.
``devices=10,servers=3`` or ``preset=aiot,observation=full``) this evaluates it and the rules
``local, nearest, least-loaded, greedy, vcg`` on the same seeds (headline KPIs and team
reward), and counts the actions it takes when it has a task to decide. Writes
``benchmarks/results/mec_learner_actions.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xr_codec_marl.baselines import make_policy  # noqa: E402
from xr_codec_marl.env.factory import make_env  # noqa: E402
from xr_codec_marl.experiments.evaluation import evaluate_policy  # noqa: E402
from xr_codec_marl.experiments.results import stamp, write_json_atomic  # noqa: E402
from xr_codec_marl.scenarios.mec.actions import action_table  # noqa: E402

RULES = ("local", "nearest", "least-loaded", "greedy", "vcg")
KPIS = ("completion_pct", "deadline_pct", "response_time_s", "rejected_pct",
        "energy_per_task_j", "aoi_mean_s", "jain")


def _settings(text: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in filter(None, text.split(",")):
        key, value = item.split("=", 1)
        out[key] = int(value) if value.isdigit() else value
    return out


def action_counts(checkpoint: str, settings: dict[str, object], seed: int = 5) -> list:
    env = make_env("mec", "analytic", 4, **settings)
    policy = make_policy(checkpoint, env.spec)
    labels = action_table(env.s).labels
    step, counts = env.reset(seed), Counter()
    policy.reset(4, seed=seed)
    for _ in range(env.spec.episode_limit):
        actions = policy.act(step)
        counts.update(labels[a] for a in actions[step.info["mec"]["has"]])
        step = env.step(actions)
    total = sum(counts.values())
    return [(name, n, round(100 * n / total, 1)) for name, n in counts.most_common(8)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", metavar="NAME=CHECKPOINT[@FLAGS]")
    ap.add_argument("--episodes", type=int, default=12)
    args = ap.parse_args()
    doc = {"provenance": stamp({"episodes": args.episodes}), "runs": {}}
    md = ["# What the trained MEC learners choose", "",
          f"`{doc['provenance']['command']}`; {args.episodes} episodes, seed 0, per cell.", ""]
    for item in args.runs:
        name, rest = item.split("=", 1)
        checkpoint, _, flags = rest.partition("@")
        settings = _settings(flags)
        rows = {}
        for policy_name in (checkpoint, *RULES):
            mk = lambda n: make_env("mec", "analytic", n, **settings)  # noqa: E731
            summary = evaluate_policy(mk, make_policy(policy_name, mk(1).spec), args.episodes,
                                      0, "analytic", batch_size=args.episodes).summary()
            label = name if policy_name == checkpoint else policy_name
            rows[label] = {**{k: summary["kpis"][k] for k in KPIS},
                           "team_reward": sum(summary["rewards"].values())}
        actions = action_counts(checkpoint, settings)
        doc["runs"][name] = {"checkpoint": checkpoint, "settings": settings, "results": rows,
                             "actions": actions}
        md += [f"## {name} ({flags or 'defaults'})", "",
               "| policy | " + " | ".join(KPIS) + " | team reward |",
               "|---|" + "---:|" * (len(KPIS) + 1)]
        for label, r in rows.items():
            md.append(f"| {label} | " + " | ".join(
                "—" if r[k] is None else f"{r[k]:.3g}" for k in KPIS) + f" | {r['team_reward']:.3f} |")
        md += ["", "Actions it takes with a task to decide (top 8): " + ", ".join(
            f"{a} {p} %" for a, _, p in actions), ""]
        print(name, {k: round(v["team_reward"], 3) for k, v in rows.items()})
    out = ROOT / "benchmarks" / "results" / "mec_learner_actions"
    write_json_atomic(out.with_suffix(".json"), doc)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(md) + "\n")
    tmp.replace(out.with_suffix(".md"))


if __name__ == "__main__":
    main()
