"""Human-readable KPI tables (rich), mean ± 95 % CI."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

COLUMNS = [
    ("xr_index", "XR index", "{:.2f}"),
    ("delay_ms", "delay ms", "{:.2f}"),
    ("jitter_ms", "jitter ms", "{:.3f}"),
    ("plr", "PLR %", "{:.2f}"),
    ("throughput_mbps", "thr Mbps", "{:.1f}"),
    ("codec_rate_mbps", "codec Mbps", "{:.1f}"),
]


def fmt(value: float | None, half: float | None, pattern: str, scale: float = 1.0) -> str:
    if value is None:  # no episode had a measured window
        return "n/a"
    text = pattern.format(value * scale)
    if half is not None:
        text += " ± " + pattern.format(half * scale)
    return text


def render_eval_table(summary: dict[str, Any], console: Console | None = None) -> None:
    """Print one evaluation: a row per agent and the team mean, each KPI mean ± 95 % CI."""
    console = console or Console(width=max(Console().width, 110))
    title = (
        f"{summary['policy']} on {summary['backend']} at {summary['ring_m']:g} m — "
        f"{summary['episodes']} episodes, seed {summary['seed']} (mean ± 95 % CI)"
    )
    table = Table(title=title)
    columns = [c for c in COLUMNS if c[0] in summary["kpis"]]
    table.add_column("agent", no_wrap=True)
    for _, label, _ in columns:
        table.add_column(label, justify="right", no_wrap=True)

    rows = [(a, summary["per_agent"][a], summary["per_agent_ci95"][a]) for a in summary["per_agent"]]
    rows.append(("team", summary["kpis"], summary["ci95"]))
    for name, vals, cis in rows:
        table.add_row(
            name,
            *[fmt(vals[k], cis.get(k), p, 100.0 if k == "plr" else 1.0) for k, _, p in columns],
        )
    if columns:
        console.print(table)
    rewards = ", ".join(f"{c} {fmt(v, summary['rewards_ci95'].get(c), '{:.3f}')}"
                        for c, v in summary["rewards"].items())
    console.print(f"team reward per window: {rewards}")
    windows, limit = summary.get("windows"), summary.get("episode_limit")
    if windows and limit:
        console.print(f"measured windows: {sum(windows)} of {len(windows) * limit} "
                      f"({len(windows)} episodes x {limit}); only these are averaged")
    if summary.get("truncated_episodes"):
        console.print(f"[yellow]{summary['truncated_episodes']} episode(s) ended early[/yellow]")
    for t in summary.get("truncated", []):
        console.print(f"[yellow]  episode {t['episode']}: {t['windows']} of {limit} windows "
                      f"measured; {escape(t['reason'])}[/yellow]", highlight=False)
