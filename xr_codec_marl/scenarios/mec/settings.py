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
PRIORITISATIONS: tuple[str, ...] = ("none", "deadline", "resource", "sla", "combined")
OBSERVATIONS: tuple[str, ...] = ("seed", "full")
RADIOS: tuple[str, ...] = ("per-server", "cells")
#: The reward components, in this order (each a team value in [0, 1] per step).
REWARD_COMPONENTS: tuple[str, ...] = ("completion", "deadline", "energy", "aoi", "fairness")
#: Named weightings of the components for the vanilla learners' summed reward: seed 000's
#: (completion 0.4, deadline 0.35, energy 0.1, fairness 0.15), seed 001's sum
#: (completion + energy + (1 - AoI)), and all equal.
REWARD_PRESETS: dict[str, tuple[float, ...]] = {
    "seed000": (0.4, 0.35, 0.1, 0.0, 0.15),
    "seed001": (1.0, 0.0, 1.0, 1.0, 0.0),
    "equal": (1.0, 1.0, 1.0, 1.0, 1.0),
}


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
    arrival_rate_hz: float = 1.0
    data_bits: tuple[float, float] = (0.16e6, 5e6)  # 20 KB .. 5 Mbit
    cycles_per_bit: tuple[float, float] = (200.0, 2000.0)
    deadline_s: tuple[float, float] = (0.5, 2.0)
    priority: tuple[float, float] = (0.5, 1.0)
    task_memory_gb: tuple[float, float] = (0.01, 0.5)
    #: tasks waiting for their agent's decision (more arrivals are rejected)
    agent_buffer: int = 4
    #: which waiting task an agent decides first: arrival order, or the seed-001 priority
    #: score with only urgency (deadline), size (resource), service class (sla) or all three
    prioritisation: str = "none"
    #: a task not finished by its deadline is dropped there (False: it finishes late, a miss)
    drop_late: bool = False
    high_priority: float = 0.75  # tasks at or above count as high priority (Table 3)
    # --- devices ---
    f_local_hz: float = 1e9
    kappa: float = 1e-27
    tx_power_dbm: tuple[float, ...] = (10.0, 23.0)  # discrete power levels
    offload_fractions: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)  # partial and full
    #: multi-mec action space: "discrete" (the product of target, fraction and power levels)
    #: or "hybrid" (a target head, the fraction in [0, 1] and the power in the levels' range,
    #: for the policy-gradient learners; both backends: mec-offload's --actions=hybrid)
    actions: str = "discrete"
    speed_mps: float = 1.4  # walking
    local_slots: int = 8  # tasks queued at a device's CPU (local and partial actions need one)
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
    server_memory_gb: tuple[float, float] = (16.0, 64.0)
    server_slots: int = 32  # compute queue capacity per server (more are rejected)
    queue: str = "fifo"
    #: the servers' own energy κ_s f_s² c counts in the energy component (aiot's nodes)
    server_energy: bool = False
    kappa_server: float = 1e-28
    # --- aiot: devices upload to their nearest node; nodes forward over a backhaul ---
    device_tx_power_dbm: float = 20.0
    backhaul_bps: float = 1e9
    backhaul_latency_s: float = 0.002
    observation: str = "seed"  # aiot: the seed's 5 features, or "full" (+ every node's load)
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
    #: weights of (completion, deadline, energy, aoi, fairness) applied to the components
    #: the environment returns, so vanilla learners' sum is the preset's team reward
    reward_weights: tuple[float, ...] = REWARD_PRESETS["equal"]
    #: the twin's radio: "per-server" (one cell per server, the seeds') or "cells" (the ns-3
    #: network below: base stations apart from the servers, every upload via its own cell)
    radio: str = "per-server"
    rate_efficiency: float = 1.0  # twin: share of Shannon's rate the uplink achieves
    max_se_bps_hz: float = 0.0  # twin: cap on the uplink's spectral efficiency (0: none)
    # --- the ns-3 backend's network (and the twin's with radio="cells") ---
    ran: str = ""  # "nr" or "lte"; empty: the build's default (NR where built)
    cells: int = 1  # base stations, on a line isd_m apart; devices around theirs
    isd_m: float = 500.0
    cell_radius_m: float = 250.0
    min_distance_m: float = 10.0
    server_link_mbps: float = 1000.0  # each server's link to the core
    server_delay_ms: float = 2.0  # one-way delay of server 0's link ...
    server_delay_step_ms: float = 1.0  # ... plus this per server index (farther servers)
    cloud: bool = False  # the last server is a remote cloud (cloud_delay_ms, cloud_ghz)
    cloud_delay_ms: float = 25.0
    cloud_ghz: float = 100.0
    result_bytes: int = 1000  # result sent back over the downlink per task
    task_timeout_s: float = 1.0  # after its deadline, a task whose result never came is dropped

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
        if self.prioritisation not in PRIORITISATIONS:
            raise ValueError(f"unknown prioritisation {self.prioritisation!r}; allowed: "
                             f"{', '.join(PRIORITISATIONS)}")
        if self.observation not in OBSERVATIONS:
            raise ValueError(f"unknown observation {self.observation!r}; allowed: seed, full")
        if self.radio not in RADIOS:
            raise ValueError(f"unknown radio {self.radio!r}; allowed: {', '.join(RADIOS)}")
        if not (0 < self.rate_efficiency <= 1):
            raise ValueError(f"rate_efficiency must be in (0, 1], got {self.rate_efficiency}")
        if not (self.max_se_bps_hz >= 0 and math.isfinite(self.max_se_bps_hz)):
            raise ValueError(f"max_se_bps_hz must be >= 0, got {self.max_se_bps_hz}")
        if not (0 <= self.min_distance_m < self.cell_radius_m):
            raise ValueError(f"min_distance_m must be in [0, cell_radius_m), got "
                             f"{self.min_distance_m}")
        if self.ran not in ("", "nr", "lte"):
            raise ValueError(f"unknown ran {self.ran!r}; allowed: nr, lte (empty: the build's)")
        for name in ("cells", "result_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("isd_m", "cell_radius_m", "server_link_mbps", "cloud_ghz"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be > 0, got {v}")
        for name in ("server_delay_ms", "server_delay_step_ms", "cloud_delay_ms",
                     "task_timeout_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be >= 0, got {v}")
        if self.path_loss not in ("macro", "uma-nlos"):
            raise ValueError(f"unknown path_loss {self.path_loss!r}; allowed: macro, uma-nlos")
        for name in ("devices", "servers", "episode_limit", "agent_buffer", "local_slots",
                     "server_slots"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        positive = ("decision_step_s", "f_local_hz", "bandwidth_hz", "area_m", "carrier_ghz",
                    "kappa", "aoi_max_s", "energy_ref_j", "mtbf_s", "peak_period_s",
                    "backhaul_bps", "kappa_server")
        for name in positive:
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be > 0, got {v}")
        for name in ("arrival_rate_hz", "speed_mps", "shadowing_db", "mttr_s",
                     "peak_duration_s", "outage_rate_bps", "backhaul_latency_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be >= 0, got {v}")
        if self.peak_multiplier < 1:
            raise ValueError(f"peak_multiplier must be >= 1, got {self.peak_multiplier}")
        for name in ("data_bits", "cycles_per_bit", "deadline_s", "priority", "f_server_hz",
                     "task_memory_gb", "server_memory_gb"):
            lo, hi = getattr(self, name)
            if not (0 < lo <= hi and math.isfinite(hi)):
                raise ValueError(f"{name} must be a range 0 < low <= high, got ({lo}, {hi})")
        if not self.tx_power_dbm or not self.offload_fractions:
            raise ValueError("tx_power_dbm and offload_fractions need at least one level")
        if not all(0 < a <= 1 for a in self.offload_fractions):
            raise ValueError(f"offload_fractions must lie in (0, 1], got {self.offload_fractions}")
        if any(w < 0 for w in self.priority_weights):
            raise ValueError(f"priority_weights must be >= 0, got {self.priority_weights}")
        if len(self.reward_weights) != len(REWARD_COMPONENTS) or any(
                not (math.isfinite(w) and w >= 0) for w in self.reward_weights):
            raise ValueError(f"reward_weights must be {len(REWARD_COMPONENTS)} values >= 0 "
                             f"({', '.join(REWARD_COMPONENTS)}), got {self.reward_weights}")
        if self.actions not in ("discrete", "hybrid"):
            raise ValueError(f"unknown actions {self.actions!r}; allowed: discrete, hybrid")
        if self.actions == "hybrid" and self.preset != "multi-mec":
            raise ValueError("hybrid actions are multi-mec's (device agents); aiot's are discrete")
        if self.preset == "aiot" and self.devices < 1:
            raise ValueError("aiot needs devices >= 1")
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
    "aiot": {"servers": 25, "devices": 50, "deadline_s": (0.5, 10.0), "decision_step_s": 0.2,
             "kappa_server": 1e-29, "energy_ref_j": 5.0,
             "f_server_hz": (2e9, 16e9), "arrival_rate_hz": 1.0, "task_memory_gb": (0.1, 16.0),
             "server_memory_gb": (32.0, 64.0), "server_energy": True,
             "reward_weights": REWARD_PRESETS["seed000"]},
}


#: The twin's radio in one word (``--twin``): the seeds' (a cell per server, Shannon's rate)
#: or the ns-3 network's, its free parameters fitted to the packet-level LTE uplink by
#: ``benchmarks/mec_calibrate.py fit`` (benchmarks/results/mec_calibration.md).
TWINS: dict[str, dict[str, Any]] = {
    "seeds": {"radio": "per-server", "rate_efficiency": 1.0, "max_se_bps_hz": 0.0},
    "ns3-lte": {"radio": "cells", "rate_efficiency": 0.15, "max_se_bps_hz": 0.5,
                "interference_dbm": -110.0},
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
