"""Declarations of what a scenario measures (KPIs) and rewards (reward components).

Generic code (evaluation, sweeps, tables, reports, explanations, ``serve``) knows KPIs only
through these: which to report and in what order, their units and labels, whether higher is
better, and whether a KPI is per agent (``info["kpis"]``, ``[B, N, K]``) or global to the
environment (``info["global_kpis"]``, ``[B, G]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence
from typing import Literal

Direction = Literal["higher", "lower", "none"]
Scope = Literal["agent", "global"]


@dataclass(frozen=True)
class KpiSpec:
    """One KPI. ``name`` is what the environment reports (``spec.kpi_names`` or
    ``spec.global_kpi_names``); ``key`` is the name results use (``report_as`` when set, e.g.
    a per-agent score reported under a name of the results' own)."""

    name: str
    unit: str = ""
    direction: Direction = "none"
    scope: Scope = "agent"
    #: a headline KPI: in every table, the JSON ``kpis`` first, and the report's panels
    headline: bool = False
    label: str = ""
    report_as: str = ""
    #: how per-agent values become the team value: mean over agents, or their min or max
    team: Literal["mean", "min", "max", "sum"] = "mean"
    #: format of the value in tables (Python format spec)
    fmt: str = ".3f"
    #: a KPI averaged over events rather than windows: the name of the KPI (same scope) that
    #: counts this window's events (tasks completed, uploads, joules, ...); each window's
    #: value is weighted by it, so the episode value is a ratio of sums, exactly the mean
    #: over the events. Empty: every measured window weighs the same.
    per: str = ""

    @property
    def key(self) -> str:
        return self.report_as or self.name

    @property
    def title(self) -> str:
        """Axis/column title: the label (or key) with its unit."""
        base = self.label or self.key
        return f"{base} ({self.unit})" if self.unit and self.unit not in base else base

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 when lower is, 0 when neither."""
        return {"higher": 1.0, "lower": -1.0}.get(self.direction, 0.0)


@dataclass(frozen=True)
class RewardSpec:
    """One team reward component (its name, as in ``spec.reward_components``, and label)."""

    name: str
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name


def headline(kpis: Sequence[KpiSpec]) -> tuple[KpiSpec, ...]:
    """The headline KPIs of declarations (every KPI when none is marked headline)."""
    marked = tuple(k for k in kpis if k.headline)
    return marked or tuple(kpis)


def kpis_from_names(agent: tuple[str, ...], global_: tuple[str, ...] = ()) -> tuple[KpiSpec, ...]:
    """Plain declarations for KPIs known only by name (e.g. a spec read off the wire)."""
    return (*(KpiSpec(n) for n in agent), *(KpiSpec(n, scope="global") for n in global_))
