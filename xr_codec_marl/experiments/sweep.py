"""Ring x policy x seed sweeps: plan cells, run them in parallel, store tidy rows, resume.

A *cell* is one (ring, policy, seed). A policy is a rule (``aps``, ``max``, ...), one of the
twelve learner names (trained inside the sweep, resumable from its checkpoint) or a
checkpoint path. Each finished cell writes its rows — one per episode x agent, with every
KPI, the team reward components, policy, ring, seed, backend and code version — to its own
CSV, atomically; a rerun skips cells whose file exists, so an interrupted sweep resumes.
``results.csv`` is the concatenation, rewritten atomically at the end.
"""

from __future__ import annotations

import io
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from xr_codec_marl.errors import UsageError, describe_exception
from xr_codec_marl.experiments.results import code_version, write_atomic

KPI_COLUMNS = ("xr_index", "delay_ms", "jitter_ms", "plr", "pdr", "throughput_mbps",
               "buffer_ratio", "codec_rate_mbps")


@dataclass(frozen=True)
class SweepConfig:
    """Everything that defines a sweep (stored in ``sweep.json`` for the record)."""

    rings: tuple[float, ...]
    policies: tuple[str, ...]
    seeds: int
    out: str
    backend: str = "analytic"
    env: str = "xr"
    episodes: int = 10
    train_steps: int = 20_000
    workers: int = 1
    sim_workers: int = 1  # ns-3 simulators per cell
    learner_overrides: tuple[str, ...] = ()
    scenario: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Cell:
    """One unit of work: a policy at a ring with a seed."""

    ring_m: float
    policy: str
    seed: int

    @property
    def key(self) -> str:
        safe = self.policy.replace("/", "_").replace(os.sep, "_").strip("._") or "policy"
        return f"ring{self.ring_m:g}/{safe}/seed{self.seed}"


def classify_policy(name: str) -> str:
    """``rule``, ``learner`` (to train) or ``checkpoint``; ``UsageError`` for anything else."""
    from xr_codec_marl.baselines import POLICIES, policy_kind
    from xr_codec_marl.learners.registry import ALGO_NAMES

    kind = policy_kind(name)
    if kind == "rule":
        return kind
    if name in ALGO_NAMES:  # before paths: a folder named like a learner does not shadow it
        return "learner"
    if kind == "checkpoint":
        return kind
    allowed = sorted(POLICIES) + ["fixed:K"] + list(ALGO_NAMES) + ["CHECKPOINT (path)"]
    raise UsageError(f"unknown policy {name!r} in --policies; allowed: {', '.join(allowed)}")


def plan(cfg: SweepConfig) -> list[Cell]:
    """All cells, in a stable order (rings, then policies, then seeds)."""
    if not cfg.rings or not cfg.policies:
        raise UsageError("a sweep needs at least one ring and one policy")
    for ring in cfg.rings:
        if not ring > 0:
            raise UsageError(f"ring radius must be > 0 m, got {ring:g}")
    if cfg.seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {cfg.seeds}")
    for p in cfg.policies:
        classify_policy(p)
    return [Cell(r, p, s) for r in cfg.rings for p in cfg.policies for s in range(cfg.seeds)]


def cell_path(out: str | Path, cell: Cell) -> Path:
    return Path(out) / "cells" / f"{cell.key}.csv"


def run_dir(out: str | Path, cell: Cell) -> Path:
    """Where a learner trained inside the sweep keeps its checkpoint and logs."""
    return Path(out) / "runs" / cell.key


def _env_kwargs(cfg: SweepConfig) -> dict[str, Any]:
    kw = dict(cfg.scenario)
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
    kw = _env_kwargs(cfg)
    kind = classify_policy(cell.policy)
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
        return make_env(cfg.env, cfg.backend, n, cell.ring_m, eval_seed, **kw)

    spec = env_spec(cfg.env, cfg.backend, cell.ring_m, **kw)
    policy = make_policy(str(ckpt) if ckpt else cell.policy, spec)
    batch = min(cfg.episodes, 256) if cfg.backend == "analytic" else cfg.sim_workers
    result = evaluate_policy(make_batch, policy, cfg.episodes, eval_seed, cfg.backend,
                             cell.ring_m, batch_size=batch)
    rows = []
    version = code_version()
    windows = result.windows()
    for e in range(result.episodes):
        rewards = {f"reward_{c}": float(result.episode_rewards[e, j])
                   for j, c in enumerate(result.component_names)}
        for i, agent in enumerate(result.agent_ids):
            row = {"policy": label, "kind": kind, "ring_m": cell.ring_m, "seed": cell.seed,
                   "episode": e, "eval_seed": eval_seed, "agent": agent, "backend": cfg.backend,
                   "code_version": version,
                   "windows": int(windows[e]), "episode_limit": result.episode_limit,
                   "truncation_reason": result.truncation_reasons[e] if result.truncation_reasons else ""}
            row.update({k: float(result.episode_kpis[k][e, i]) for k in KPI_COLUMNS})
            row.update(rewards)
            rows.append(row)
    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False)
    return write_atomic(cell_path(cfg.out, cell), buf.getvalue())


def train_cell(cfg: SweepConfig, cell: Cell) -> Path:
    """Train the cell's learner (resuming its checkpoint if any) and return the checkpoint."""
    from xr_codec_marl.env.factory import make_env
    from xr_codec_marl.learners.checkpoint import checkpoint_path, read_checkpoint
    from xr_codec_marl.learners.config import build_config
    from xr_codec_marl.learners.registry import get_algo
    from xr_codec_marl.learners.trainer import Trainer

    out = run_dir(cfg.out, cell)
    base = read_checkpoint(out)["config"] if checkpoint_path(out).is_file() else None
    lcfg = build_config(None, list(cfg.learner_overrides), base)
    n = cfg.sim_workers if cfg.backend == "ns3" else lcfg.num_envs
    env = make_env(cfg.env, cfg.backend, n, cell.ring_m, cell.seed, **_env_kwargs(cfg))
    try:
        trainer = Trainer(env, get_algo(cell.policy), lcfg, cell.seed, out,
                          {"env": cfg.env, "backend": cfg.backend, "ring_m": cell.ring_m,
                           "sweep": cfg.out})
        trainer.train(cfg.train_steps, progress=False)
    finally:
        env.close()
    return checkpoint_path(out)


def _run_cell_job(cfg_dict: dict[str, Any], cell_dict: dict[str, Any]) -> str:
    """Picklable entry point for process pools and Ray."""
    cfg = SweepConfig(**{**cfg_dict, "rings": tuple(cfg_dict["rings"]),
                         "policies": tuple(cfg_dict["policies"]),
                         "learner_overrides": tuple(cfg_dict["learner_overrides"])})
    return str(run_cell(cfg, Cell(**cell_dict)))


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
    cfg_dict = asdict(cfg)

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
