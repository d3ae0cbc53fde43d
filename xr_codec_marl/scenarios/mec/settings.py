"""Settings of the multi-MEC offloading scenario, with the seeds' two presets.

``multi-mec`` (seed 001): N devices are the agents, K MEC servers; each device decides for
its pending task: run it locally, or offload a fraction to server k at a transmit power.
``aiot`` (seed 000): 25 edge-node agents serve 50 IoT devices; each node runs its pending
task, forwards it to node j, or rejects it (26 actions). The seed-000 variants (stable,
load peaks, node failures, heterogeneous resources) are one setting. ``validate`` refuses a
bad value with one ``ValueError`` naming it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

PRESETS: tuple[str, ...] = ("multi-mec", "aiot")
VARIANTS: tuple[str, ...] = ("stable", "load-peaks", "failures", "heterogeneous")
QUEUE_DISCIPLINES: tuple[str, ...] = ("fifo", "ps")
ON_FAILURE: tuple[str, ...] = ("lose", "requeue")


@dataclass(frozen=True)
class MECSettings:
    """Every quantity of the scenario (SI units; ranges from the seeds and REFERENCE.md §7)."""

    preset: str = "multi-mec"
    variant: str = "stable"
    devices: int = 50  # N
    servers: int = 9  # K (aiot: the edge nodes)
    decision_step_s: float = 0.1
    episode_limit: int = 100  # decision steps per episode
    # --- tasks: Poisson arrivals per device, sizes, work, deadlines, priorities ---
    arrival_rate_hz: float = 2.0
    data_bits: tuple[float, float] = (0.16e6, 5e6)  # 20 KB .. 5 Mbit
    cycles_per_bit: tuple[float, float] = (200.0, 2000.0)
    deadline_s: tuple[float, float] = (0.05, 1.0)
    priority: tuple[float, float] = (0.5, 1.0)
    # --- devices ---
    f_local_hz: float = 1e9
    kappa: float = 1e-27
    tx_power_dbm: tuple[float, ...] = (10.0, 17.0, 23.0)  # discrete power levels
    offload_fractions: tuple[float, ...] = (0.5, 1.0)  # partial and full offloading
    speed_mps: float = 1.4  # walking
    # --- radio: one cell per server, OFDMA share among its devices ---
    bandwidth_hz: float = 20e6
    area_m: float = 1000.0  # square side; servers on a grid, devices uniform
    path_loss: str = "uma-nlos"
    carrier_ghz: float = 3.5
    shadowing_db: float = 8.0
    noise_figure_db: float = 5.0
    interference_dbm: float = -110.0  # other-cell interference per device, as a setting
    outage_rate_bps: float = 1e6
    # --- servers ---
    f_server_hz: tuple[float, float] = (10e9, 40e9)  # heterogeneous variant draws in range
    queue: str = "fifo"
    mtbf_s: float = 60.0  # failures variant
    mttr_s: float = 5.0
    on_failure: str = "lose"
    # --- load peaks: arrival-rate multiplier during peaks ---
    peak_multiplier: float = 3.0
    peak_period_s: float = 4.0
    peak_duration_s: float = 1.0
    # --- rewards: seed 001 priority weights and the seed-000 summed-reward weights ---
    priority_weights: tuple[float, float, float] = (0.4, 0.3, 0.3)
    aoi_max_s: float = 5.0
    energy_ref_j: float = 1.0

    def validate(self) -> "MECSettings":
        """Raise ``ValueError`` naming the first bad setting; return self when all are fine."""
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; allowed: {', '.join(PRESETS)}")
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; allowed: {', '.join(VARIANTS)}")
        if self.queue not in QUEUE_DISCIPLINES:
            raise ValueError(f"unknown queue {self.queue!r}; allowed: fifo, ps")
        if self.on_failure not in ON_FAILURE:
            raise ValueError(f"unknown on_failure {self.on_failure!r}; allowed: lose, requeue")
        for name in ("devices", "servers", "episode_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        positive = ("decision_step_s", "f_local_hz", "bandwidth_hz", "area_m", "carrier_ghz",
                    "kappa", "aoi_max_s", "energy_ref_j", "mtbf_s", "peak_period_s")
        for name in positive:
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be > 0, got {v}")
        for name in ("arrival_rate_hz", "speed_mps", "shadowing_db", "mttr_s",
                     "peak_duration_s", "outage_rate_bps"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be >= 0, got {v}")
        if self.peak_multiplier < 1:
            raise ValueError(f"peak_multiplier must be >= 1, got {self.peak_multiplier}")
        for name in ("data_bits", "cycles_per_bit", "deadline_s", "priority", "f_server_hz"):
            lo, hi = getattr(self, name)
            if not (0 < lo <= hi and math.isfinite(hi)):
                raise ValueError(f"{name} must be a range 0 < low <= high, got ({lo}, {hi})")
        if not self.tx_power_dbm or not self.offload_fractions:
            raise ValueError("tx_power_dbm and offload_fractions need at least one level")
        if not all(0 < a <= 1 for a in self.offload_fractions):
            raise ValueError(f"offload_fractions must lie in (0, 1], got {self.offload_fractions}")
        if any(w < 0 for w in self.priority_weights):
            raise ValueError(f"priority_weights must be >= 0, got {self.priority_weights}")
        return self

    @property
    def n_agents(self) -> int:
        """Devices decide in ``multi-mec``; the edge nodes (``servers``) in ``aiot``."""
        return self.devices if self.preset == "multi-mec" else self.servers

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


#: What each preset changes from the defaults (seed 000: 25 nodes, 50 devices).
PRESET_DEFAULTS: dict[str, dict[str, Any]] = {
    "multi-mec": {},
    "aiot": {"servers": 25, "devices": 50, "deadline_s": (0.5, 10.0), "decision_step_s": 0.5,
             "f_server_hz": (2e9, 16e9), "arrival_rate_hz": 0.5},
}


def preset(name: str, **changes: Any) -> MECSettings:
    """The settings of preset ``name`` with ``changes`` applied (validated)."""
    if name not in PRESET_DEFAULTS:
        raise ValueError(f"unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
    known = {f.name for f in fields(MECSettings)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ValueError(f"unknown MEC setting(s): {', '.join(unknown)}")
    return replace(MECSettings(preset=name), **{**PRESET_DEFAULTS[name], **changes}).validate()
