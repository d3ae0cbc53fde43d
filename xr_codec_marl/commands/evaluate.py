"""`xr-marl evaluate`: run a policy for N episodes and report KPIs with 95 % CIs."""

from __future__ import annotations

import argparse
import json
import sys

from xr_codec_marl.commands.common import add_env_args, positive_int, scenario_kwargs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate",
                       help="evaluate a policy (a scenario rule, max, min, random, fixed:K or a "
                            "checkpoint)")
    add_env_args(p)
    p.add_argument("--policy", default=None,
                   help="a rule of the scenario (default: its reference policy), max, min, "
                        "random, fixed:K (always the K-th action, 0-based), or a checkpoint path")
    p.add_argument("--episodes", type=positive_int, default=10, help="episodes (default 10)")
    p.add_argument("--batch-size", type=positive_int, default=256,
                   help="episodes run at once on the analytic backend (default 256)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xr_codec_marl.baselines import make_policy
    from xr_codec_marl.core.registry import get_scenario
    from xr_codec_marl.env.factory import env_spec, make_env
    from xr_codec_marl.experiments.evaluation import evaluate_policy
    from xr_codec_marl.experiments.table import render_eval_table

    kw = scenario_kwargs(args)
    spec = env_spec(args.env, args.backend, **kw)
    name = args.policy or get_scenario(args.env).reference_policy or "random"
    policy = make_policy(name, spec)
    batch = args.batch_size if args.backend == "analytic" else kw.get("workers", 1)

    def make_batch(n: int):
        return make_env(args.env, args.backend, n, args.seed, **kw)

    result = evaluate_policy(make_batch, policy, args.episodes, args.seed, args.backend,
                             batch_size=batch)
    summary = result.summary()
    if args.json:
        json.dump(summary, sys.stdout)
        sys.stdout.write("\n")
    else:
        render_eval_table(summary, kpis=spec.headline_kpis, record=result.record)
    return 0
