"""What the MEC scenario measures and rewards, declared once for every backend and report.

Most KPIs are global (one value per environment and step): a task belongs to a device, but in
``aiot`` the agents are the edge nodes. Ratios are reported per event, not per step: each
step carries its event counts (tasks resolved, completed, uploads, joules, ...) and a KPI
declared ``per`` one of them is averaged with that weight, so an episode's completion % is
completed / resolved over the episode, its response time the mean over completed tasks.

A task is *resolved* once: completed (on time or late), rejected at admission (a full buffer
or queue, too little memory, a down server, an ``aiot`` reject) or dropped after admission
(its deadline passed while it waited for a decision, its server failed, or, with
``drop_late``, its deadline passed before it finished).
"""

from __future__ import annotations

from xr_codec_marl.core.kpis import KpiSpec, RewardSpec
from xr_codec_marl.scenarios.mec.settings import REWARD_COMPONENTS

#: Per-agent KPIs ``info["kpis"] [B, N, K]``: what each agent did this step.
MEC_AGENT_KPI_NAMES: tuple[str, ...] = ("decisions", "offloads", "waiting")

#: Global KPIs ``info["global_kpis"] [B, G]``, in this order.
MEC_GLOBAL_KPI_NAMES: tuple[str, ...] = (
    "response_time_s", "deadline_pct", "completion_pct", "rejected_pct", "dropped_pct",
    "jain", "energy_per_task_j", "tasks_per_j", "aoi_mean_s", "aoi_peak_s", "outage_pct",
    "utilisation", "high_completion_pct", "low_completion_pct", "decision_ms",
    # event counts of the step (the weights of the ratios above)
    "arrived", "resolved", "completed", "on_time", "rejected", "dropped", "energy_j",
    "energy_tasks", "updates", "uploads", "resolved_high", "resolved_low",
)

MEC_KPIS: tuple[KpiSpec, ...] = (
    KpiSpec("response_time_s", "s", "lower", "global", True, "Response",
            per="completed"),
    KpiSpec("deadline_pct", "%", "higher", "global", True, "Deadline",
            per="resolved", fmt=".1f"),
    KpiSpec("completion_pct", "%", "higher", "global", True, "Completion", per="resolved",
            fmt=".1f"),
    KpiSpec("rejected_pct", "%", "lower", "global", True, "Rejected", per="resolved",
            fmt=".1f"),
    KpiSpec("dropped_pct", "%", "lower", "global", True, "Dropped", per="resolved", fmt=".1f"),
    KpiSpec("jain", "", "higher", "global", True, "Jain"),
    KpiSpec("energy_per_task_j", "J", "lower", "global", True, "E/task",
            per="energy_tasks"),
    KpiSpec("tasks_per_j", "tasks/J", "higher", "global", False, "Energy efficiency",
            per="energy_j"),
    KpiSpec("aoi_mean_s", "s", "lower", "global", True, "AoI"),
    KpiSpec("aoi_peak_s", "s", "lower", "global", False, "Mean peak AoI", per="updates"),
    KpiSpec("outage_pct", "%", "lower", "global", False, "Uplink outage", per="uploads",
            fmt=".2f"),
    KpiSpec("utilisation", "", "none", "global", False, "Server utilisation"),
    KpiSpec("high_completion_pct", "%", "higher", "global", False,
            "Completion, high priority", per="resolved_high", fmt=".1f"),
    KpiSpec("low_completion_pct", "%", "higher", "global", False,
            "Completion, low priority", per="resolved_low", fmt=".1f"),
    KpiSpec("decision_ms", "ms", "lower", "global", False, "Decision time per round",
            fmt=".3f"),
    KpiSpec("arrived", "tasks", "none", "global", label="Tasks arrived per step", fmt=".2f"),
    KpiSpec("completed", "tasks", "none", "global", label="Tasks completed per step",
            fmt=".2f"),
    KpiSpec("decisions", "tasks", "none", "agent", label="Decisions", team="sum", fmt=".2f"),
    KpiSpec("offloads", "tasks", "none", "agent", label="Offloads / forwards", team="sum",
            fmt=".2f"),
    KpiSpec("waiting", "tasks", "none", "agent", label="Tasks waiting", fmt=".2f"),
)

MEC_REWARDS: tuple[RewardSpec, ...] = (
    RewardSpec("completion", "completion: 1 − (rejected + dropped) / resolved"),
    RewardSpec("deadline", "deadline: priority-weighted on-time share of resolved tasks"),
    RewardSpec("energy", "energy: 1 − E per task / E_ref"),
    RewardSpec("aoi", "AoI: 1 − mean AoI / AoI_max"),
    RewardSpec("fairness", "fairness: Jain index of server utilisation"),
)
assert tuple(r.name for r in MEC_REWARDS) == REWARD_COMPONENTS
