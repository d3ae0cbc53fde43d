"""The MEC scenario's sweeps in seed 001's table forms, with the rules, as reports and figures.

    python benchmarks/mec_sweeps.py [--quick] [--only servers,devices,...]

Each sweep is one ``xr-marl sweep --env mec`` run (the command is recorded), and its report,
figures, comparison table and ``sweep.json`` are copied to
``benchmarks/results/mec_sweeps/<name>/``:

- ``servers``: Table 2 form, K = 3…18 at N = 50 (completion, latency, outage, tasks/J);
- ``devices``: Table 4 form, N = 10…100 at K = 9;
- ``load``: arrival rate 0.5…2 tasks/s per device (load vs response time and drops);
- ``prioritisation``: Table 3 form, none / deadline / resource / sla / combined, with high-
  and low-priority completion and Jain;
- ``aiot-nodes``: seed 000's scalability, 10/25/50/100 edge nodes (100 devices throughout;
  the seed doubles the devices with the nodes, a paired axis a sweep does not have);
- ``aiot-variants``: seed 000's four scenarios on the ``aiot`` preset.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from xr_codec_marl.experiments.results import stamp, write_json_atomic  # noqa: E402
from xr_codec_marl.experiments.stats import mean_ci95  # noqa: E402
from xr_codec_marl.scenarios.mec.kpis import MEC_KPIS  # noqa: E402

#: the absolute-value table's columns (every sweep), then the reward
TABLE_KPIS = ("completion_pct", "deadline_pct", "response_time_s", "rejected_pct",
              "dropped_pct", "jain", "energy_per_task_j", "tasks_per_j", "aoi_mean_s",
              "outage_pct", "high_completion_pct", "low_completion_pct")


def kpi_table(results_csv: Path, axis: str) -> str:
    """Markdown: per axis value and policy, every KPI's mean ± 95 % CI over episodes (the
    seed tables' absolute numbers; ``table4.md`` has the gains vs the reference)."""
    rows = pd.read_csv(results_csv)
    episodes = rows.groupby([axis, "policy", "seed", "episode"], sort=False).first().reset_index()
    rewards = [c for c in episodes.columns if c.startswith("reward_")]
    episodes["team_reward"] = episodes[rewards].sum(axis=1)
    labels = {k.key: f"{k.label} ({k.unit})" if k.unit else k.label for k in MEC_KPIS}
    cols = [c for c in TABLE_KPIS if c in episodes.columns] + ["team_reward"]
    out = [f"| {axis} | policy | " + " | ".join(labels.get(c, c) for c in cols) + " |",
           "|---|---|" + "---:|" * len(cols)]
    for (value, policy), grp in episodes.groupby([axis, "policy"], sort=False):
        cells = []
        for c in cols:
            v = grp[c].dropna().to_numpy()
            if v.size == 0:
                cells.append("—")
                continue
            m, h = mean_ci95(v)
            cells.append(f"{m:.3g} ± {h:.2g}" if v.size > 1 else f"{m:.3g}")
        out.append(f"| {value} | {policy} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"

RULES = "local,round-robin,nearest,least-loaded,greedy,min-energy,balanced,vcg"

#: name -> sweep arguments after ``xr-marl sweep --env mec``
SWEEPS: dict[str, list[str]] = {
    "servers": ["--axis", "servers=3,6,9,12,15,18", "--policies", RULES],
    "devices": ["--axis", "devices=10,25,50,75,100", "--policies", RULES],
    "load": ["--axis", "arrival_rate=0.5,1,1.5,2", "--policies", RULES],
    "prioritisation": ["--axis", "prioritisation=none,deadline,resource,sla,combined",
                       "--arrival-rate", "1.5", "--policies", "greedy,vcg,nearest"],
    "aiot-nodes": ["--preset", "aiot", "--devices", "100", "--axis", "servers=10,25,50,100",
                   "--policies", "round-robin,least-loaded,greedy,vcg"],
    "aiot-variants": ["--preset", "aiot", "--axis",
                      "variant=stable,load-peaks,failures,heterogeneous",
                      "--policies", "local,round-robin,least-loaded,greedy,min-energy,vcg"],
}


#: the setting each sweep varies (its column in results.csv)
AXIS_SETTING = {"servers": "servers", "devices": "devices", "load": "arrival_rate_hz",
                "prioritisation": "prioritisation", "aiot-nodes": "servers",
                "aiot-variants": "variant"}


def _kpis_md(results_csv: Path, name: str) -> str:
    setting = AXIS_SETTING[name]
    return (f"# {name}: KPIs per {setting} and policy (mean ± 95 % CI over episodes)\n\n"
            + kpi_table(results_csv, setting))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 seed, 2 episodes (smoke run)")
    ap.add_argument("--only", default="", help="comma-separated sweep names")
    ap.add_argument("--reference", default="vcg", help="the comparison's reference rule")
    args = ap.parse_args()
    names = [n for n in (args.only.split(",") if args.only else SWEEPS) if n]
    unknown = sorted(set(names) - set(SWEEPS))
    if unknown:
        sys.exit(f"unknown sweep(s): {', '.join(unknown)}; known: {', '.join(SWEEPS)}")
    seeds, episodes = ("1", "2") if args.quick else ("3", "4")
    out_root = ROOT / "benchmarks" / "results" / "mec_sweeps"
    xr_marl = str(Path(sys.executable).with_name("xr-marl"))
    record: dict[str, object] = {}
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [xr_marl, "sweep", "--env", "mec", *SWEEPS[name], "--seeds", seeds,
                   "--episodes", episodes, "--reference", args.reference, "--out", tmp,
                   "--jobs", "2"]
            start = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - start
            dest = out_root / name
            kpis_md = _kpis_md(Path(tmp) / "results.csv", name)
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            # results.csv (every episode and agent, ~10 MB) stays out: sweep.json has the cells
            for item in ("report.html", "comparison.csv", "sweep.json",
                         "table4.md", "figures"):
                src = Path(tmp) / item
                if src.is_dir():
                    shutil.copytree(src, dest / item)
                elif src.exists():
                    shutil.copy2(src, dest / item)
            (dest / "kpis.md").write_text(kpis_md)
            record[name] = {"command": " ".join(["xr-marl", *cmd[1:-4], "--out", "DIR",
                                                 "--jobs", "2"]),
                            "wall_s": round(wall, 1)}
            print(f"{name}: {wall:.0f} s -> {dest.relative_to(ROOT)}")
    index = out_root / "index.json"
    old = json.loads(index.read_text()) if index.exists() else {}
    old.update({"provenance": stamp({"seeds": int(seeds), "episodes": int(episodes)}),
                "sweeps": {**old.get("sweeps", {}), **record}})
    write_json_atomic(index, old)


if __name__ == "__main__":
    main()
