"""The ``mec-offload`` simulator's command line from the MEC settings.

Every setting the simulator models becomes its flag (``ns3_scenarios/mec-offload``); the ones
it does not model are refused with one ``ValueError`` naming them, so that an ns-3 run never
silently differs from its settings. The twin's radio settings (bandwidth, path loss, noise,
interference, area) have no flag: on ns-3 the RAN (``--ran``) is the radio.
"""

from __future__ import annotations

import math

from xr_codec_marl.scenarios.mec.glue import limits
from xr_codec_marl.scenarios.mec.settings import MECSettings


def _num(x: float) -> str:
    """A float as C++ ``std::stod`` and ns-3 read it back exactly."""
    return repr(float(x))


#: Most devices per NR cell (5G-LENA v4.0 here: 50 UEs' uploads complete, none of 60's);
#: the simulator refuses more (``kMaxNrDevicesPerCell``).
MAX_NR_DEVICES_PER_CELL: int = 50


def unsupported(s: MECSettings) -> list[str]:
    """Why the simulator cannot run these settings (empty: it can): the raw report's limits
    (:func:`.glue.limits`) and the simulator's own."""
    out = limits(s)
    if s.on_failure != "lose":
        out.append("the ns-3 servers lose their tasks when they fail (on_failure=lose); "
                   "requeue is the twin's only")
    if s.ran == "nr" and math.ceil(s.devices / s.cells) > MAX_NR_DEVICES_PER_CELL:
        out.append(f"--ran nr carries uploads for at most {MAX_NR_DEVICES_PER_CELL} devices per "
                   f"cell (5G-LENA v4.0: with 60 none completes); {s.devices} devices need "
                   f"--cells {math.ceil(s.devices / MAX_NR_DEVICES_PER_CELL)} or --ran lte")
    return out


def scenario_arguments(s: MECSettings) -> list[str]:
    """The simulator flags that carry ``s`` (``ValueError`` naming what it cannot run)."""
    problems = unsupported(s)
    if problems:
        raise ValueError("; ".join(problems))
    flags: dict[str, object] = {
        "devices": s.devices, "servers": s.servers, "cells": s.cells, "isd": s.isd_m,
        "cellRadius": s.cell_radius_m, "minDistance": s.min_distance_m,
        "speed": s.speed_mps,
        "serverLinkMbps": s.server_link_mbps, "serverDelayMs": s.server_delay_ms,
        "serverDelayStepMs": s.server_delay_step_ms, "cloud": str(s.cloud).lower(),
        "cloudDelayMs": s.cloud_delay_ms, "cloudCapacityGhz": s.cloud_ghz,
        "serverGhzMin": s.f_server_hz[0] / 1e9, "serverGhzMax": s.f_server_hz[1] / 1e9,
        "serverMemMin": s.server_memory_gb[0], "serverMemMax": s.server_memory_gb[1],
        "serverSlots": s.server_slots, "queue": s.queue, "variant": s.variant,
        "mtbf": s.mtbf_s, "mttr": s.mttr_s, "arrivalRate": s.arrival_rate_hz,
        "bitsMin": s.data_bits[0], "bitsMax": s.data_bits[1],
        "cyclesPerBitMin": s.cycles_per_bit[0], "cyclesPerBitMax": s.cycles_per_bit[1],
        "deadlineMin": s.deadline_s[0], "deadlineMax": s.deadline_s[1],
        "priorityMin": s.priority[0], "priorityMax": s.priority[1],
        "memoryMin": s.task_memory_gb[0], "memoryMax": s.task_memory_gb[1],
        "highPriority": s.high_priority, "agentBuffer": s.agent_buffer,
        "prioritisation": s.prioritisation, "priorityWeightA": s.priority_weights[0],
        "priorityWeightB": s.priority_weights[1], "priorityWeightG": s.priority_weights[2],
        "dropLate": str(s.drop_late).lower(), "fLocalHz": s.f_local_hz, "kappa": s.kappa,
        "localSlots": s.local_slots,
        "txPowers": ",".join(_num(p) for p in s.tx_power_dbm),
        "fractions": ",".join(_num(a) for a in s.offload_fractions),
        # discrete: the table of target x fraction x power; hybrid: a target head and the
        # fraction and power as continuous values (actions.hybrid_space, decode_hybrid)
        "actions": s.actions,
        "outageRateBps": s.outage_rate_bps, "resultBytes": s.result_bytes,
        "taskTimeout": s.task_timeout_s, "peakMultiplier": s.peak_multiplier,
        "peakPeriod": s.peak_period_s, "peakDuration": s.peak_duration_s,
        "stepInterval": s.decision_step_s, "episodeLimit": s.episode_limit,
        # tasks arrive from one step before step 0 (as the twin's reset); the RAN attaches
        # its UEs in the first few hundred ms
        "warmup": max(0.5, s.decision_step_s),
    }
    if s.ran:
        flags["ran"] = s.ran
    out = []
    for name, value in flags.items():
        text = value if isinstance(value, str) else _num(value) if isinstance(value, float) \
            else str(value)
        out.append(f"--{name}={text}")
    return out
