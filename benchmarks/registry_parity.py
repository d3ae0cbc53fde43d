"""Before/after the scenario registry (issue 10): same numbers, same speed.

    python benchmarks/registry_parity.py --before /path/to/old/checkout [--after .]

Runs the same XR commands and measurements on two checkouts of the code, alternating between
them on this machine in this run, and writes ``benchmarks/results/registry_parity.json``:

- identical results: ``xr-marl evaluate --json`` of rules and of a short seeded training run
  (its checkpoint evaluated), and the training log's last row, compared field by field;
- speed ratios after/before, medians of ``--repeats`` alternating runs: analytic throughput
  (windows per wall second and per CPU second, the latter less sensitive to other load on a
  shared machine, at batch 1 and 256), the bridge round trip through ``serve``/``Ns3Env``
  (``bridge_overhead.py`` of each checkout, one probe binary) and the wall time of the
  training run.

``--write-reference tests/data/...json`` also stores the *before* outputs as the fixture of
``tests/test_registry_parity.py``. Each checkout runs with ``PYTHONPATH`` set to it, with
this interpreter, so both use the same installed packages.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xr_codec_marl.experiments.results import (  # noqa: E402
    differences, stamp, write_json_atomic)

#: The seeded XR cases both checkouts run (CLI arguments after ``xr-marl``). Since the
#: 2026-12-06 refit, today's ``ns3-lte`` differs from f1be28d's; its old values are the profile
#: ``ns3-lte-2026-11-22`` (tests/test_registry_parity.py maps the name).
EVAL_CASES: dict[str, list[str]] = {
    "aps_300m": ["evaluate", "--policy", "aps", "--ring", "300", "--episodes", "4",
                 "--episode-limit", "10", "--seed", "3", "--json"],
    "max_400m_users": ["evaluate", "--policy", "max", "--ring", "400", "--users", "AR,VR,VR,CG",
                       "--episodes", "3", "--episode-limit", "8", "--seed", "5", "--json"],
    "fixed4_200m_lte": ["evaluate", "--policy", "fixed:4", "--ring", "200", "--episodes", "3",
                        "--episode-limit", "8", "--analytic-profile", "ns3-lte", "--json"],
}
TRAIN = ["train", "--algo", "mha-dqmix", "--ring", "300", "--steps", "640", "--seed", "1",
         "--episode-limit", "10", "--set", "batch_size=8", "--set", "learning_starts=8",
         "--set", "checkpoint_every_s=0", "--no-progress"]
TRAIN_EVAL = ["evaluate", "--ring", "300", "--episodes", "4", "--episode-limit", "10",
              "--seed", "11", "--json"]

THROUGHPUT = r"""
import json, sys, time
import numpy as np
try:
    from xr_codec_marl.scenarios.xr.analytic import AnalyticXREnv
    from xr_codec_marl.scenarios.xr.settings import XRScenario
except ImportError:
    from xr_codec_marl.env.analytic_xr import AnalyticXREnv
    from xr_codec_marl.xr.scenario import XRScenario
out = {}
for batch in (1, 256):
    env = AnalyticXREnv(XRScenario(ring_m=400.0), num_envs=batch)
    env.reset(seed=0)
    actions = np.full((batch, 3), 9)
    steps, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < float(sys.argv[1]):
        if env.step(actions).truncated.any():
            env.reset(seed=steps)
        steps += 1
    out[str(batch)] = steps * batch / (time.perf_counter() - t0)
    out["cpu" + str(batch)] = steps * batch / (time.process_time() - c0)
print(json.dumps(out))
"""


def run(tree: Path, args: list[str], cwd: Path, timeout: float = 900) -> tuple[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} in {tree} failed: {out.stderr[-2000:]}")
    return out.stdout, wall


def cli(tree: Path, args: list[str], cwd: Path) -> tuple[str, float]:
    return run(tree, ["-m", "xr_codec_marl.cli", *args], cwd)


def numbers(summary: dict) -> dict:
    """The parts of an evaluation that must not change."""
    return {k: summary[k] for k in ("kpis", "per_agent", "ci95", "rewards", "windows")}


def results_of(tree: Path, work: Path) -> tuple[dict, float]:
    """Every seeded number of the cases, and the training wall time."""
    out: dict = {}
    for name, args in EVAL_CASES.items():
        out[name] = numbers(json.loads(cli(tree, args, work)[0]))
    run_dir = work / f"train-{tree.name}"
    _, train_wall = cli(tree, [*TRAIN, "--out", str(run_dir)], work)
    out["train_eval"] = numbers(json.loads(cli(tree, [*TRAIN_EVAL, "--policy", str(run_dir)],
                                               work)[0]))
    with open(run_dir / "log.csv") as f:
        rows = list(csv.DictReader(f))
    last = rows[-1]
    out["train_log_last"] = {k: last[k] for k in sorted(last) if not k.startswith(("wall", "time"))
                             and k not in ("sps", "windows_per_s")}
    return out, train_wall


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, type=Path, help="checkout of the old code")
    p.add_argument("--after", default=ROOT, type=Path, help="checkout of the new code")
    p.add_argument("--seconds", type=float, default=4.0, help="per throughput measurement")
    p.add_argument("--repeats", type=int, default=3, help="alternating repeats of the timings")
    p.add_argument("--bridge-steps", type=int, default=5000)
    p.add_argument("--probe", default=None,
                   help="the bridge probe binary both checkouts use (default: the after build's); "
                        "one binary for both, so only the Python side differs")
    p.add_argument("--write-reference", type=Path, default=None)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/registry_parity.json")
    args = p.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    probe = args.probe
    if probe is None:
        from xr_codec_marl.bridge.build import find_binary

        probe = str(find_binary("xrmarl-bridge-probe"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        res, train_wall = {}, {}
        for side, tree in trees.items():
            res[side], train_wall[side] = results_of(tree, work)
            print(f"{side}: results collected ({train_wall[side]:.1f} s training)", flush=True)
        tput = {side: [] for side in trees}
        bridge = {side: [] for side in trees}
        trains = {side: [] for side in trees}
        for rep in range(args.repeats):
            for side, tree in trees.items():  # alternate: both see the same machine load
                tput[side].append(json.loads(run(tree, ["-c", THROUGHPUT, str(args.seconds)],
                                                 work)[0]))
                out = work / f"bridge-{side}-{rep}.json"
                run(tree, [str(tree / "benchmarks/bridge_overhead.py"), "--steps",
                           str(args.bridge_steps), "--repeats", "1", "--probe", probe,
                           "--out", str(out)], work)
                bridge[side].append(json.loads(out.read_text()))
                trains[side].append(cli(tree, [*TRAIN, "--out", str(work / f"t-{side}-{rep}")],
                                        work)[1])
                print(f"[{rep + 1}/{args.repeats}] {side}: {tput[side][-1]}", flush=True)

    def median(xs: list[float]) -> float:
        xs = sorted(xs)
        return xs[len(xs) // 2]

    def bridge_rate(side: str, way: str) -> float:
        return median([b["summary"][way]["steps_per_s"] for b in bridge[side]])

    diffs = differences(res["before"], res["after"])
    speed = {}
    for batch in ("1", "256"):
        for key, name in ((batch, "windows_per_s"), ("cpu" + batch, "windows_per_cpu_s")):
            b = median([t[key] for t in tput["before"]])
            a = median([t[key] for t in tput["after"]])
            speed[f"analytic_{name}_batch{batch}"] = {"before": round(b, 1), "after": round(a, 1),
                                                      "ratio": round(a / b, 3)}
    for way in ("server", "env"):
        b, a = bridge_rate("before", way), bridge_rate("after", way)
        speed[f"bridge_{way}_steps_per_s"] = {"before": round(b, 1), "after": round(a, 1),
                                              "ratio": round(a / b, 3)}
    b, a = median(trains["before"]), median(trains["after"])
    speed["train_wall_s"] = {"before": round(b, 2), "after": round(a, 2), "ratio": round(a / b, 3),
                             "note": "median over the repeats of the seeded 640-window "
                                     "MHA-DQMIX run, process start included"}
    report = {
        **stamp({"load_avg_at_end": list(os.getloadavg()),
                 "trees": {k: str(v) for k, v in trees.items()}}),
        "identical": not diffs,
        "differences": diffs,
        "speed": speed,
        "cases": {"evaluate": EVAL_CASES, "train": TRAIN, "train_eval": TRAIN_EVAL},
        "after": res["after"],
    }
    write_json_atomic(args.out, report)
    if args.write_reference is not None:
        write_json_atomic(args.write_reference, {
            "note": "outputs of the code before the scenario registry (issue 10), for "
                    "tests/test_registry_parity.py; made by benchmarks/registry_parity.py",
            "cases": {"evaluate": EVAL_CASES, "train": TRAIN, "train_eval": TRAIN_EVAL},
            "results": res["before"]})
    print(json.dumps({"identical": not diffs, "differences": diffs[:10], "speed": speed}, indent=1))
    return 0 if not diffs else 1


if __name__ == "__main__":
    sys.exit(main())
