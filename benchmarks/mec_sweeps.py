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

from xr_codec_marl.experiments.results import stamp, write_json_atomic  # noqa: E402

RULES = "local,round-robin,nearest,least-loaded,greedy,min-energy,balanced,vcg"

#: name -> sweep arguments after ``xr-marl sweep --env mec``
SWEEPS: dict[str, list[str]] = {
    "servers": ["--axis", "servers=3,6,9,12,15,18", "--policies", RULES],
    "devices": ["--axis", "devices=10,25,50,75,100", "--policies", RULES],
    "load": ["--axis", "arrival_rate=0.5,1,1.5,2", "--policies", RULES],
    "prioritisation": ["--axis", "prioritisation=none,deadline,resource,sla,combined",
                       "--arrival-rate", "1.5", "--policies", "greedy,vcg,nearest"],
    "aiot-variants": ["--preset", "aiot", "--axis",
                      "variant=stable,load-peaks,failures,heterogeneous",
                      "--policies", "local,round-robin,least-loaded,greedy,min-energy,vcg"],
}


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
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            for item in ("report.html", "comparison.csv", "results.csv", "sweep.json",
                         "table4.md", "figures"):
                src = Path(tmp) / item
                if src.is_dir():
                    shutil.copytree(src, dest / item)
                elif src.exists():
                    shutil.copy2(src, dest / item)
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
