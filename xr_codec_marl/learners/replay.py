"""Episode replay buffer: whole episodes, padded to the episode limit, with a ``filled`` mask.

Vectorised environments finish ``B`` episodes at once, so :meth:`EpisodeBuffer.insert` takes a
batch. Storage is numpy (cheap to index, cheap to checkpoint); :meth:`sample` returns torch
tensors cut to the longest filled episode in the sample (as pymarl does).

Per episode, with T = episode limit:
``obs [T+1, N, O]``, ``state [T+1, S]``, ``avail [T+1, N, A]`` (index t = before action t,
index T = after the last action), ``actions [T, N]``, ``rewards [T, C]``, ``terminated [T]``,
``filled [T]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

FIELDS: dict[str, Any] = {
    "obs": np.float32,
    "state": np.float32,
    "avail": np.bool_,
    "actions": np.int64,
    "rewards": np.float32,
    "terminated": np.bool_,
    "filled": np.bool_,
}


def episode_shapes(
    episode_limit: int, n_agents: int, obs_size: int, state_size: int, n_actions: int, n_rewards: int
) -> dict[str, tuple[int, ...]]:
    """Shape of one stored episode, field by field."""
    t = episode_limit
    return {
        "obs": (t + 1, n_agents, obs_size),
        "state": (t + 1, state_size),
        "avail": (t + 1, n_agents, n_actions),
        "actions": (t, n_agents),
        "rewards": (t, n_rewards),
        "terminated": (t,),
        "filled": (t,),
    }


class EpisodeBuffer:
    """A circular buffer of ``capacity`` padded episodes."""

    def __init__(self, capacity: int, shapes: dict[str, tuple[int, ...]]) -> None:
        self.capacity = capacity
        self.shapes = shapes
        self.data = {k: np.zeros((capacity, *shapes[k]), dtype=FIELDS[k]) for k in FIELDS}
        self.size = 0  # episodes stored
        self.next = 0  # slot of the next insertion
        self.inserted = 0  # episodes ever inserted

    def __len__(self) -> int:
        return self.size

    def insert(self, batch: dict[str, np.ndarray]) -> None:
        """Store ``B`` episodes (each field has a leading batch dimension)."""
        b = batch["actions"].shape[0]
        slots = (self.next + np.arange(b)) % self.capacity
        for key in FIELDS:
            value = np.asarray(batch[key], dtype=FIELDS[key])
            if value.shape[1:] != self.shapes[key]:
                raise ValueError(f"episode field {key}: shape {value.shape[1:]} != {self.shapes[key]}")
            self.data[key][slots] = value
        self.next = int((self.next + b) % self.capacity)
        self.size = int(min(self.size + b, self.capacity))
        self.inserted += b

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """Uniformly sample ``batch_size`` distinct episodes, cut to the longest one."""
        idx = np.sort(rng.choice(self.size, size=batch_size, replace=False))
        filled = self.data["filled"][idx]
        t = int(filled.any(axis=0).nonzero()[0].max()) + 1 if filled.any() else 1
        out: dict[str, torch.Tensor] = {}
        for key, arr in self.data.items():
            part = arr[idx]
            if key in ("obs", "state", "avail"):
                part = part[:, : t + 1]
            else:
                part = part[:, :t]
            out[key] = torch.from_numpy(np.ascontiguousarray(part))
        return out

    # --- checkpointing: tensors and ints only, so torch.load(weights_only=True) accepts it ---
    def state_dict(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            "size": self.size,
            "next": self.next,
            "inserted": self.inserted,
            "shapes": {k: list(v) for k, v in self.shapes.items()},
            "data": {k: torch.from_numpy(v[: self.size].copy()) for k, v in self.data.items()},
        }

    @classmethod
    def from_state_dict(cls, sd: dict[str, Any]) -> EpisodeBuffer:
        buf = cls(int(sd["capacity"]), {k: tuple(v) for k, v in sd["shapes"].items()})
        buf.size, buf.next, buf.inserted = int(sd["size"]), int(sd["next"]), int(sd["inserted"])
        for k, v in sd["data"].items():
            buf.data[k][: buf.size] = v.numpy()
        return buf


def carry_over(
    sd: dict[str, Any], capacity: int, shapes: dict[str, tuple[int, ...]],
) -> EpisodeBuffer:
    """Another run's buffer (its ``state_dict``) as a new ``capacity``-episode buffer of
    ``shapes`` (fine-tuning with the source's replay).

    The newest ``capacity`` episodes are kept, oldest first so they are also evicted first.
    A different episode limit is bridged by cutting episodes at the new limit (the cut step
    bootstraps from the stored next observation, as a time-limit end does) or padding them
    with unfilled steps; every other dimension must already match (``ValueError``).
    """
    old = EpisodeBuffer.from_state_dict(sd)
    order = np.arange(old.size)
    if old.size == old.capacity:  # full: the oldest episode sits at ``next``
        order = (old.next + order) % old.capacity
    order = order[-capacity:] if capacity < old.size else order
    t_new, t_old = shapes["actions"][0], old.shapes["actions"][0]
    t = min(t_new, t_old)
    batch: dict[str, np.ndarray] = {}
    for key in FIELDS:
        if old.shapes[key][1:] != shapes[key][1:]:
            raise ValueError(f"episode field {key}: shape {old.shapes[key]} "
                             f"does not fit {shapes[key]}")
        value = np.zeros((len(order), *shapes[key]), dtype=FIELDS[key])
        steps = t + 1 if key in ("obs", "state", "avail") else t
        value[:, :steps] = old.data[key][order, :steps]
        batch[key] = value
    buf = EpisodeBuffer(capacity, shapes)
    if len(order):
        buf.insert(batch)
    return buf
