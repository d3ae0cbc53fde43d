"""`xr-marl train`: train one of the twelve learners on any backend, resuming if possible.

``xr-marl train --env xr --backend analytic --algo mha-dqmix --steps 300000
--seed 0 --out runs/mha-dqmix-400`` writes ``checkpoint.pt``, ``log.csv``, TensorBoard
scalars (``tb/``) and ``run.json`` to ``--out``; running the same command again after an
interruption continues the run from its checkpoint (written every 2 minutes of training by
default, ``--set checkpoint_every_s=S``; ``--set checkpoint_every=N`` adds one every N
windows; always at the end). Any registered scenario trains the same way, with its own
flags after ``--env NAME``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from xr_codec_marl.commands.common import add_env_args, positive_int, scenario_kwargs


def register(sub: argparse._SubParsersAction) -> None:
    from xr_codec_marl.learners.registry import ALGO_NAMES

    p = sub.add_parser("train", help="train a (decomposed) value-factorisation learner")
    add_env_args(p)
    p.add_argument("--algo", required=True, metavar="ALGO", help=", ".join(ALGO_NAMES))
    p.add_argument("--steps", type=positive_int, required=True, help="environment windows to train for")
    p.add_argument("--out", required=True, metavar="DIR", help="run directory (resumed if it has a checkpoint)")
    p.add_argument("--config", metavar="FILE", help="learner settings (.yaml, .json or .toml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a learner setting, e.g. --set lr=1e-3 (repeatable)")
    p.add_argument("--num-envs", type=positive_int, default=None, metavar="B",
                   help="environment copies per rollout (default: the num_envs setting, 8)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xr_codec_marl.learners.checkpoint import checkpoint_path, read_checkpoint
    from xr_codec_marl.learners.config import build_config
    from xr_codec_marl.learners.registry import get_algo
    from xr_codec_marl.core.registry import recorded_settings
    from xr_codec_marl.learners.trainer import Trainer

    algo = get_algo(args.algo)
    out = Path(args.out)
    base = None
    if checkpoint_path(out).is_file():
        base = read_checkpoint(out)["config"]  # one-line error if empty, truncated or foreign
    overrides = list(args.set)
    if args.num_envs is not None:
        overrides.append(f"num_envs={args.num_envs}")
    cfg = build_config(args.config, overrides, base)
    env = _make_env(args, cfg.num_envs)
    run_info = {
        "env": args.env, "backend": args.backend,
        **recorded_settings(env.spec),
        "argv": list(sys.argv),
    }
    try:
        trainer = Trainer(env, algo, cfg, args.seed, out, run_info)
        if trainer.resumed:
            print(f"xr-marl train: resuming {algo.name} from {checkpoint_path(out)} "
                  f"at {trainer.env_steps} windows", file=sys.stderr)
        out.mkdir(parents=True, exist_ok=True)
        (out / "run.json").write_text(json.dumps({**run_info, "algo": algo.name, "seed": args.seed,
                                                  "steps": args.steps, "config": cfg.to_dict()}, indent=2))
        if trainer.env_steps >= args.steps:
            print(f"xr-marl train: {out} already has {trainer.env_steps} >= {args.steps} windows",
                  file=sys.stderr)
        summary = trainer.train(args.steps, progress=not args.no_progress)
    finally:
        env.close()
    ret = summary.get("return", float("nan"))
    print(f"{algo.name}: {trainer.env_steps} windows, {trainer.episodes} episodes, "
          f"{trainer.learner.train_steps} gradient steps, last return {ret:.4g}; "
          f"checkpoint {checkpoint_path(out)}")
    return 0


def _make_env(args: argparse.Namespace, num_envs: int):
    from xr_codec_marl.env import factory

    kw = scenario_kwargs(args)
    if args.backend == "ns3":
        num_envs = kw.get("workers", num_envs)
    return factory.make_env(args.env, args.backend, num_envs, args.seed, **kw)

