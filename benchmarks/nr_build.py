#!/usr/bin/env python3
"""5G-LENA nr build cost: a clean build into an empty cache, then the same build again (cached).

Runs ``xr-marl build-ns3 --nr-source SRC`` twice with ``$XRMARL_NR_CACHE`` and the scenario
build directory pointing into a fresh temporary folder, so the first run compiles nr and the
scenarios from nothing and the second finds everything cached. Wall and CPU time (children's
rusage) of each run, the load average around them, and the time nr's own stamp records are
written to benchmarks/results/nr_build.json.

    python benchmarks/nr_build.py [--nr-source ../shared/vendor/5g-lena-nr-v4.0.tar.gz] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xr_codec_marl.experiments.results import stamp, write_json_atomic  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "nr_build.json"


def timed_build(source: str, jobs: int, cache: Path, build_dir: Path) -> dict:
    """One ``build-ns3`` process: wall and CPU seconds, exit status."""
    env = {**os.environ, "XRMARL_NR_CACHE": str(cache)}
    cmd = [sys.executable, "-m", "xr_codec_marl.cli", "build-ns3", "--nr-source", source,
           "--build-dir", str(build_dir), "--jobs", str(jobs)]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"nr_build: {' '.join(cmd)} failed ({proc.returncode}): "
                         f"{proc.stderr.strip().splitlines()[-1:]}")
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "load_average_at_start": [round(x, 2) for x in load0],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "stderr_tail": proc.stderr.strip().splitlines()[-2:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nr-source", default=str(ROOT.parent / "shared" / "vendor"
                                               / "5g-lena-nr-v4.0.tar.gz"))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    if not Path(args.nr_source).exists():
        raise SystemExit(f"nr_build: no nr source at {args.nr_source} (pass --nr-source)")
    with tempfile.TemporaryDirectory(prefix="xrmarl-nr-bench-") as tmp:
        cache, bdir = Path(tmp) / "nr-cache", Path(tmp) / "ns3-build"
        print("clean build (nr + scenarios) ...", flush=True)
        clean = timed_build(args.nr_source, args.jobs, cache, bdir)
        print(f"  {clean['wall_s']} s wall, {clean['cpu_s']} CPU-s", flush=True)
        cached = timed_build(args.nr_source, args.jobs, cache, bdir)
        print(f"cached rebuild: {cached['wall_s']} s wall, {cached['cpu_s']} CPU-s", flush=True)
        stamps = list(cache.glob("*/.xrmarl-nr-built"))
        nr_only_s = json.loads(stamps[0].read_text())["seconds"] if stamps else None
        lib = next(cache.glob("*/lib/libns3*-nr*.so"), None)
        lib_mb = round(lib.stat().st_size / 1e6, 1) if lib else None
    write_json_atomic(OUT, stamp({
        "what": "xr-marl build-ns3 with 5G-LENA nr: clean (empty nr cache and build directory) "
                "then again (everything cached); one process each",
        "nr_source": Path(args.nr_source).name, "jobs": args.jobs,
        "clean": clean, "cached": cached, "nr_library_compile_wall_s": nr_only_s,
        "nr_library_mb": lib_mb}))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
