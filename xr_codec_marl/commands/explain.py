"""`xr-marl explain`: explain trained decomposed learners on a reference policy's trajectory.

``xr-marl explain --checkpoint runs/mha-dqmix-400 --checkpoint runs/dvdn-400 --reference aps
--rings 200,300,400 --episodes 4 --out explain/`` runs the Fig. 6 framework at every ring,
then writes ``explanations.csv`` (tidy, one row per algorithm × window × env × agent ×
component), ``kpis.csv`` (each policy driving on its own, for Fig. 14), ``figures/*.png``,
``summary.json`` and one self-contained ``report.html``, and prints the report's path (or a
JSON summary with ``--json``). ``CKPT@RING`` binds a checkpoint to one ring (the paper trains
one learner per ring); a plain ``CKPT`` is explained at every ring.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from xr_codec_marl.commands.common import add_env_args, positive_int, scenario_kwargs
from xr_codec_marl.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain", help="RDFX/MSX explanations of trained learners vs a reference policy"
    )
    add_env_args(p)
    p.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        metavar="CKPT[@RING]",
        help="trained decomposed learner (run dir or checkpoint.pt); repeatable",
    )
    p.add_argument(
        "--reference", default="aps", help="policy that drives the environment (default aps)"
    )
    p.add_argument(
        "--rings",
        default=None,
        metavar="M1,M2,...",
        help="ring radii in metres, e.g. 200,300,400 (overrides --ring)",
    )
    p.add_argument(
        "--episodes", type=positive_int, default=4, help="episode batches per ring (default 4)"
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
        help="KPI table for Fig. 14 instead of running every policy (columns policy, "
        "ring_m, agent, xr_index, jitter_ms, delay_ms, plr[, seed, episode])",
    )
    p.add_argument("--no-kpis", action="store_true", help="skip the Fig. 14 KPI runs")
    p.add_argument("--out", default="explain-out", metavar="DIR", help="output directory")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.set_defaults(func=run)


def parse_rings(text: str | None, default: float) -> list[float]:
    """``"200,300,400"`` -> ``[200.0, 300.0, 400.0]``; one-line ``UsageError`` on bad input."""
    if text is None:
        return [float(default)]
    rings = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise UsageError(f"--rings expects comma-separated metres, got {part!r}") from None
        if not value > 0:
            raise UsageError(f"ring radius must be > 0 m, got {part}")
        rings.append(value)
    return list(dict.fromkeys(rings))


def parse_checkpoint(text: str) -> tuple[str, float | None]:
    """``PATH@RING`` -> ``(PATH, RING)``; a plain path (even one containing '@') -> ``(PATH, None)``."""
    path, sep, ring = text.rpartition("@")
    if sep and path:
        try:
            value = float(ring)
        except ValueError:
            return text, None
        if not value > 0:
            raise UsageError(f"ring radius must be > 0 m in {text!r}")
        return path, value
    return text, None


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from xr_codec_marl.baselines import make_policy
    from xr_codec_marl.env.factory import make_env
    from xr_codec_marl.explain.figures import read_importance_log
    from xr_codec_marl.explain.framework import collect_kpis, explain_episodes, write_table
    from xr_codec_marl.explain.report import build_report, json_default
    from xr_codec_marl.learners.checkpoint import load_policy

    rings = parse_rings(args.rings, args.ring)
    ckpts = [parse_checkpoint(c) for c in args.checkpoint]
    for path, _ in ckpts:
        if not Path(path).exists():
            raise UsageError(f"checkpoint not found: {path}")
    if args.kpi_table is not None and not Path(args.kpi_table).is_file():
        raise UsageError(f"KPI table not found: {args.kpi_table}")
    log_paths = _train_logs(args, ckpts)  # checked before any long run
    kw = scenario_kwargs(args)
    num_envs = args.num_envs if args.backend == "analytic" else kw.get("workers", 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    tables, kpi_tables, notes = [], [], []
    for ring in rings:
        env = make_env(args.env, args.backend, num_envs, ring, args.seed, **kw)
        try:
            spec = env.spec
            reference = make_policy(args.reference, spec)
            learners: dict[str, Any] = {}
            for path, only in ckpts:
                if only is not None and only != ring:
                    continue
                pol = load_policy(path, spec)
                if tuple(getattr(pol, "component_names", ())) != tuple(spec.reward_components):
                    raise UsageError(
                        f"{path} is not a decomposed learner (components "
                        f"{getattr(pol, 'component_names', ())}); explain needs D/MH/MHA learners"
                    )
                learners[_unique(pol.name, learners)] = pol
            if not learners:
                notes.append(f"no checkpoint for ring {ring:g} m")
                continue
            print(
                f"xr-marl explain: ring {ring:g} m: {', '.join(learners)} on {args.reference} "
                f"({args.episodes} x {num_envs} episodes)",
                file=sys.stderr,
            )
            tables.append(explain_episodes(env, reference, learners, args.episodes, args.seed,
                                           ring, args.backend, anchor=args.anchor))  # fmt: skip
            if not args.no_kpis and args.kpi_table is None:
                for name, pol in [(args.reference, reference), *learners.items()]:
                    kpi_tables.append(collect_kpis(env, pol, args.episodes, args.seed, ring,
                                                   args.backend, name=name))  # fmt: skip
        finally:
            env.close()
    if not tables:
        raise UsageError(f"nothing to explain: {'; '.join(notes)}")

    table = pd.concat(tables, ignore_index=True)
    files = {"explanations": write_table(table, str(out / "explanations"))}
    kpis = _kpi_input(args, kpi_tables)
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
    meta = {"command": " ".join(["xr-marl", *sys.argv[1:]]) if sys.argv else "xr-marl explain",
            "backend": args.backend, "rings_m": ", ".join(f"{r:g}" for r in rings),
            "episodes per ring": f"{args.episodes} x {num_envs}", "seed": args.seed,
            "chosen action": "learner's greedy argmax_u Σ_c Q_c" if args.anchor == "learner"
            else f"{args.reference}'s action"}  # fmt: skip
    rep = build_report(out, table, kpis, logs, reference=args.reference, meta=meta)
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


def _kpi_input(args: argparse.Namespace, collected: list) -> Any:
    import pandas as pd

    if args.no_kpis:
        return None
    if args.kpi_table is None:
        return pd.concat(collected, ignore_index=True) if collected else None
    path = Path(args.kpi_table)
    if not path.is_file():
        raise UsageError(f"KPI table not found: {path}")
    kpis = pd.read_csv(path)
    need = {"policy", "ring_m", "xr_index", "jitter_ms", "delay_ms", "plr"}
    if missing := sorted(need - set(kpis.columns)):
        raise UsageError(f"KPI table {path} lacks column(s) {', '.join(missing)}")
    return kpis


def _train_logs(args: argparse.Namespace, ckpts: list[tuple[str, float | None]]) -> list[Path]:
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
