"""`xr-marl explain`: explain trained decomposed learners on a reference policy's trajectory.

``xr-marl explain --env E --checkpoint runs/a --checkpoint runs/b@V --reference P
--axis NAME=V1,V2 --episodes 4 --out explain/`` runs the Fig. 6 framework at every point of
the given scenario axes (``--axis``, repeatable, or an axis' own flag; none: the settings of
the scenario flags alone), then writes ``explanations.csv`` (tidy, one row per algorithm ×
window × env × agent × component), ``kpis.csv`` (each policy driving on its own, for
Fig. 14), ``figures/*.png``, ``summary.json`` and one self-contained ``report.html``, and
prints the report's path (or a JSON summary with ``--json``). ``CKPT@VALUE`` binds a
checkpoint to one value of the explained axis (one learner per value, as the paper trains
them); a plain ``CKPT`` is explained at every point. The reference defaults to the
scenario's reference policy. Policy-gradient runs are explained through their counterfactual
action-value critic (trained with ``decomposed_critic=true`` and
``pg_baseline=counterfactual``; any other is refused in one line naming the missing setting).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xr_codec_marl.commands.common import add_env_args, positive_int, scenario_kwargs
from xr_codec_marl.commands.sweep import add_axis_args, requested_axes
from xr_codec_marl.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain", help="RDFX/MSX explanations of trained learners vs a reference policy"
    )
    add_env_args(p)
    add_axis_args(p, "explain at")
    p.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        metavar="CKPT[@VALUE]",
        help="trained decomposed learner (run dir or checkpoint.pt; policy-gradient runs "
        "trained with decomposed_critic=true and pg_baseline=counterfactual), optionally bound "
        "to one value of the explained axis; repeatable",
    )
    p.add_argument(
        "--reference", default=None,
        help="policy that drives the environment (default: the scenario's reference policy)",
    )
    p.add_argument(
        "--episodes", type=positive_int, default=4, help="episode batches per point (default 4)"
    )
    p.add_argument(
        "--num-envs",
        type=positive_int,
        default=8,
        metavar="B",
        help="environment copies per batch on the analytic backend (default 8)",
    )
    p.add_argument(
        "--anchor",
        choices=("learner", "reference"),
        default="learner",
        help="explain the learner's own greedy action (default) or the reference's",
    )
    p.add_argument(
        "--train-log",
        action="append",
        default=[],
        metavar="LOG_CSV",
        help="MHA training log for Figs. 12-13 (default: log.csv beside each checkpoint)",
    )
    p.add_argument(
        "--kpi-table",
        default=None,
        metavar="CSV",
        help="KPI table for Fig. 14 instead of running every policy (e.g. a sweep's "
        "results.csv: columns policy, the explained settings, agent and the headline KPIs"
        "[, seed, episode])",
    )
    p.add_argument("--no-kpis", action="store_true", help="skip the Fig. 14 KPI runs")
    p.add_argument("--out", default="explain-out", metavar="DIR", help="output directory")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.set_defaults(func=run)


def parse_checkpoint(text: str, parse: Callable[[str], Any] | None = None) -> tuple[str, Any]:
    """``PATH@VALUE`` -> ``(PATH, parse(VALUE))``; a plain path -> ``(PATH, None)``.

    An existing path, or one whose text after the last ``@`` holds a path separator (e.g.
    ``runs/me@host/a``), is a plain path. ``parse`` is the explained axis' value parser
    (``UsageError`` when it refuses the value); without one the value stays text."""
    path, sep, value = text.rpartition("@")
    if not sep or not path or not value or "/" in value or os.sep in value or Path(text).exists():
        return text, None
    if parse is None:
        return path, value
    try:
        return path, parse(value)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"bad value {value!r} in {text!r}: {exc}") from None


def explain_points(scenario: Any, requested: dict[str, tuple]) -> tuple[list[dict[str, Any]], Any]:
    """The settings points to explain at (``[{}]`` with no axis given) and the axis that
    ``CKPT@VALUE`` binds to (the one explained axis, else the scenario's first, or None)."""
    from xr_codec_marl.experiments.sweep import resolve_axes

    axes = resolve_axes(scenario, requested) if requested else []
    points = [dict((axis.setting, v) for axis, v in combo)
              for combo in itertools.product(*[[(a, v) for v in vals] for a, vals in axes])]
    if len(axes) == 1:
        bind = axes[0][0]
    elif not axes:
        bind = scenario.sweep_axes[0] if scenario.sweep_axes else None
    else:
        bind = None
    return points or [{}], bind


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from xr_codec_marl.baselines import make_policy
    from xr_codec_marl.env.factory import check_env_backend, make_env
    from xr_codec_marl.experiments.compare import point_title
    from xr_codec_marl.explain.figures import agent_colours, read_importance_log
    from xr_codec_marl.explain.framework import (
        collect_kpis, explain_episodes, run_settings, write_table,
    )
    from xr_codec_marl.explain.report import build_report, json_default
    from xr_codec_marl.learners.policy import load_policy

    scenario = check_env_backend(args.env, args.backend)
    points, bind = explain_points(scenario, requested_axes(args, scenario))
    ckpts = [parse_checkpoint(c, bind.parse if bind is not None else None)
             for c in args.checkpoint]
    for path, only in ckpts:
        if not Path(path).exists():
            raise UsageError(f"checkpoint not found: {path}")
        if only is not None and bind is None:
            raise UsageError(f"{path}@{only}: CKPT@VALUE needs exactly one explained axis "
                             f"(--axis NAME=...)")
    if args.kpi_table is not None and not Path(args.kpi_table).is_file():
        raise UsageError(f"KPI table not found: {args.kpi_table}")
    log_paths = _train_logs(args, ckpts)  # checked before any long run
    reference_name = args.reference or scenario.reference_policy or "random"
    kw = scenario_kwargs(args)
    num_envs = args.num_envs if args.backend == "analytic" else kw.get("workers", 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    tables, kpi_tables, notes = [], [], []
    spec = None
    settings_names: list[str] = []
    for point in points:
        env = make_env(args.env, args.backend, num_envs, args.seed, **{**kw, **point})
        try:
            spec = env.spec
            values = {**run_settings(spec, None), **point}
            settings_names = list(dict.fromkeys([*settings_names, *values]))
            where = point_title(point, scenario.sweep_axes) or "the given settings"
            reference = make_policy(reference_name, spec)
            learners: dict[str, Any] = {}
            for path, only in ckpts:
                if only is not None and values.get(bind.setting) != only:
                    continue
                pol = load_policy(path, spec)
                problem = getattr(pol, "explain_problem", None)
                if problem:
                    raise UsageError(f"{path}: {problem}")
                if tuple(getattr(pol, "component_names", ())) != tuple(spec.reward_components):
                    raise UsageError(
                        f"{path} is not a decomposed learner (components "
                        f"{getattr(pol, 'component_names', ())}); explain needs D/MH/MHA learners"
                    )
                learners[_unique(pol.name, learners)] = pol
            if not learners:
                notes.append(f"no checkpoint for {where}")
                continue
            print(
                f"xr-marl explain: {where}: {', '.join(learners)} on {reference_name} "
                f"({args.episodes} x {num_envs} episodes)",
                file=sys.stderr,
            )
            tables.append(explain_episodes(env, reference, learners, args.episodes, args.seed,
                                           values, args.backend, anchor=args.anchor))  # fmt: skip
            if not args.no_kpis and args.kpi_table is None:
                for name, pol in [(reference_name, reference), *learners.items()]:
                    kpi_tables.append(collect_kpis(env, pol, args.episodes, args.seed, values,
                                                   args.backend, name=name))  # fmt: skip
        finally:
            env.close()
    if not tables:
        raise UsageError(f"nothing to explain: {'; '.join(notes)}")
    assert spec is not None

    table = pd.concat(tables, ignore_index=True)
    files = {"explanations": write_table(table, str(out / "explanations"))}
    from xr_codec_marl.experiments.compare import headline

    need = ["policy", *settings_names, *(k.key for k in headline(spec.kpis))]
    kpis = _kpi_input(args, kpi_tables, need)
    if kpis is not None:
        files["kpis"] = write_table(kpis, str(out / "kpis"))
    logs = {}
    for log_path in log_paths:
        try:
            log = read_importance_log(log_path)
        except ValueError as exc:
            if str(log_path) in args.train_log:
                raise UsageError(str(exc)) from None
            continue  # auto-discovered log of a non-MHA run: nothing to plot
        logs[_unique(log.label(), logs)] = log.table
    explained = "; ".join(point_title(p, scenario.sweep_axes) for p in points if p)
    meta = {"command": " ".join(["xr-marl", *sys.argv[1:]]) if sys.argv else "xr-marl explain",
            "env": args.env, "backend": args.backend,
            **({"explained at": explained} if explained else {}),
            "episodes per point": f"{args.episodes} x {num_envs}", "seed": args.seed,
            "chosen action": "learner's own: greedy argmax_u Σ_c Q_c, or a policy-gradient "
            "actor's mode" if args.anchor == "learner" else f"{reference_name}'s action"}  # fmt: skip
    rep = build_report(out, table, kpis, logs, reference=reference_name, meta=meta,
                       kpi_specs=spec.kpis, axes=scenario.sweep_axes,
                       component_labels={r.name: r.label for r in spec.rewards if r.label},
                       agent_colours=agent_colours(spec, scenario.agent_colours, cycle=False))
    result = {"report": str(rep.path), "files": files, "figures": rep.figures,
              "summary": rep.summary, "warnings": rep.warnings + notes}  # fmt: skip
    (out / "summary.json").write_text(json.dumps(result, indent=2, default=json_default))
    if args.json:
        json.dump(result, sys.stdout, default=json_default)
        sys.stdout.write("\n")
    else:
        print(rep.text, file=sys.stderr)
        print(rep.path)
    return 0


def _unique(name: str, taken: Any) -> str:
    """``name``, or ``name#2``, ``name#3``... if already used."""
    if name not in taken:
        return name
    k = 2
    while f"{name}#{k}" in taken:
        k += 1
    return f"{name}#{k}"


def _kpi_input(args: argparse.Namespace, collected: list, need: list[str] | None = None) -> Any:
    """The KPI table: the collected runs, a ``--kpi-table`` file (checked for the ``need``
    columns: policy, the explained settings, the headline KPIs), or None with ``--no-kpis``."""
    import pandas as pd

    if args.no_kpis:
        return None
    if args.kpi_table is None:
        return pd.concat(collected, ignore_index=True) if collected else None
    path = Path(args.kpi_table)
    if not path.is_file():
        raise UsageError(f"KPI table not found: {path}")
    kpis = pd.read_csv(path)
    need = list(dict.fromkeys(need or ["policy"]))
    if missing := [c for c in need if c not in kpis.columns]:
        raise UsageError(f"KPI table {path} lacks column(s) {', '.join(missing)}")
    return kpis


def _train_logs(args: argparse.Namespace, ckpts: list[tuple[str, Any]]) -> list[Path]:
    """Explicit ``--train-log`` files, else ``log.csv`` beside each checkpoint (deduplicated)."""
    if args.train_log:
        missing = [p for p in args.train_log if not Path(p).is_file()]
        if missing:
            raise UsageError(f"training log not found: {missing[0]}")
        return [Path(p) for p in args.train_log]
    found = []
    for path, _ in ckpts:
        p = Path(path)
        log = (p if p.is_dir() else p.parent) / "log.csv"
        if log.is_file() and log not in found:
            found.append(log)
    return found
