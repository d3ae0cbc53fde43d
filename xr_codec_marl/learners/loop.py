"""The run loop every learner family shares: seeding, resuming from the run's own checkpoint
or fine-tuning from another run's (``--init-from``), progress bar, ``log.csv``, TensorBoard,
checkpoints on time / steps / Ctrl-C, and a resumed run's log cut back to its checkpoint.

A family's trainer (value learners: :class:`~xr_codec_marl.learners.trainer.Trainer`;
policy-gradient learners: :class:`~xr_codec_marl.learners.pg.trainer.OnPolicyTrainer`)
subclasses :class:`RunLoop` and supplies one iteration (collect, learn, advance the
counters), the checkpoint payload, the log columns, and how its learner's state is loaded
(:meth:`RunLoop._load_run`, :meth:`RunLoop._load_source`). What a checkpoint covers is flushed
to disk before the checkpoint is written, so after any kill and resume ``log.csv`` holds every
episode exactly once, as an uninterrupted run writes it.

Fine-tuning (:meth:`RunLoop._start_from`) takes the source's networks (and what the family
keeps besides: optimiser state, replay) with counters at 0; where the source came from is
kept in ``init_from``, saved in every checkpoint of the new run, and a resumed fine-tuning
run (its own checkpoint always wins over ``init_from``) keeps it.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xr_codec_marl.core.api import EnvSpec, VecMultiAgentEnv
from xr_codec_marl.errors import UsageError
from xr_codec_marl.learners.checkpoint import (
    checkpoint_path,
    read_checkpoint,
    restore_rng,
    save_checkpoint,
)
from xr_codec_marl.learners.config import LearnerConfig
from xr_codec_marl.learners.registry import AlgoSpec


def seed_everything(seed: int, threads: int) -> np.random.Generator:
    """Seed python, numpy and torch; deterministic CPU kernels; fixed thread count."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)
    return np.random.default_rng(seed)


@dataclass(frozen=True)
class Pretrained:
    """Another run's checkpoint, read once, to fine-tune from."""

    path: Path  # the checkpoint file
    data: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path) -> Pretrained:
        """Read ``path`` (a run directory or checkpoint file); one-line ``UsageError`` if it
        is missing, empty, truncated or not a learner checkpoint."""
        target = checkpoint_path(path)
        try:
            return cls(target, read_checkpoint(target))
        except UsageError as exc:
            raise UsageError(f"cannot fine-tune from {path}: {exc}") from None

    @property
    def config(self) -> dict[str, Any]:
        """The source's learner settings, the base of the fine-tuning run's (less its own
        ``finetune_*`` ones: those say how the source was started, not how to start this run)."""
        return {k: v for k, v in self.data["config"].items() if not k.startswith("finetune_")}

    def check_algo(self, name: str) -> None:
        """One-line ``UsageError`` unless the source trained learner ``name``."""
        if self.data["algo"] != name:
            raise UsageError(f"{self.path} holds a {self.data['algo']} run; fine-tuning it needs "
                             f"--algo {self.data['algo']}, not {name}")


@contextmanager
def checkpoint_errors(where: str | Path) -> Iterator[None]:
    """Turn what a checkpoint that does not fit raises on loading (missing keys, tensors of
    other shapes, ...) into one-line ``UsageError`` naming ``where``."""
    try:
        yield
    except UsageError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0]  # load_state_dict's are long
        raise UsageError(f"checkpoint {where} is incomplete or inconsistent: "
                         f"{type(exc).__name__}: {first}") from None


def episode_fields(spec: EnvSpec, stats: Any, i: int) -> dict[str, str]:
    """The ``log.csv`` columns every learner family writes for episode ``i`` of a rollout:
    its return and each component's, each KPI's mean, and each agent's action spread
    (``stats``: ``returns [B, C]``, optional ``kpis [B, N, K]``, ``action_entropy`` and
    ``off_modal [B, N]``)."""
    row = {"return": f"{stats.returns[i].sum():.6g}"}
    for c, name in enumerate(spec.reward_components):
        row[f"return_{name}"] = f"{stats.returns[i, c]:.6g}"
    if stats.kpis is not None:
        for k, name in enumerate(spec.kpi_names):
            row[f"kpi_{name}"] = f"{stats.kpis[i, :, k].mean():.6g}"
    if stats.action_entropy is not None and stats.off_modal is not None:
        for j, a in enumerate(spec.agent_ids):
            row[f"act_entropy_{a}"] = f"{stats.action_entropy[i, j]:.4g}"
            row[f"act_off_modal_{a}"] = f"{stats.off_modal[i, j]:.4g}"
    return row


def kpi_scalars(spec: EnvSpec, kpis: Any) -> dict[str, float]:
    """TensorBoard's ``kpi/NAME``: each KPI's mean over the measured copies of a rollout."""
    out: dict[str, float] = {}
    if kpis is not None:
        for k, name in enumerate(spec.kpi_names):
            vals = kpis[..., k][~np.isnan(kpis[..., k])]
            out[f"kpi/{name}"] = float(vals.mean()) if vals.size else float("nan")
    return out


def _fields(line: bytes) -> list[str]:
    """One CSV line's fields."""
    return next(csv.reader([line.decode(errors="replace")]), [])


class RunLoop:
    """Loop shell of one training run; subclasses set the attributes below in ``__init__``
    and implement :meth:`payload`, :meth:`_columns` and :meth:`_iterate`."""

    env: VecMultiAgentEnv
    algo: AlgoSpec
    cfg: LearnerConfig
    seed: int
    out_dir: Path | None
    run_info: dict[str, Any]
    rng: np.random.Generator
    env_steps: int
    episodes: int
    rollouts: int
    last_stats: dict[str, Any]
    resumed: bool
    #: the run this one fine-tunes (path, counters, settings), None for a run from scratch
    init_from: dict[str, Any] | None
    _stop: bool
    #: settings that size the networks: a fine-tuning run must use its source's values
    network_settings: tuple[str, ...] = ()

    # --- setting up: seeds, then the run's own checkpoint or a source to fine-tune ---
    def _setup(self, env: VecMultiAgentEnv, algo: AlgoSpec, cfg: LearnerConfig, seed: int,
               out_dir: str | Path | None, run_info: dict[str, Any] | None) -> None:
        """The attributes every trainer has, RNGs seeded (call first in ``__init__``)."""
        self.env, self.algo, self.cfg, self.seed = env, algo, cfg, seed
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.run_info = dict(run_info or {})
        self.rng = seed_everything(seed, cfg.threads)
        self.env_steps = self.episodes = self.rollouts = 0
        self.last_stats = {}
        self.resumed = False
        self.init_from = None
        self._stop = False

    def _begin(self, init_from: Pretrained | None) -> None:
        """Resume from ``out_dir``'s checkpoint if there is one (it wins over ``init_from``),
        else fine-tune from ``init_from`` if given (call last in ``__init__``)."""
        if self.out_dir is not None and checkpoint_path(self.out_dir).is_file():
            self._resume()
        elif init_from is not None:
            self._start_from(init_from)

    def _resume(self) -> None:
        """Continue from ``out_dir``'s checkpoint; one-line ``UsageError`` if it does not fit."""
        assert self.out_dir is not None
        data = read_checkpoint(self.out_dir)
        if data["algo"] != self.algo.name:
            raise UsageError(f"{self.out_dir} holds a {data['algo']} run, not {self.algo.name}; "
                             "use another --out")
        with checkpoint_errors(checkpoint_path(self.out_dir)):
            if int(data["seed"]) != self.seed:
                raise UsageError(f"{self.out_dir} holds a run with seed {data['seed']}, "
                                 f"not {self.seed}")
            self._check_saved_spec(data["spec"], str(self.out_dir))
            self._load_run(data)
            c = data["counters"]
            self.env_steps, self.episodes = int(c["env_steps"]), int(c["episodes"])
            self.rollouts = int(c["rollouts"])
            self.rng = restore_rng(data["rng"])
            self.init_from = data.get("init_from")
        self.resumed = True

    def _start_from(self, source: Pretrained) -> None:
        """Fine-tune: take ``source``'s networks (and what :meth:`_load_source` keeps besides);
        counters stay at 0. One-line ``UsageError`` if the source does not fit this run."""
        data, where, cfg = source.data, str(source.path), self.cfg
        source.check_algo(self.algo.name)
        with checkpoint_errors(where):
            self._check_saved_spec(data["spec"], where)
            sizes = [f"{k} {data['config'][k]} != {getattr(cfg, k)}" for k in self.network_settings
                     if k in data["config"] and data["config"][k] != getattr(cfg, k)]
            if sizes:
                raise UsageError(f"checkpoint {where} has other network sizes: {'; '.join(sizes)}")
            kept = self._load_source(data)
            counters = data.get("counters", {})
            self.init_from = {
                "checkpoint": str(source.path.resolve()),
                "algo": data["algo"],
                "seed": data.get("seed"),
                "env_steps": int(counters.get("env_steps", 0)),
                "episodes": int(counters.get("episodes", 0)),
                "train_steps": int(data["learner"]["train_steps"]),
                "spec": data["spec"]["name"],
                "settings": dict(data["spec"].get("settings", {})),
                "run": dict(data.get("run", {})),  # env, backend, argv of the pre-training
                "config": dict(data["config"]),
                "kept_optimiser": cfg.finetune_keep_optimiser,
                **kept,
                "init_from": data.get("init_from"),  # the source's own pre-training, if any
            }

    def _check_saved_spec(self, saved: dict[str, Any], where: str) -> None:
        """One-line ``UsageError`` unless a checkpoint's spec summary fits this run's env."""
        raise NotImplementedError

    def _load_run(self, data: dict[str, Any]) -> None:
        """Load the learner (and replay) of the run's own checkpoint, to resume it exactly."""
        raise NotImplementedError

    def _load_source(self, data: dict[str, Any]) -> dict[str, Any]:
        """Load a fine-tuning source's networks (and optimiser state, replay, as the settings
        say); returns what to add to ``init_from`` about what was kept."""
        raise NotImplementedError

    # --- what a subclass supplies ---
    @property
    def run_name(self) -> str:
        """Name on the progress bar (the learner's)."""
        raise NotImplementedError

    def payload(self) -> dict[str, Any]:
        """Everything the checkpoint holds (plain data and tensors)."""
        raise NotImplementedError

    def _columns(self) -> list[str]:
        """``log.csv``'s columns (``wall_s`` last)."""
        raise NotImplementedError

    def _iterate(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One rollout and its learning; advances ``env_steps`` / ``episodes``. Returns the
        summary (floats go to TensorBoard) and one log row per episode (``wall_s`` is added)."""
        raise NotImplementedError

    def _postfix_keys(self, key: str) -> bool:
        """Summary keys shown on the progress bar."""
        return key in ("return", "epsilon") or key.startswith("loss/")

    @property
    def _checkpoint_every(self) -> tuple[int, float]:
        """``(env steps, seconds)`` between checkpoints (0 = off)."""
        cfg = getattr(self, "cfg")
        return cfg.checkpoint_every, cfg.checkpoint_every_s

    @property
    def _tensorboard(self) -> bool:
        return bool(getattr(self, "cfg").tensorboard)

    # --- checkpoints ---
    def save(self) -> Path | None:
        if self.out_dir is None:
            return None
        return save_checkpoint(self.out_dir, self.payload())

    def _checkpoint(self, fh: Any, tb: Any) -> None:
        """Flush (and fsync) the log and TensorBoard, then save: what a checkpoint covers is on
        disk before the checkpoint is, so no kill can lose logged episodes for good."""
        if fh is not None:
            fh.flush()
            os.fsync(fh.fileno())
        if tb is not None:
            tb.flush()
        self.save()

    # --- logging ---
    def _open_log(self) -> tuple[Any, Any]:
        """``log.csv`` open for appending, holding exactly the episodes before ``self.episodes``.

        A fresh run starts it with the header. A resumed run keeps the rows its checkpoint
        covers (flushed before the checkpoint was written) and cuts, in place, the rows after
        them and any half-written last line: the run replays those episodes bit-for-bit.
        """
        assert self.out_dir is not None
        path = self.out_dir / "log.csv"
        cols = self._columns()
        keep = self._log_bytes_to_keep(path, cols) if self.resumed and path.is_file() else 0
        if keep:
            with path.open("r+b") as f:
                f.truncate(keep)
            fh = path.open("a", newline="")
            writer = csv.DictWriter(fh, fieldnames=cols)
        else:
            if self.resumed and path.is_file() and path.stat().st_size:  # another run's columns
                path.replace(path.with_name("log.csv.old"))
            if self.episodes:
                warnings.warn(f"{path} is missing or not this run's; the rows of the "
                              f"{self.episodes} episodes before the checkpoint are lost",
                              RuntimeWarning, stacklevel=2)
            fh = path.open("w", newline="")
            writer = csv.DictWriter(fh, fieldnames=cols)
            writer.writeheader()
        return fh, writer

    def _log_bytes_to_keep(self, path: Path, cols: list[str]) -> int:
        """Length of the header plus the complete rows of episodes before the checkpoint (0 if
        the header is not this run's)."""
        lines = path.read_bytes().splitlines(keepends=True)
        if not lines or not lines[0].endswith(b"\n") or _fields(lines[0]) != cols:
            return 0
        size, kept, last = len(lines[0]), 0, -1
        for line in lines[1:]:
            fields = _fields(line)
            if not line.endswith(b"\n") or len(fields) != len(cols):
                break  # the half-written row of a killed run
            try:
                episode = int(fields[0])
            except ValueError:
                break
            if not last < episode < self.episodes:
                break  # written after the checkpoint
            size, kept, last = size + len(line), kept + 1, episode
        if kept != self.episodes:
            warnings.warn(f"{path} holds {kept} of the {self.episodes} episodes before the "
                          "checkpoint (rows lost before this version flushed the log at "
                          "checkpoints)", RuntimeWarning, stacklevel=2)
        return size

    # --- the loop ---
    def train(self, total_steps: int, progress: bool = True, log: bool = True) -> dict[str, Any]:
        """Train until ``total_steps`` env windows; returns the last rollout's summary."""
        fh = writer = tb = None
        if log and self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            fh, writer = self._open_log()
            if self._tensorboard:
                from torch.utils.tensorboard import SummaryWriter

                # drop events past the checkpoint (the run replays them); a fresh run: all
                tb = SummaryWriter(str(self.out_dir / "tb"),
                                   purge_step=self.env_steps + 1 if self.resumed else 0)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total_steps, initial=self.env_steps, unit="win", dynamic_ncols=True,
                       desc=self.run_name)
        old_handler = signal.getsignal(signal.SIGINT)
        # Ctrl-C finishes the rollout and checkpoints, with or without a progress bar
        # (signal handlers can only be set from the main thread)
        catch = threading.current_thread() is threading.main_thread()
        if catch:
            signal.signal(signal.SIGINT, self._on_sigint)
        every, every_s = self._checkpoint_every
        next_ckpt = (self.env_steps // every + 1) * every if every else None
        t0 = last_ckpt = time.perf_counter()
        summary: dict[str, Any] = {}
        consistent = True  # False while a rollout is half-applied: no checkpoint of that state
        try:
            while self.env_steps < total_steps and not self._stop:
                consistent = False
                before = self.env_steps
                summary, rows = self._iterate()
                if writer is not None:
                    wall = f"{time.perf_counter() - t0:.3f}"
                    for row in rows:
                        writer.writerow({**row, "wall_s": wall})
                if tb is not None:
                    for key, value in summary.items():
                        if isinstance(value, float):
                            tb.add_scalar(key, value, self.env_steps)
                consistent = True
                if bar is not None:
                    bar.update(self.env_steps - before)
                    bar.set_postfix({k: f"{v:.3g}" for k, v in summary.items()
                                     if self._postfix_keys(k)}, refresh=False)
                by_steps = next_ckpt is not None and self.env_steps >= next_ckpt
                if by_steps or (every_s > 0 and time.perf_counter() - last_ckpt >= every_s):
                    self._checkpoint(fh, tb)
                    last_ckpt = time.perf_counter()
                    if every:
                        next_ckpt = (self.env_steps // every + 1) * every
        finally:
            if catch:
                signal.signal(signal.SIGINT, old_handler)
            if consistent:  # else the last checkpoint stands; the half-done rollout is replayed
                self._checkpoint(fh, tb)
            if bar is not None:
                bar.close()
            if fh is not None:
                fh.close()
            if tb is not None:
                tb.close()
        return summary

    @property
    def interrupted(self) -> bool:
        """The last :meth:`train` stopped early on Ctrl-C (after writing its checkpoint)."""
        return self._stop

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self._stop:  # second Ctrl-C: give up immediately
            raise KeyboardInterrupt
        self._stop = True
