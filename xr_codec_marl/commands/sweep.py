"""`xr-marl sweep`: the scenario's axes x policies x seeds on any backend, in parallel,
resumable, reported.

Axes are the scenario's own (``Scenario.sweep_axes``): ``--axis NAME=V1,V2,...`` (repeatable;
several axes make their cartesian product) or an axis' own flag where the scenario gives it
one. Without either, the axes that have default values are swept.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from xr_codec_marl.commands.common import (
    add_env_args, positive_int, scenario_kwargs, selected_scenario,
)
from xr_codec_marl.errors import UsageError, describe_exception


def axis_values(axis: Any):
    """argparse ``type`` of an axis' own flag: comma-separated values parsed by the axis."""

    def parse(text: str) -> tuple[Any, ...]:
        try:
            values = tuple(axis.parse(x.strip()) for x in text.split(",") if x.strip())
        except (ValueError, TypeError) as exc:
            raise argparse.ArgumentTypeError(f"bad {axis.name} value in {text!r}: {exc}") from None
        if not values:
            raise argparse.ArgumentTypeError(f"no {axis.name} values in {text!r}")
        return values

    return parse


def add_axis_args(p: argparse.ArgumentParser, what: str) -> None:
    """``--axis NAME=V1,...`` and the selected scenario's axis flags (``dest=axis_<name>``)."""
    scenario = selected_scenario()
    axes = tuple(scenario.sweep_axes) if scenario is not None else ()
    names = ", ".join(f"{a.name} ({a.title})" for a in axes) or "none"
    g = p.add_argument_group("axes", f"the scenario's axes to {what}: {names}")
    g.add_argument("--axis", action="append", default=[], metavar="NAME=V1,V2,...",
                   help=f"values of one axis to {what} (repeatable: the cartesian product)")
    for axis in axes:
        if axis.flag:
            default = ",".join(map(_text, axis.default)) if axis.default else "none"
            g.add_argument(axis.flag, type=axis_values(axis), default=None,
                           dest=f"axis_{axis.name}", metavar="V1,V2,...",
                           help=f"{axis.title} values (same as --axis {axis.name}=...; "
                                f"default {default})")


def _text(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def requested_axes(args: argparse.Namespace, scenario: Any) -> dict[str, tuple[Any, ...]]:
    """Axis name -> values from ``--axis`` and the axis flags; ``UsageError`` when malformed."""
    out: dict[str, tuple[Any, ...]] = {}
    for axis in scenario.sweep_axes:
        values = getattr(args, f"axis_{axis.name}", None)
        if values is not None:
            out[axis.name] = tuple(values)
    for item in args.axis:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--axis expects NAME=V1,V2,..., got {item!r}")
        axis = next((a for a in scenario.sweep_axes if name in (a.name, a.setting)), None)
        key = axis.name if axis is not None else name
        if key in out:
            raise UsageError(f"sweep axis {key!r} given twice")
        out[key] = tuple(x.strip() for x in text.split(",") if x.strip())
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="axis x policy x seed sweep with a comparison report")
    add_env_args(p)
    add_axis_args(p, "sweep")
    p.add_argument("--policies", default=None, metavar="P1,P2,...",
                   help="rules of the scenario (max, min, random, fixed:K, ...), learners to "
                        "train (e.g. mha-dqmix) or checkpoint paths (default: the scenario's "
                        "reference policy and every rule that fits its actions)")
    p.add_argument("--seeds", type=positive_int, default=3, help="seeds per (axis point, policy)")
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
    p.add_argument("--reference", default=None,
                   help="policy the others are compared with (default: the scenario's "
                        "reference policy, else the first of --policies)")
    p.add_argument("--out", required=True, metavar="DIR", help="results directory (resumed if present)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from xr_codec_marl.env.factory import check_env_backend, env_spec
    from xr_codec_marl.experiments.report import build_sweep_report
    from xr_codec_marl.experiments.results import stamp, write_json_atomic
    from xr_codec_marl.experiments.sweep import (
        SweepConfig, cell_path, collect, default_policies, plan, resolve_axes, run_dir, run_sweep,
    )

    if args.address and args.engine != "ray":
        raise UsageError("--address needs --engine ray")
    scenario = check_env_backend(args.env, args.backend)
    kw = scenario_kwargs(args)
    sim_workers = kw.pop("workers", 1)
    axes = resolve_axes(scenario, requested_axes(args, scenario))
    if args.policies is None:
        policies = default_policies(args.env, args.backend, kw)
    else:
        policies = tuple(p.strip() for p in args.policies.split(",") if p.strip())
    cfg = SweepConfig(
        env=args.env, policies=policies, seeds=args.seeds, out=str(args.out),
        axes={a.name: values for a, values in axes}, backend=args.backend,
        episodes=args.episodes, train_steps=args.train_steps, workers=args.jobs,
        sim_workers=sim_workers, learner_overrides=tuple(args.set), scenario=kw,
    )
    cells = plan(cfg)
    reference = args.reference or scenario.reference_policy or policies[0]
    out = Path(args.out)
    write_json_atomic(out / "sweep.json", stamp({"config": {**cfg.__dict__}}))
    console = Console(stderr=True)
    todo = [c for c in cells if not cell_path(out, c).is_file()]
    console.print(f"sweep: {len(cells)} cells, {len(cells) - len(todo)} already done, "
                  f"{len(todo)} to run with {args.jobs} job(s) on {args.engine}")
    t0 = time.perf_counter()
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
    run_dirs = {_run_label(c, [a for a, _ in axes]): run_dir(out, c) for c in cells
                if run_dir(out, c).is_dir()}
    meta = {"env": args.env, "axes": {a.name: list(values) for a, values in axes},
            "policies": list(policies), "reference": reference, "seeds": cfg.seeds,
            "episodes_per_cell": cfg.episodes, "backend": cfg.backend,
            "train_steps": cfg.train_steps, "cells_run": len(todo), "cells_skipped": len(skipped),
            "wall_s": round(wall, 1)}
    spec = env_spec(args.env, args.backend, **kw)
    report = build_sweep_report(out, rows, meta, reference=reference, run_dirs=run_dirs,
                                failures=failed, spec=spec, axes=[a for a, _ in axes])
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


def _run_label(cell: Any, axes: list[Any]) -> str:
    """``policy@<values with units>/s<seed>`` for legends, e.g. ``mh-dvdn@2x/s0``."""
    from xr_codec_marl.experiments.compare import axis_of, value_text

    where = ",".join(value_text(v, axis_of(s, axes), sep="") for s, v in cell.point)
    return f"{cell.policy}@{where}/s{cell.seed}" if where else f"{cell.policy}/s{cell.seed}"
