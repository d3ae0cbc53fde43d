"""Axis x policy x seed sweeps: plan cells, run them in parallel, store tidy rows, resume.

A sweep varies the scenario's own sweep axes (:class:`~xr_codec_marl.core.scenario.SweepAxis`,
e.g. ``xr-marl sweep --axis NAME=V1,V2`` or the axis' own flag); several axes make their
cartesian product. A *cell* is one (axis values, policy, seed). A policy is a rule of the
scenario (its reference policy, its own rules, the generic ``max``/``min``/``random``/
``fixed:K``), one of the learner names (trained inside the sweep, resumable from its
checkpoint) or a checkpoint path.

Each finished cell writes its rows to its own CSV, atomically; a rerun skips cells whose file
exists, so an interrupted sweep resumes. ``results.csv`` is the concatenation, rewritten
atomically at the end. One row per episode x agent, with:

- ``policy``, ``kind`` (rule, learner, checkpoint), then one column per swept axis setting
  and per setting the scenario records (``Scenario.record_settings``);
- ``seed``, ``episode``, ``eval_seed``, ``agent``, ``backend``, ``code_version``, the
  episode's measured ``windows``, its ``episode_limit`` and any ``truncation_reason``;
- every declared KPI by its result key (agent-scope KPIs: the agent's episode mean; global
  KPIs: the episode's value, repeated on each agent row of the episode);
- ``reward_<component>``: the team reward components per window, episode mean.

Cell files live under ``cells/<axis keys>/<policy>/seed<S>.csv``, the axis keys being each
swept axis' ``cell_key`` (``{prefix}{value}``) in the scenario's axis order.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from xr_codec_marl.errors import UsageError, describe_exception
from xr_codec_marl.experiments.results import code_version, write_atomic


@dataclass(frozen=True)
class SweepConfig:
    """Everything that defines a sweep (stored in ``sweep.json`` for the record)."""

    env: str
    policies: tuple[str, ...]
    seeds: int
    out: str
    #: axis name -> values; empty: every axis of the scenario that has default values
    axes: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    backend: str = "analytic"
    episodes: int = 10
    train_steps: int = 20_000
    workers: int = 1
    sim_workers: int = 1  # ns-3 simulators per cell
    learner_overrides: tuple[str, ...] = ()
    #: settings and backend options every cell starts from (the axes override theirs)
    scenario: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Cell:
    """One unit of work: a policy at one point of the axes with a seed."""

    #: (setting, value) of each swept axis, in the scenario's axis order
    point: tuple[tuple[str, Any], ...]
    policy: str
    seed: int
    #: the axis part of the key, e.g. ``scale2`` (empty without axes)
    where: str = ""

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.point)

    @property
    def key(self) -> str:
        safe = self.policy.replace("/", "_").replace(os.sep, "_").strip("._") or "policy"
        return "/".join(p for p in (self.where, safe, f"seed{self.seed}") if p)


def resolve_axes(scenario: Any, requested: Mapping[str, Sequence[Any]]) -> list[tuple[Any, tuple]]:
    """``[(SweepAxis, values)]`` in the scenario's axis order for the requested axes (by axis
    name or setting name; string values parsed by the axis' ``parse``); with none requested,
    every axis that has default values. ``UsageError`` for unknown axes or bad values."""
    axes = tuple(scenario.sweep_axes)
    by_name = {a.name: a for a in axes} | {a.setting: a for a in axes}
    chosen: dict[str, tuple] = {}
    for name, values in requested.items():
        axis = by_name.get(name)
        if axis is None:
            known = ", ".join(a.name for a in axes) or "none"
            raise UsageError(f"scenario {scenario.name!r} has no sweep axis {name!r}; "
                             f"its axes: {known}")
        if axis.name in chosen:
            raise UsageError(f"sweep axis {axis.name!r} given twice")
        parsed = []
        for v in values:
            try:
                parsed.append(axis.parse(v) if isinstance(v, str) else v)
            except (ValueError, TypeError) as exc:
                raise UsageError(f"sweep axis {axis.name!r}: bad value {v!r}: {exc}") from None
        if not parsed:
            raise UsageError(f"sweep axis {axis.name!r} has no values")
        chosen[axis.name] = tuple(dict.fromkeys(parsed))
    if not requested:
        chosen = {a.name: tuple(a.default) for a in axes if a.default}
    return [(a, chosen[a.name]) for a in axes if a.name in chosen]


def classify_policy(name: str, env: str | None = None) -> str:
    """``rule``, ``learner`` (to train) or ``checkpoint``; ``UsageError`` for anything else."""
    from xr_codec_marl.baselines import policy_kind, scenario_policies
    from xr_codec_marl.learners.registry import LEARNER_NAMES

    kind = policy_kind(name, env)
    if kind == "rule":
        return kind
    if name in LEARNER_NAMES:  # before paths: a folder named like a learner does not shadow it
        return "learner"
    if kind == "checkpoint":
        return kind
    allowed = sorted(scenario_policies(env)) + ["fixed:K"] + list(LEARNER_NAMES) + ["CHECKPOINT (path)"]
    raise UsageError(f"unknown policy {name!r} in --policies; allowed: {', '.join(allowed)}")


def default_policies(env: str, backend: str = "analytic",
                     settings: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The scenario's reference policy, then every rule (its own, then the generic ones) that
    can act in its spec (``max``/``min`` only on ordered action spaces)."""
    from xr_codec_marl.baselines import make_policy, scenario_policies
    from xr_codec_marl.core.registry import get_scenario
    from xr_codec_marl.env.factory import env_spec

    scenario = get_scenario(env)
    spec = env_spec(env, backend, **_settings_only(scenario, settings or {}))
    names = [scenario.reference_policy] if scenario.reference_policy else []
    for name in scenario_policies(env):
        if name in names:
            continue
        try:
            make_policy(name, spec)
        except (UsageError, ValueError):
            continue
        names.append(name)
    return tuple(names)


def _settings_only(scenario: Any, kw: Mapping[str, Any]) -> dict[str, Any]:
    names = set(scenario.setting_names())
    return {k: v for k, v in kw.items() if k in names}


def plan(cfg: SweepConfig) -> list[Cell]:
    """All cells, in a stable order (axis points, then policies, then seeds).

    Every axis point's settings are validated by the scenario before anything runs."""
    from xr_codec_marl.env.factory import check_env_backend

    scenario = check_env_backend(cfg.env, cfg.backend)
    if not cfg.policies:
        raise UsageError("a sweep needs at least one policy")
    if cfg.seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {cfg.seeds}")
    for p in cfg.policies:
        classify_policy(p, cfg.env)
    axes = resolve_axes(scenario, cfg.axes)
    base = _settings_only(scenario, cfg.scenario)
    cells = []
    for combo in itertools.product(*[[(axis, v) for v in values] for axis, values in axes]):
        point = tuple((axis.setting, v) for axis, v in combo)
        where = "/".join(axis.cell_key(v) for axis, v in combo)
        try:
            scenario.make_settings(**{**base, **dict(point)})
        except (ValueError, TypeError) as exc:
            raise UsageError(f"{where or 'sweep'}: {exc}") from None
        cells += [Cell(point, p, s, where) for p in cfg.policies for s in range(cfg.seeds)]
    return cells


def cell_path(out: str | Path, cell: Cell) -> Path:
    return Path(out) / "cells" / f"{cell.key}.csv"


def run_dir(out: str | Path, cell: Cell) -> Path:
    """Where a learner trained inside the sweep keeps its checkpoint and logs."""
    return Path(out) / "runs" / cell.key


def _env_kwargs(cfg: SweepConfig, cell: Cell) -> dict[str, Any]:
    kw = {**cfg.scenario, **cell.settings}
    if cfg.backend == "ns3":
        kw["workers"] = cfg.sim_workers
    return kw


def run_cell(cfg: SweepConfig, cell: Cell) -> Path:
    """Train (if needed) and evaluate one cell; write its rows; return the CSV path."""
    import torch

    from xr_codec_marl.baselines import make_policy
    from xr_codec_marl.env.factory import env_spec, make_env
    from xr_codec_marl.experiments.evaluation import evaluate_policy

    torch.set_num_threads(1)
    kw = _env_kwargs(cfg, cell)
    kind = classify_policy(cell.policy, cfg.env)
    eval_seed = 10_000 + 1_000 * cell.seed  # evaluation seeds never overlap training seeds
    ckpt: Path | str | None = None
    label = cell.policy
    if kind == "learner":
        ckpt = train_cell(cfg, cell)
    elif kind == "checkpoint":
        ckpt = cell.policy
        path = Path(cell.policy).resolve()
        label = path.parent.name if path.is_file() else path.name

    def make_batch(n: int):
        return make_env(cfg.env, cfg.backend, n, eval_seed, **kw)

    spec = env_spec(cfg.env, cfg.backend, **kw)
    policy = make_policy(str(ckpt) if ckpt else cell.policy, spec)
    batch = min(cfg.episodes, 256) if cfg.backend == "analytic" else cfg.sim_workers
    result = evaluate_policy(make_batch, policy, cfg.episodes, eval_seed, cfg.backend,
                             batch_size=batch)
    settings = {**cell.settings, **{k: v for k, v in result.record.items()
                                    if k not in cell.settings}}
    rows = []
    version = code_version()
    windows = result.windows()
    for e in range(result.episodes):
        rewards = {f"reward_{c}": float(result.episode_rewards[e, j])
                   for j, c in enumerate(result.component_names)}
        global_kpis = {k: float(v[e]) for k, v in result.episode_global.items()}
        for i, agent in enumerate(result.agent_ids):
            row = {"policy": label, "kind": kind, **settings, "seed": cell.seed,
                   "episode": e, "eval_seed": eval_seed, "agent": agent, "backend": cfg.backend,
                   "code_version": version,
                   "windows": int(windows[e]), "episode_limit": result.episode_limit,
                   "truncation_reason": result.truncation_reasons[e] if result.truncation_reasons else ""}
            for k in result.kpi_specs:
                if k.key in result.episode_kpis:
                    row[k.key] = float(result.episode_kpis[k.key][e, i])
                elif k.key in global_kpis:
                    row[k.key] = global_kpis[k.key]
            row.update(rewards)
            rows.append(row)
    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False)
    return write_atomic(cell_path(cfg.out, cell), buf.getvalue())


def train_cell(cfg: SweepConfig, cell: Cell) -> Path:
    """Train the cell's learner (resuming its checkpoint if any) and return the checkpoint."""
    from xr_codec_marl.env.factory import make_env
    from xr_codec_marl.core.registry import recorded_settings
    from xr_codec_marl.learners.checkpoint import checkpoint_path, read_checkpoint
    from xr_codec_marl.learners.config import build_config
    from xr_codec_marl.learners.registry import get_algo
    from xr_codec_marl.learners.trainer import make_trainer

    out = run_dir(cfg.out, cell)
    base = read_checkpoint(out)["config"] if checkpoint_path(out).is_file() else None
    lcfg = build_config(None, list(cfg.learner_overrides), base)
    n = cfg.sim_workers if cfg.backend == "ns3" else lcfg.num_envs
    env = make_env(cfg.env, cfg.backend, n, cell.seed, **_env_kwargs(cfg, cell))
    try:
        run_info = {"env": cfg.env, "backend": cfg.backend, **recorded_settings(env.spec),
                    **cell.settings, "sweep": cfg.out}
        trainer = make_trainer(env, get_algo(cell.policy), lcfg, cell.seed, out, run_info)
        trainer.train(cfg.train_steps, progress=False)
        if trainer.interrupted:  # checkpointed; the cell is not done: stop the sweep too
            raise KeyboardInterrupt
    finally:
        env.close()
    return checkpoint_path(out)


def _config_from_dict(cfg_dict: dict[str, Any]) -> SweepConfig:
    return SweepConfig(**{**cfg_dict,
                          "axes": {k: tuple(v) for k, v in cfg_dict["axes"].items()},
                          "policies": tuple(cfg_dict["policies"]),
                          "learner_overrides": tuple(cfg_dict["learner_overrides"])})


def _cell_from_dict(d: dict[str, Any]) -> Cell:
    return Cell(**{**d, "point": tuple((k, v) for k, v in d["point"])})


def _run_cell_job(cfg_dict: dict[str, Any], cell_dict: dict[str, Any]) -> str:
    """Picklable entry point for process pools and Ray."""
    return str(run_cell(_config_from_dict(cfg_dict), _cell_from_dict(cell_dict)))


def _config_dict(cfg: SweepConfig) -> dict[str, Any]:
    return {**asdict(cfg), "axes": {k: tuple(v) for k, v in cfg.axes.items()}}


def run_sweep(
    cfg: SweepConfig,
    engine: str = "local",
    address: str | None = None,
    on_done: Callable[[Cell, str | None, BaseException | None], None] | None = None,
) -> tuple[list[Cell], list[Cell], dict[Cell, str]]:
    """Run the cells not yet stored; return (all cells, skipped cells, failures)."""
    cells = plan(cfg)
    todo = [c for c in cells if not cell_path(cfg.out, c).is_file()]
    skipped = [c for c in cells if c not in todo]
    failures: dict[Cell, str] = {}
    cfg_dict = _config_dict(cfg)

    def report(cell: Cell, path: str | None, err: BaseException | None) -> None:
        if err is not None:
            failures[cell] = describe_exception(err, with_type=True)
        if on_done:
            on_done(cell, path, err)

    if engine == "local":
        _run_local(cfg, cfg_dict, todo, report)
    elif engine == "ray":
        _run_ray(cfg, cfg_dict, todo, address, report)
    else:
        raise UsageError(f"unknown engine {engine!r}; allowed: local, ray")
    return cells, skipped, failures


def _run_local(cfg: SweepConfig, cfg_dict: dict, todo: list[Cell], report: Callable) -> None:
    if cfg.workers <= 1:
        for cell in todo:
            try:
                report(cell, str(run_cell(cfg, cell)), None)
            except Exception as exc:  # a failed cell is recorded, the others still run
                report(cell, None, exc)
        return
    from xr_codec_marl.lifetime import die_with_parent

    with ProcessPoolExecutor(max_workers=cfg.workers, initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        pending: dict[Future, Cell] = {
            pool.submit(_run_cell_job, cfg_dict, asdict(c)): c for c in todo
        }
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                cell = pending.pop(fut)
                try:
                    report(cell, fut.result(), None)
                except Exception as exc:
                    report(cell, None, exc)


def _run_ray(cfg: SweepConfig, cfg_dict: dict, todo: list[Cell], address: str | None,
             report: Callable) -> None:
    try:
        import ray
    except ImportError:
        raise UsageError("--engine ray needs Ray: pip install 'ray>=2.9'") from None
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(cfg.workers, 1), include_dashboard=False, log_to_driver=False)
    try:
        job = ray.remote(num_cpus=1)(_run_cell_job)
        refs = {job.remote(cfg_dict, asdict(c)): c for c in todo}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                cell = refs.pop(ref)
                try:
                    report(cell, ray.get(ref), None)
                except Exception as exc:
                    report(cell, None, exc)
    finally:
        if started_here:
            ray.shutdown()


def collect(out: str | Path, cells: Iterable[Cell]) -> pd.DataFrame:
    """Concatenate the stored cells into one tidy table and write ``results.csv`` atomically."""
    frames = [pd.read_csv(cell_path(out, c)) for c in cells if cell_path(out, c).is_file()]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    buf = io.StringIO()
    table.to_csv(buf, index=False)
    write_atomic(Path(out) / "results.csv", buf.getvalue())
    return table
