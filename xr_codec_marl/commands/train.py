"""`xr-marl train`: train one of the twelve learners on any backend, resuming if possible.

``xr-marl train --env xr --backend analytic --algo mha-dqmix --steps 300000
--seed 0 --out runs/mha-dqmix-400`` writes ``checkpoint.pt``, ``log.csv``, TensorBoard
scalars (``tb/``) and ``run.json`` to ``--out``; running the same command again after an
interruption continues the run from its checkpoint (written every 2 minutes of training by
default, ``--set checkpoint_every_s=S``; ``--set checkpoint_every=N`` adds one every N
windows; always at the end). Any registered scenario trains the same way, with its own
flags after ``--env NAME``.

Fine-tuning: ``--init-from RUN_OR_CHECKPOINT`` starts a new run in ``--out`` from another
run's trained networks, e.g. pre-trained on the analytic twin and continued on ns-3::

    xr-marl train --env xr --backend analytic --algo vdn --steps 200000 --out runs/twin
    xr-marl train --env xr --backend ns3 --workers 4 --algo vdn --steps 20000 \
        --init-from runs/twin --out runs/ns3-ft

It loads the networks, target networks and (``finetune_keep_optimiser``, default true) the
optimiser state; the spec and network sizes must match the source's, and scenario settings
that differ from it are printed as a note. Counters start at 0 (``--steps`` counts
fine-tuning windows), exploration starts at ``finetune_epsilon_start`` (0.2) and anneals to
``epsilon_finish`` over ``finetune_epsilon_anneal_steps`` windows, and the replay starts
empty unless ``--set finetune_keep_replay=true`` (policy-gradient learners: no exploration
schedule or replay; their Q critic is taken over when both runs have one). The learner
settings default to the source's. ``run.json`` and the checkpoint record the source (``init_from``: path, counters,
settings). Once ``--out`` has its own checkpoint, the same command resumes it instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xr_codec_marl.commands.common import add_env_args, positive_int, scenario_kwargs

if TYPE_CHECKING:
    from xr_codec_marl.learners.config import LearnerConfig
    from xr_codec_marl.learners.pg.trainer import OnPolicyTrainer
    from xr_codec_marl.learners.trainer import Trainer


def register(sub: argparse._SubParsersAction) -> None:
    from xr_codec_marl.learners.registry import LEARNER_NAMES

    p = sub.add_parser("train", help="train a (decomposed) value-factorisation or a "
                                     "policy-gradient learner")
    add_env_args(p)
    p.add_argument("--algo", required=True, metavar="ALGO", help=", ".join(LEARNER_NAMES))
    p.add_argument("--steps", type=positive_int, required=True, help="environment windows to train for")
    p.add_argument("--out", required=True, metavar="DIR", help="run directory (resumed if it has a checkpoint)")
    p.add_argument("--init-from", metavar="RUN", default=None,
                   help="fine-tune: start a new run from this run directory's (or checkpoint "
                        "file's) networks; --out's own checkpoint, once written, wins")
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
    from xr_codec_marl.learners.trainer import Pretrained, make_trainer

    algo = get_algo(args.algo)
    out = Path(args.out)
    base = None
    source = None
    if checkpoint_path(out).is_file():
        base = read_checkpoint(out)["config"]  # one-line error if empty, truncated or foreign
    elif args.init_from is not None:
        source = Pretrained.load(args.init_from)  # one-line error if missing or corrupt
        source.check_algo(algo.name)  # before starting any simulator
        base = source.config
    overrides = list(args.set)
    if args.num_envs is not None:
        overrides.append(f"num_envs={args.num_envs}")
    cfg = build_config(args.config, overrides, base)
    kw = scenario_kwargs(args)
    env = _make_env(args, kw, cfg.num_envs)
    run_info = {
        "env": args.env, "backend": args.backend,
        **recorded_settings(env.spec),
        "backend_options": _backend_options(args, kw),
        "argv": list(sys.argv),
    }
    try:
        trainer = make_trainer(env, algo, cfg, args.seed, out, run_info, init_from=source)
        if trainer.resumed:
            of = "" if trainer.init_from is None else f" (fine-tuning {trainer.init_from['checkpoint']})"
            print(f"xr-marl train: resuming {algo.name} from {checkpoint_path(out)} "
                  f"at {trainer.env_steps} windows{of}", file=sys.stderr)
            if args.init_from is not None:
                print(f"xr-marl train: {out} has its own checkpoint, which wins over "
                      f"--init-from {args.init_from} (not read)", file=sys.stderr)
        elif trainer.init_from is not None:
            _print_finetune(trainer, cfg, run_info)
        out.mkdir(parents=True, exist_ok=True)
        (out / "run.json").write_text(json.dumps({**run_info, "algo": algo.name, "seed": args.seed,
                                                  "steps": args.steps, "config": cfg.to_dict(),
                                                  "init_from": trainer.init_from}, indent=2))
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


def _backend_options(args: argparse.Namespace, kw: dict[str, Any]) -> dict[str, Any]:
    """The scenario's own options of this backend that were given (e.g. an analytic model
    profile), so runs trained with and without them can be told apart."""
    from xr_codec_marl.env.factory import check_env_backend

    names = check_env_backend(args.env, args.backend).backend_options.get(args.backend, ())
    return {k: v for k, v in kw.items() if k in names and isinstance(v, str | int | float | bool)}


def _print_finetune(trainer: Trainer | OnPolicyTrainer, cfg: LearnerConfig, run_info: dict[str, Any]) -> None:
    """Say what a fine-tuning run took from its source, and (one note) how its scenario differs."""
    from xr_codec_marl.learners.checkpoint import setting_differences

    src = trainer.init_from
    assert src is not None
    if trainer.algo.is_pg:  # on-policy: no exploration schedule, no replay
        kept = "" if "kept_q_critic" not in src or src["kept_q_critic"] or \
            trainer.learner.q_critic is None else ", Q critic fresh (the source has none)"
        started = f"counters from 0{kept}"
    else:
        replay = (f"{src['kept_replay_episodes']} episodes of replay kept"
                  if cfg.finetune_keep_replay else "replay empty")
        started = (f"counters from 0, epsilon {cfg.finetune_epsilon_start:g} -> "
                   f"{cfg.epsilon_finish:g} over {cfg.finetune_epsilon_anneal_steps} windows, "
                   f"{replay}")
    print(f"xr-marl train: fine-tuning {trainer.algo.name} from {src['checkpoint']} "
          f"({src['env_steps']} windows of pre-training): {started}, optimiser state "
          f"{'kept' if cfg.finetune_keep_optimiser else 'fresh'}", file=sys.stderr)

    def scenario(run: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        return {"env": run.get("env"), "backend": run.get("backend"),
                **run.get("backend_options", {}), **settings}

    diff = setting_differences(scenario(src["run"], src["settings"]),
                               scenario(run_info, trainer.env.spec.extra.get("settings", {})))
    if diff:
        print(f"xr-marl train: note: the source was trained with other scenario settings: "
              f"{'; '.join(diff)}", file=sys.stderr)


def _make_env(args: argparse.Namespace, kw: dict[str, Any], num_envs: int):
    from xr_codec_marl.env import factory

    if args.backend == "ns3":
        num_envs = kw.get("workers", num_envs)
    return factory.make_env(args.env, args.backend, num_envs, args.seed, **kw)

