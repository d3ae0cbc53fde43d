"""What the MEC scenario derives from a step's state and events, for every backend.

The analytic twin (:mod:`.analytic`) and the ns-3 glue (:mod:`.glue`) both call these, so
the reward components, the declared global KPIs, the available actions and the full-power
SNR the observations use are computed once, from the same arrays:

- ``c``: the step's event counts (:attr:`.tally.StepTally.COUNTS`, each ``[B]``);
- ``busy [B, K]``: the fraction of the step each server computed;
- ``aoi [B, N]``: each device's age of information at the step boundary;
- ``view``: what :meth:`.analytic.AnalyticMECEnv.view` returns.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from xr_codec_marl.scenarios.mec import models
from xr_codec_marl.scenarios.mec.actions import ActionTable
from xr_codec_marl.scenarios.mec.kpis import MEC_GLOBAL_KPI_NAMES
from xr_codec_marl.scenarios.mec.settings import MECSettings

Counts = Mapping[str, np.ndarray]


def reward_components(s: MECSettings, c: Counts, busy: np.ndarray,
                      aoi: np.ndarray) -> np.ndarray:
    """The five team reward components ``[B, 5]`` in [0, 1] (unweighted; a step that
    resolved nothing scores 1 on completion and deadline)."""
    resolved = c["resolved"]
    some = resolved > 0
    completion = np.where(some, c["completed"] / np.maximum(resolved, 1), 1.0)
    deadline = np.where(some, c["prio_on_time"] / np.maximum(c["prio_sum"], 1e-12), 1.0)
    per_task = c["energy_j"] / np.maximum(c["energy_tasks"], 1)
    energy = np.clip(1.0 - per_task / s.energy_ref_j, 0.0, 1.0)
    age = np.clip(1.0 - aoi.mean(-1) / s.aoi_max_s, 0.0, 1.0)
    fairness = models.jain_index(busy)
    return np.stack([completion, deadline, energy, age, fairness], axis=-1)


def _ratio(num: np.ndarray, den: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``scale · num / den``, 0 where nothing was counted (``den`` = 0)."""
    return np.where(den > 0, scale * num / np.where(den > 0, den, 1.0), 0.0)


def global_kpis(c: Counts, busy: np.ndarray, aoi: np.ndarray,
                decision_ms: float) -> np.ndarray:
    """The declared global KPIs ``[B, G]`` float32, in :data:`.kpis.MEC_GLOBAL_KPI_NAMES`
    order: per-event ratios of the step's counts, then the counts themselves."""
    values = {
        "response_time_s": _ratio(c["response_sum"], c["completed"]),
        "deadline_pct": _ratio(c["on_time"], c["resolved"], 100.0),
        "completion_pct": _ratio(c["completed"], c["resolved"], 100.0),
        "rejected_pct": _ratio(c["rejected"], c["resolved"], 100.0),
        "dropped_pct": _ratio(c["dropped"], c["resolved"], 100.0),
        "jain": models.jain_index(busy),
        "energy_per_task_j": _ratio(c["energy_j"], c["energy_tasks"]),
        "tasks_per_j": _ratio(c["completed"], c["energy_j"]),
        "aoi_mean_s": aoi.mean(-1),
        "aoi_peak_s": _ratio(c["peak_sum"], c["updates"]),
        "outage_pct": _ratio(c["outages"], c["uploads"], 100.0),
        "utilisation": busy.mean(-1),
        "high_completion_pct": _ratio(c["completed_high"], c["resolved_high"], 100.0),
        "low_completion_pct": _ratio(c["completed_low"], c["resolved_low"], 100.0),
        "decision_ms": np.full(busy.shape[0], decision_ms),
    }
    return np.stack([values[k] if k in values else c[k] for k in MEC_GLOBAL_KPI_NAMES],
                    axis=-1).astype(np.float32)


def avail_actions(table: ActionTable, view: Mapping[str, np.ndarray],
                  multi: bool) -> np.ndarray:
    """``[B, A, n]`` the actions each agent may take now (``multi``: the multi-mec preset)."""
    has, up = view["has"], view["up"]
    # an action that targets a server needs it up: the same for every agent of an env
    ok = np.where(table.target >= 0, up[:, np.maximum(table.target, 0)], True)  # [B, n]
    b, a = has.shape
    avail = np.zeros((b, a, table.n), bool)
    avail[has] = np.repeat(ok, has.sum(1), axis=0)  # only agents with a task have a choice
    if multi:  # local and partial actions need a free slot of the device's CPU
        full = has & view["local_full"]
        if full.any():
            avail[full] &= ~((table.alpha < 1.0) & (table.target >= 0))
        avail[..., 0] = True  # local is always possible (it waits when the CPU queue is full)
    else:
        avail[~has, 0] = True  # nothing to decide: action 0 is a no-op
    return avail


def snr_full(s: MECSettings, gains: np.ndarray, load: np.ndarray,
             interference_w: float) -> np.ndarray:
    """``[B, N, K]`` float32 SNR each device would get at its highest power on a server's
    cell, that cell's bandwidth shared with the ``load [B, K]`` uploads in progress there;
    ``gains [B, N, K]`` float32 linear."""
    p = float(models.dbm_to_w(max(s.tx_power_dbm)))
    noise = models.noise_w(s.bandwidth_hz / (load + 1.0), s.noise_figure_db)
    return gains * (p / (noise + interference_w)).astype(np.float32)[:, None, :]
