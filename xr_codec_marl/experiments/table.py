"""Human-readable KPI tables (rich), mean ± 95 % CI."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xr_codec_marl.core.kpis import KpiSpec

def fmt(value: float | None, half: float | None, pattern: str, scale: float = 1.0) -> str:
    """``value ± half`` with a ``str.format`` pattern; ``n/a`` when there is no value."""
    if value is None:  # no episode had a measured window
        return "n/a"
    text = pattern.format(value * scale)
    if half is not None:
        text += " ± " + pattern.format(half * scale)
    return text


def render_eval_table(summary: dict[str, Any], console: Console | None = None,
                      kpis: tuple[KpiSpec, ...] = (), record: dict[str, Any] | None = None) -> None:
    """Print one evaluation: a row per agent and the team value, each KPI mean ± 95 % CI.

    ``kpis``: the columns (normally ``spec.headline_kpis``; every KPI of the summary when
    empty); ``record``: settings named in the title (the result's recorded settings)."""
    console = console or Console(width=max(Console().width, 110))
    known = {k.key: k for k in kpis}
    record = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
                       for k, v in (record or {}).items())
    title = (
        f"{summary['policy']} on {summary.get('env', '')} {summary['backend']}"
        + (f" ({record})" if record else "")
        + f" — {summary['episodes']} episodes, seed {summary['seed']} (mean ± 95 % CI)"
    )
    table = Table(title=title)
    order = list(known) or list(summary["kpis"])  # the JSON has every KPI
    columns = [(k, known[k].title if k in known else k,
                "{:" + (known[k].fmt if k in known else ".3f") + "}")
               for k in order if k in summary["kpis"]]
    table.add_column("agent", no_wrap=True, min_width=5)
    for _, label, _ in columns:
        table.add_column(label, justify="right", no_wrap=True)

    # agent rows only when a column is per agent (global KPIs have the team row alone)
    keys = {k for k, _, _ in columns}
    rows = [(a, summary["per_agent"][a], summary["per_agent_ci95"][a])
            for a in summary["per_agent"] if keys & set(summary["per_agent"][a])]
    rows.append(("team", summary["kpis"], summary["ci95"]))
    for name, vals, cis in rows:
        table.add_row(name, *[fmt(vals[k], cis.get(k), p) if k in vals else "" for k, _, p in columns])
    if columns:
        console.print(table)
    rewards = ", ".join(f"{c} {fmt(v, summary['rewards_ci95'].get(c), '{:.3f}')}"
                        for c, v in summary["rewards"].items())
    total = summary.get("team_reward")
    head = f"{fmt(total, summary.get('team_reward_ci95'), '{:.3f}')} = " if total is not None else ""
    console.print(f"team reward per window: {head}{rewards}")
    windows, limit = summary.get("windows"), summary.get("episode_limit")
    if windows and limit:
        console.print(f"measured windows: {sum(windows)} of {len(windows) * limit} "
                      f"({len(windows)} episodes x {limit}); only these are averaged")
    if summary.get("actions"):  # does the policy adapt, or hold one action?
        from xr_codec_marl.experiments.actions import describe

        console.print("actions (windows with a choice): "
                      + escape(describe(summary["actions"])).replace("\n", "; "),
                      highlight=False)
    if summary.get("truncated_episodes"):
        console.print(f"[yellow]{summary['truncated_episodes']} episode(s) ended early[/yellow]")
    for t in summary.get("truncated", []):
        console.print(f"[yellow]  episode {t['episode']}: {t['windows']} of {limit} windows "
                      f"measured; {escape(t['reason'])}[/yellow]", highlight=False)

