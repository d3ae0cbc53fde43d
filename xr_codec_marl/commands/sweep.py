"""`xr-marl sweep`: rings x policies x seeds on any backend, in parallel, resumable, reported."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from xr_codec_marl.commands.common import add_env_args, positive_int, scenario_kwargs
from xr_codec_marl.errors import UsageError, describe_exception


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="ring x policy x seed sweep with a comparison report")
    add_env_args(p)
    p.add_argument("--rings", type=_floats, default=(200.0, 300.0, 400.0), metavar="R1,R2,...",
                   help="ring radii in metres (default 200,300,400)")
    p.add_argument("--policies", default="aps,max,min,random", metavar="P1,P2,...",
                   help="rules (aps, max, min, random, fixed:K), learners to train "
                        "(e.g. mha-dqmix) or checkpoint paths")
    p.add_argument("--seeds", type=positive_int, default=3, help="seeds per (ring, policy)")
    p.add_argument("--episodes", type=positive_int, default=10, help="evaluation episodes per cell")
    p.add_argument("--train-steps", type=positive_int, default=20_000,
                   help="training windows for learners trained in the sweep (default 20000)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="learner setting for learners trained in the sweep (repeatable)")
    p.add_argument("--jobs", type=positive_int, default=1,
                   help="cells run in parallel (processes or Ray tasks)")
    p.add_argument("--engine", default="local", choices=("local", "ray"),
                   help="local processes or a Ray cluster")
    p.add_argument("--address", default=None, help="Ray cluster address (with --engine ray)")
    p.add_argument("--reference", default="aps", help="policy the others are compared with")
    p.add_argument("--out", required=True, metavar="DIR", help="results directory (resumed if present)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from xr_codec_marl.experiments.results import stamp, write_json_atomic
    from xr_codec_marl.experiments.sweep import (
        SweepConfig, cell_path, collect, plan, run_dir,
    )
    from xr_codec_marl.experiments.report import build_sweep_report

    if args.address and args.engine != "ray":
        raise UsageError("--address needs --engine ray")
    kw = scenario_kwargs(args)
    sim_workers = kw.pop("workers", 1)
    policies = tuple(p.strip() for p in args.policies.split(",") if p.strip())
    cfg = SweepConfig(
        rings=args.rings, policies=policies, seeds=args.seeds, out=str(args.out),
        backend=args.backend, env=args.env, episodes=args.episodes, train_steps=args.train_steps,
        workers=args.jobs, sim_workers=sim_workers, learner_overrides=tuple(args.set), scenario=kw,
    )
    from xr_codec_marl.env.factory import check_env_backend

    check_env_backend(args.env, args.backend)
    cells = plan(cfg)
    out = Path(args.out)
    write_json_atomic(out / "sweep.json", stamp({"config": {**cfg.__dict__}}))
    console = Console(stderr=True)
    todo = [c for c in cells if not cell_path(out, c).is_file()]
    console.print(f"sweep: {len(cells)} cells, {len(cells) - len(todo)} already done, "
                  f"{len(todo)} to run with {args.jobs} job(s) on {args.engine}")
    t0 = time.perf_counter()
    from xr_codec_marl.experiments.sweep import run_sweep

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, disable=not sys.stderr.isatty()) as prog:
        task = prog.add_task("cells", total=len(todo))

        def on_done(cell, path, err):
            prog.advance(task)
            if err is not None:
                console.print(f"cell {cell.key} failed: {describe_exception(err, with_type=True)}",
                              style="red", markup=False, highlight=False, soft_wrap=True)

        _, skipped, failures = run_sweep(cfg, args.engine, args.address, on_done)
    wall = time.perf_counter() - t0
    failed = {c.key: msg for c, msg in failures.items()}
    write_json_atomic(out / "failures.json", failed)
    rows = collect(out, cells)
    run_dirs = {f"{c.policy}@{c.ring_m:g}m/s{c.seed}": run_dir(out, c) for c in cells
                if run_dir(out, c).is_dir()}
    meta = {"rings_m": list(cfg.rings), "policies": list(policies), "seeds": cfg.seeds,
            "episodes_per_cell": cfg.episodes, "backend": cfg.backend,
            "train_steps": cfg.train_steps, "cells_run": len(todo), "cells_skipped": len(skipped),
            "wall_s": round(wall, 1)}
    report = build_sweep_report(out, rows, meta, reference=args.reference, run_dirs=run_dirs,
                                failures=failed)
    table4 = out / "table4.md"
    if table4.is_file() and not rows.empty:
        print(table4.read_text())
    print(f"results: {out / 'results.csv'}\nreport:  {report.resolve()}")
    if rows.empty:
        print("xr-marl sweep: no cell produced results", file=sys.stderr)
    if failures:
        print(f"xr-marl sweep: {len(failures)} of {len(cells)} cell(s) failed (listed in "
              f"{out / 'failures.json'} and the report); rerun the same command to retry them",
              file=sys.stderr)
    return 1 if failures or rows.empty else 0
