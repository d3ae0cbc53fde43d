"""Checkpoints: everything needed to resume a run exactly, or to act with the trained agents.

One file, ``<run dir>/checkpoint.pt``, written atomically. Its contents are tensors and plain
dict / list / str / int / float / bool / None only, so ``torch.load(weights_only=True)``
accepts it: weights, optimiser states, MHA weights, the config, the environment spec summary,
the replay buffer, RNG states and step counters.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xr_codec_marl.core.api import EnvSpec
from xr_codec_marl.errors import UsageError

FORMAT = "xr-codec-marl/learner-checkpoint/1"
FILENAME = "checkpoint.pt"


def spec_summary(spec: EnvSpec) -> dict[str, Any]:
    """The parts of an ``EnvSpec`` a trained network depends on, as plain data."""
    return {
        "name": spec.name,
        "agent_ids": list(spec.agent_ids),
        "obs_size": spec.obs_size,
        "n_actions": spec.n_actions,
        "state_size": spec.state_size,
        "reward_components": list(spec.reward_components),
        "episode_limit": spec.episode_limit,
        "settings": dict(spec.extra.get("settings", {})),  # the scenario, as plain data
    }


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """All RNG states as plain data (numpy's 128-bit integers as strings)."""
    st = rng.bit_generator.state
    return {
        "numpy": {
            "bit_generator": st["bit_generator"],
            "state": {k: str(v) for k, v in st["state"].items()},
            "has_uint32": int(st["has_uint32"]),
            "uinteger": int(st["uinteger"]),
        },
        "torch": torch.get_rng_state(),
        "python": _plain(random.getstate()),
    }


def restore_rng(sd: dict[str, Any]) -> np.random.Generator:
    """Restore torch and python RNGs; return the numpy generator in its saved state."""
    np_state = sd["numpy"]
    rng = np.random.Generator(getattr(np.random, np_state["bit_generator"])())
    rng.bit_generator.state = {
        "bit_generator": np_state["bit_generator"],
        "state": {k: int(v) for k, v in np_state["state"].items()},
        "has_uint32": np_state["has_uint32"],
        "uinteger": np_state["uinteger"],
    }
    torch.set_rng_state(sd["torch"])
    py = sd["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    return rng


def _plain(x: Any) -> Any:
    if isinstance(x, tuple | list):
        return [_plain(v) for v in x]
    return x


def checkpoint_path(path: str | Path) -> Path:
    """A run directory or a checkpoint file -> the checkpoint file."""
    p = Path(path)
    return p / FILENAME if p.is_dir() else p


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` atomically (temp file + rename) so an interruption never corrupts it."""
    target = checkpoint_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".pt.tmp")
    torch.save({"format": FORMAT, **payload}, tmp)
    os.replace(tmp, target)
    return target


#: Top-level entries any use of a checkpoint reads (resuming also needs seed, buffer, counters, rng).
REQUIRED = ("algo", "config", "spec", "learner")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and sanity-check a checkpoint.

    A missing, empty, truncated or foreign file raises one-line ``UsageError`` naming the file
    and the problem, never a traceback (``torch.load`` fails on those with assorted errors,
    some with an empty message).
    """
    target = checkpoint_path(path)
    if not target.is_file():
        raise UsageError(f"checkpoint not found: {target}")
    if target.stat().st_size == 0:
        raise UsageError(f"cannot read checkpoint {target}: the file is empty (0 bytes)")
    try:
        data = torch.load(target, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 (truncated file, not a torch file, unsafe pickle)
        raise UsageError(f"cannot read checkpoint {target}: {_one_line(exc)} "
                         "(truncated or not a checkpoint?)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{target} is not an xr-codec-marl learner checkpoint")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise UsageError(f"checkpoint {target} is incomplete: no {', '.join(missing)}")
    mappings = ("config", "spec", "learner", "buffer", "counters", "rng")
    not_dicts = [k for k in mappings if k in data and not isinstance(data[k], dict)]
    if not_dicts:
        raise UsageError(f"checkpoint {target} is inconsistent: {', '.join(not_dicts)} not a mapping")
    return data


def _one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (just ``Type`` when the message is empty)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def check_spec(saved: dict[str, Any], spec: EnvSpec, decomposed: bool, where: str) -> None:
    """Refuse a checkpoint whose networks do not fit ``spec`` (one-line ``UsageError``)."""
    now = spec_summary(spec)
    keys = ["obs_size", "n_actions", "state_size"]
    problems = [f"{k} {saved[k]} != {now[k]}" for k in keys if saved[k] != now[k]]
    if len(saved["agent_ids"]) != len(now["agent_ids"]):
        problems.append(f"{len(saved['agent_ids'])} agents != {len(now['agent_ids'])}")
    if decomposed and saved["reward_components"] != now["reward_components"]:
        problems.append(f"reward components {saved['reward_components']} != {now['reward_components']}")
    if problems:
        # say which scenario settings differ (e.g. an action option), the likely cause
        differ = setting_differences(saved.get("settings") or {}, now["settings"])
        hint = f" (trained with other settings: {', '.join(differ)})" if differ else ""
        raise UsageError(f"checkpoint {where} does not match the environment: "
                         f"{'; '.join(problems)}{hint}")


def setting_differences(old: dict[str, Any], new: dict[str, Any], width: int = 40) -> list[str]:
    """``["key OLD -> NEW", ...]`` for the keys whose values differ (values cut to ``width``
    characters), e.g. to say how a fine-tuning run's scenario differs from its source's."""
    def short(v: Any) -> str:
        text = "(none)" if v is None else repr(v)
        return text if len(text) <= width else text[: width - 3] + "..."

    keys = list(new) + [k for k in old if k not in new]
    return [f"{k} {short(old.get(k))} -> {short(new.get(k))}"
            for k in keys if old.get(k) != new.get(k)]
