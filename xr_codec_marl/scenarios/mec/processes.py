"""Random processes of the MEC scenario, batched over environments and seeded.

- :func:`arrival_multiplier`: the load-peak schedule (rate × ``peak_multiplier`` for
  ``peak_duration_s`` of every ``peak_period_s``) of the ``load-peaks`` variant, 1 otherwise.
- :class:`TaskSampler`: Poisson task arrivals per device and step, with each new task's data
  size, cycles, deadline, priority and memory drawn uniformly in the settings' ranges.
- :class:`FailureProcess`: servers alternate up/down with exponential times of mean MTBF and
  MTTR (``failures`` variant; always up otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xr_codec_marl.scenarios.mec.settings import MECSettings


def arrival_multiplier(settings: MECSettings, t_s: float) -> float:
    """The arrival-rate multiplier at time ``t_s`` (peaks open each period)."""
    if settings.variant != "load-peaks":
        return 1.0
    phase = t_s % settings.peak_period_s
    return settings.peak_multiplier if phase < settings.peak_duration_s else 1.0


@dataclass
class NewTasks:
    """The tasks that arrived in one step: ``count [B, N]`` per device, and the attributes of
    up to ``M = max(count)`` of them, ``[B, N, M]`` each (``valid`` marks real ones; arrival
    instants ``offset_s`` are uniform in the step and sorted)."""

    count: np.ndarray  # int64 [B, N]
    valid: np.ndarray  # bool [B, N, M]
    offset_s: np.ndarray
    bits: np.ndarray
    cycles: np.ndarray
    deadline_s: np.ndarray
    priority: np.ndarray
    memory_gb: np.ndarray


class TaskSampler:
    """Poisson arrivals with rate ``arrival_rate_hz × arrival_multiplier`` per device."""

    def __init__(self, settings: MECSettings, num_envs: int, rng: np.random.Generator) -> None:
        self.s, self.b, self.rng = settings, num_envs, rng

    def sample(self, t_s: float, n_devices: int) -> NewTasks:
        """Draw the step's arrivals; attributes are drawn for real tasks only (flat), then
        laid out ``[B, N, M]`` with zeros where ``valid`` is False."""
        s, rng = self.s, self.rng
        lam = s.arrival_rate_hz * arrival_multiplier(s, t_s) * s.decision_step_s
        count = rng.poisson(lam, (self.b, n_devices)).astype(np.int64)
        m = max(int(count.max(initial=0)), 1)
        shape = (self.b, n_devices, m)
        valid = np.arange(m) < count[..., None]
        total = int(count.sum())
        owner = np.repeat(np.arange(count.size), count.ravel())  # flat device of each task
        offset = rng.uniform(0.0, s.decision_step_s, total)
        order = np.lexsort((offset, owner))  # arrival instants sorted within each device
        offset = offset[order]
        bits = rng.uniform(*s.data_bits, total)
        per_bit = rng.uniform(*s.cycles_per_bit, total)
        deadline = rng.uniform(*s.deadline_s, total)
        priority = rng.uniform(*s.priority, total)
        memory = rng.uniform(*s.task_memory_gb, total)

        def lay(x: np.ndarray) -> np.ndarray:
            out = np.zeros(shape)
            out[valid] = x  # row-major: device by device, rank within a device
            return out

        return NewTasks(count, valid, lay(offset), lay(bits), lay(bits * per_bit),
                        lay(deadline), lay(priority), lay(memory))


class FailureProcess:
    """Up/down state of every server, ``[B, K]`` bool (True: up), advanced one step at a time.

    Each step a server that is up fails with probability 1 − exp(−dt / MTBF) and one that is
    down is repaired with probability 1 − exp(−dt / MTTR) (MTTR 0: repaired at once), so the
    long-run fraction of time up is MTBF / (MTBF + MTTR)."""

    def __init__(self, settings: MECSettings, num_envs: int, n_servers: int,
                 rng: np.random.Generator) -> None:
        self.s, self.rng = settings, rng
        self.up = np.ones((num_envs, n_servers), bool)
        dt = settings.decision_step_s
        self.p_fail = 1.0 - np.exp(-dt / settings.mtbf_s) if settings.variant == "failures" else 0.0
        self.p_repair = 1.0 if settings.mttr_s == 0 else 1.0 - np.exp(-dt / settings.mttr_s)

    def step(self) -> tuple[np.ndarray, np.ndarray]:
        """Advance one step; returns ``(up, failed_now)`` (servers that went down this step)."""
        u = self.rng.random(self.up.shape)
        failed = self.up & (u < self.p_fail)
        repaired = ~self.up & (u < self.p_repair)
        self.up = (self.up & ~failed) | repaired
        return self.up.copy(), failed
