"""MEC scenario (seeds 000 / 001): short-budget learners against the rule baselines.

Trains ``qmix`` and ``mha-dqmix`` on ``--env mec --preset aiot`` (25 edge nodes, 50 devices)
and ``--preset multi-mec`` (N 50, K 9), both on variant ``stable``, then evaluates each trained
policy and the rules (greedy, vcg, round-robin, local; + nearest on multi-mec) on the four
variants (stable, load-peaks, failures, heterogeneous) with evaluation seeds 0, 1, 2
(reset seed ``seed * 1000``) x 4 episodes each, pooled into 12 episodes per cell (mean and the
half-width of a 95 % t-interval over episodes).

Resumable: a run whose ``log.csv`` reaches its step budget is not trained again (``xr-marl
train`` itself resumes a run directory with a checkpoint), and every evaluation cell is cached
under ``RUNS/eval-cache/``. A run still going at ``--train-deadline`` gets SIGINT, which makes
``xr-marl train`` write its checkpoint; it is then evaluated at the windows it reached (the
JSON records them).

    nice -n 10 .venv/bin/python benchmarks/mec_learners.py all --runs /tmp/mec-runs
    .venv/bin/python benchmarks/mec_learners.py report --runs /tmp/mec-runs   # tables only

Outputs: ``benchmarks/results/mec_learners.json`` and ``.md`` (written atomically).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
XR_MARL = str(ROOT / ".venv" / "bin" / "xr-marl")
VARIANTS = ("stable", "load-peaks", "failures", "heterogeneous")
EVAL_SEEDS = (0, 1, 2)
EVAL_EPISODES = 4
KPIS = ("response_time_s", "deadline_pct", "completion_pct", "rejected_pct", "jain",
        "energy_per_task_j", "tasks_per_j", "aoi_mean_s")
PRESETS = {
    "aiot": {"flags": ["--preset", "aiot", "--servers", "25", "--devices", "50"],
             "kwargs": {"preset": "aiot", "servers": 25, "devices": 50},
             "rules": ("greedy", "vcg", "round-robin", "local")},
    "multi-mec": {"flags": ["--preset", "multi-mec", "--devices", "50", "--servers", "9"],
                  "kwargs": {"preset": "multi-mec", "devices": 50, "servers": 9},
                  "rules": ("greedy", "vcg", "round-robin", "local", "nearest")},
}
#: learner settings shared by every run (``--set``); epsilon_anneal_steps is 40 % of a run's
#: steps. The default target_update_interval (200 gradient steps) would never refresh the
#: target network within these budgets (< 200 gradient steps), so it is 25 here.
COMMON_SETTINGS = {
    "grad_steps_per_rollout": 4,
    "learning_starts": 16,
    "batch_size": 16,
    "lr": 1e-3,
    "target_update_interval": 25,
    "checkpoint_every_s": 60,
}
#: (name, preset, algo, seed, steps); sized from measured speeds on this 2-core machine:
#: qmix/aiot ~0.8 s per gradient step (batch 16), mha-dqmix/multi-mec ~6 s per gradient step,
#: 8 episodes x 100 windows per rollout.
RUNS = [
    ("qmix-aiot-s0", "aiot", "qmix", 0, 24_000),
    ("mha-dqmix-aiot-s0", "aiot", "mha-dqmix", 0, 16_000),
    ("qmix-aiot-s1", "aiot", "qmix", 1, 24_000),
    ("qmix-multi-mec-s0", "multi-mec", "qmix", 0, 16_000),
    ("mha-dqmix-multi-mec-s0", "multi-mec", "mha-dqmix", 0, 12_000),
]


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def run_settings(steps: int) -> dict[str, Any]:
    return {**COMMON_SETTINGS, "epsilon_anneal_steps": int(0.4 * steps)}


# ---------------------------------------------------------------------- training
def read_log(run_dir: Path) -> list[dict[str, str]]:
    log = run_dir / "log.csv"
    if not log.exists():
        return []
    with log.open() as f:
        return list(csv.DictReader(f))


def trained_windows(run_dir: Path) -> int:
    rows = read_log(run_dir)
    return max((int(r["env_steps"]) for r in rows), default=0)


def learning_curve(run_dir: Path) -> list[dict[str, float]]:
    """Per rollout: env windows, epsilon, mean episode return, gradient steps, wall s."""
    by_rollout: dict[int, list[dict[str, str]]] = {}
    for r in read_log(run_dir):
        by_rollout.setdefault(int(r["rollout"]), []).append(r)
    out = []
    for k in sorted(by_rollout):
        rows = by_rollout[k]
        out.append({"rollout": k, "env_steps": int(rows[0]["env_steps"]),
                    "epsilon": float(rows[0]["epsilon"]),
                    "mean_return": float(np.mean([float(r["return"]) for r in rows])),
                    "train_steps": int(rows[0]["train_steps"] or 0),
                    "wall_s": float(rows[0]["wall_s"])})
    return out


def train_command(run_dir: Path, preset: str, algo: str, seed: int, steps: int) -> list[str]:
    cmd = [XR_MARL, "train", "--env", "mec", *PRESETS[preset]["flags"], "--variant", "stable",
           "--algo", algo, "--seed", str(seed), "--steps", str(steps), "--out", str(run_dir),
           "--no-progress"]
    for k, v in run_settings(steps).items():
        cmd += ["--set", f"{k}={v}"]
    return cmd


def train_one(runs: Path, name: str, preset: str, algo: str, seed: int, steps: int,
              deadline: float) -> dict[str, Any]:
    run_dir = runs / name
    cmd = train_command(run_dir, preset, algo, seed, steps)
    info: dict[str, Any] = {"name": name, "preset": preset, "algo": algo, "seed": seed,
                            "steps_budget": steps, "command": cmd, "run_dir": str(run_dir)}
    if (run_dir / "checkpoint.pt").exists() and trained_windows(run_dir) >= steps:
        info["skipped"] = "checkpoint for the full budget exists"
    elif time.time() >= deadline:
        info["skipped"] = "train deadline passed before start"
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        with (run_dir / "train.stdout").open("a") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
            try:
                proc.wait(timeout=max(1.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGINT)  # the trainer checkpoints on Ctrl-C
                info["interrupted_at_deadline"] = True
                try:
                    proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        info["returncode"] = proc.returncode
        info["this_call_wall_s"] = round(time.time() - t0, 1)
    info["windows_trained"] = trained_windows(run_dir)
    info["checkpoint"] = str(run_dir / "checkpoint.pt") if (run_dir / "checkpoint.pt").exists() \
        else None
    rows = read_log(run_dir)
    info["train_wall_s"] = float(rows[-1]["wall_s"]) if rows else None
    info["gradient_steps"] = int(rows[-1]["train_steps"] or 0) if rows else 0
    info["learning_curve"] = learning_curve(run_dir)
    return info


def train_all(runs: Path, deadline: float, jobs: int) -> list[dict[str, Any]]:
    # one stream per preset so the slow multi-mec runs do not hold up the aiot ones
    streams: dict[str, list[tuple]] = {}
    for r in RUNS:
        streams.setdefault(r[1], []).append(r)

    def stream(items: list[tuple]) -> list[dict[str, Any]]:
        return [train_one(runs, *it, deadline=deadline) for it in items]

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(stream, streams.values()))
    by_name = {d["name"]: d for lst in results for d in lst}
    return [by_name[r[0]] for r in RUNS]


# ---------------------------------------------------------------------- evaluation
def eval_cell(runs: Path, preset: str, policy_name: str, policy_arg: str, variant: str,
              seed: int) -> dict[str, Any]:
    """One evaluate run (4 episodes, reset seed seed*1000), cached as JSON."""
    cache = runs / "eval-cache" / preset / f"{policy_name}__{variant}__s{seed}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    from xr_codec_marl.baselines import make_policy
    from xr_codec_marl.env.factory import make_env
    from xr_codec_marl.experiments.evaluation import evaluate_policy

    kw = {**PRESETS[preset]["kwargs"], "variant": variant}

    def make_batch(n: int):
        return make_env("mec", backend="analytic", num_envs=n, **kw)

    probe = make_batch(1)
    spec = probe.spec
    probe.close()
    policy = make_policy(policy_arg, spec)
    t0 = time.time()
    res = evaluate_policy(make_batch, policy, EVAL_EPISODES, seed * 1000, "analytic",
                          batch_size=EVAL_EPISODES)
    out = {
        "policy": policy_name, "preset": preset, "variant": variant, "seed": seed,
        "reset_seed": seed * 1000, "episodes": EVAL_EPISODES,
        "wall_s": round(time.time() - t0, 2),
        "episode_kpis": {k: [float(x) for x in res.team_values(k)] for k in KPIS},
        "episode_team_reward": [float(x) for x in res.episode_rewards.sum(1)],
        "summary_rewards": res.summary()["rewards"],
    }
    atomic_write(cache, json.dumps(out))
    return out


def eval_preset(runs: Path, preset: str, learners: dict[str, str]) -> None:
    policies = [(r, r) for r in PRESETS[preset]["rules"]] + list(learners.items())
    for name, arg in policies:
        for variant in VARIANTS:
            for seed in EVAL_SEEDS:
                try:
                    eval_cell(runs, preset, name, arg, variant, seed)
                except Exception as exc:  # record, keep going
                    err = runs / "eval-cache" / preset / f"{name}__{variant}__s{seed}.error"
                    atomic_write(err, f"{type(exc).__name__}: {exc}\n")
                    print(f"[eval] {preset} {name} {variant} s{seed}: {exc}", file=sys.stderr)


def learners_of(runs: Path, preset: str) -> dict[str, str]:
    out = {}
    for name, p, algo, seed, _ in RUNS:
        if p == preset and (runs / name / "checkpoint.pt").exists():
            out[f"{algo}-s{seed}"] = str(runs / name / "checkpoint.pt")
    return out


def _ci(values: list[float]) -> tuple[float | None, float | None, int]:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], np.float64)
    if v.size == 0:
        return None, None, 0
    from xr_codec_marl.experiments.stats import mean_ci95

    m, h = mean_ci95(v)
    return float(m), (None if not np.isfinite(h) else float(h)), int(v.size)


def aggregate(runs: Path, preset: str, policy: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for variant in VARIANTS:
        cells = []
        errors = []
        for seed in EVAL_SEEDS:
            base = runs / "eval-cache" / preset / f"{policy}__{variant}__s{seed}"
            if Path(f"{base}.json").exists():
                cells.append(json.loads(Path(f"{base}.json").read_text()))
            elif Path(f"{base}.error").exists():
                errors.append(Path(f"{base}.error").read_text().strip())
        if not cells:
            out[variant] = {"missing": True, "errors": errors}
            continue
        entry: dict[str, Any] = {"episodes": sum(c["episodes"] for c in cells),
                                 "seeds": [c["seed"] for c in cells]}
        for k in KPIS:
            m, h, n = _ci([x for c in cells for x in c["episode_kpis"][k]])
            entry[k] = {"mean": m, "ci95": h, "n": n}
        m, h, n = _ci([x for c in cells for x in c["episode_team_reward"]])
        entry["team_reward"] = {"mean": m, "ci95": h, "n": n}
        entry["per_seed_team_reward"] = [float(np.mean(c["episode_team_reward"])) for c in cells]
        entry["eval_wall_s"] = round(sum(c["wall_s"] for c in cells), 2)
        if errors:
            entry["errors"] = errors
        out[variant] = entry
    return out


# ---------------------------------------------------------------------- report
def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "load_average": list(os.getloadavg()),
            "niceness": os.nice(0)}


def _v(entry: dict[str, Any], key: str) -> float | None:
    return entry.get(key, {}).get("mean") if isinstance(entry.get(key), dict) else None


def _fmt(entry: dict[str, Any], key: str, fmt: str) -> str:
    d = entry.get(key)
    if not isinstance(d, dict) or d.get("mean") is None:
        return "—"
    s = format(d["mean"], fmt)
    return s + (f" ± {format(d['ci95'], fmt)}" if d.get("ci95") is not None else "")


def strongest_rule(table: dict[str, Any], rules: tuple[str, ...], variant: str) -> str | None:
    """The rule with the highest mean team reward on ``variant`` (the objective trained on)."""
    best, best_v = None, -np.inf
    for r in rules:
        v = _v(table.get(r, {}).get(variant, {}), "team_reward")
        if v is not None and v > best_v:
            best, best_v = r, v
    return best


def gains(table: dict[str, Any], rules: tuple[str, ...], learners: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ln in learners:
        out[ln] = {}
        for variant in VARIANTS:
            rule = strongest_rule(table, rules, variant)
            le, re_ = table.get(ln, {}).get(variant, {}), table.get(rule, {}).get(variant, {})
            if rule is None or le.get("missing"):
                continue
            d = {"strongest_rule": rule}
            for k in (*KPIS, "team_reward"):
                a, b = _v(le, k), _v(re_, k)
                d[k] = None if a is None or b is None else a - b
            out[ln][variant] = d
    return out


def md_report(doc: dict[str, Any]) -> str:
    L = ["# MEC scenario: short-budget learners vs rules", "",
         f"Generated {doc['generated']}; wall time {doc['wall_time_s']:.0f} s; load average at "
         f"start {doc['machine']['load_average_start']}, at end "
         f"{doc['machine']['load_average']} ({doc['machine']['cpus']} CPUs, shared with a "
         "running speed benchmark; everything at nice 10).", "",
         f"Command: `{doc['command']}`", "",
         "Learners trained on variant `stable` only and evaluated on all four (the other three "
         "test generalisation). Evaluation: seeds 0, 1, 2 (reset seed ×1000) × 4 episodes "
         "= 12 episodes per cell; mean ± 95 % t-interval over episodes. Team reward = sum of "
         "the per-window mean reward components (the scenario's reward weights for the preset).",
         "", "Learner settings (`--set`): " + ", ".join(
             f"`{k}={v}`" for k, v in COMMON_SETTINGS.items())
         + ", `epsilon_anneal_steps` = 40 % of the step budget.", "",
         "## Training runs", "",
         "| run | algo | preset | seed | step budget | windows trained | gradient steps | "
         "train wall s | note |", "|---|---|---|---|---|---|---|---|---|"]
    for t in doc["training"]:
        note = t.get("skipped", "") or ("interrupted at deadline"
                                        if t.get("interrupted_at_deadline") else "")
        L.append(f"| {t['name']} | {t['algo']} | {t['preset']} | {t['seed']} | "
                 f"{t['steps_budget']} | {t['windows_trained']} | {t['gradient_steps']} | "
                 f"{t['train_wall_s'] if t['train_wall_s'] is not None else '—'} | {note} |")
    # seed 000 form
    aiot = doc["results"].get("aiot", {})
    L += ["", "## Seed 000 form (aiot: 25 edge nodes, 50 devices)", "",
          "| policy | variant | MRT s | deadline % | Jain | rejected % | team reward |",
          "|---|---|---|---|---|---|---|"]
    for pol, per in aiot.items():
        for variant in VARIANTS:
            e = per.get(variant, {})
            if e.get("missing"):
                L.append(f"| {pol} | {variant} | missing | | | | |")
                continue
            L.append(f"| {pol} | {variant} | {_fmt(e, 'response_time_s', '.3f')} | "
                     f"{_fmt(e, 'deadline_pct', '.1f')} | {_fmt(e, 'jain', '.3f')} | "
                     f"{_fmt(e, 'rejected_pct', '.1f')} | {_fmt(e, 'team_reward', '.3f')} |")
    mm = doc["results"].get("multi-mec", {})
    windows = {f"{t['algo']}-s{t['seed']}": t["windows_trained"]
               for t in doc["training"] if t["preset"] == "multi-mec"}
    L += ["", "## Seed 001 Table-1 form (multi-mec: N 50, K 9)", "",
          "| policy | variant | completion % | latency s | tasks/J | AoI s | team reward | "
          "windows trained |", "|---|---|---|---|---|---|---|---|"]
    for pol, per in mm.items():
        for variant in VARIANTS:
            e = per.get(variant, {})
            if e.get("missing"):
                L.append(f"| {pol} | {variant} | missing | | | | | |")
                continue
            L.append(f"| {pol} | {variant} | {_fmt(e, 'completion_pct', '.1f')} | "
                     f"{_fmt(e, 'response_time_s', '.4f')} | {_fmt(e, 'tasks_per_j', '.2f')} | "
                     f"{_fmt(e, 'aoi_mean_s', '.3f')} | {_fmt(e, 'team_reward', '.3f')} | "
                     f"{windows.get(pol, '— (rule)')} |")
    L += ["", "## Learner minus strongest rule (same seeds)", "",
          "Strongest rule = highest mean team reward on that variant. Positive Δ reward = the "
          "learner wins on the objective; Δ of the KPIs in their own units.", "",
          "| preset | learner | variant | strongest rule | Δ team reward | Δ completion pp | "
          "Δ deadline pp | Δ response s | Δ rejected pp | Δ Jain |",
          "|---|---|---|---|---|---|---|---|---|---|"]

    def f(x, fmt):
        return "—" if x is None else format(x, fmt)
    for preset, per in doc["gains"].items():
        for ln, pv in per.items():
            for variant, d in pv.items():
                L.append(f"| {preset} | {ln} | {variant} | {d['strongest_rule']} | "
                         f"{f(d['team_reward'], '+.3f')} | {f(d['completion_pct'], '+.1f')} | "
                         f"{f(d['deadline_pct'], '+.1f')} | {f(d['response_time_s'], '+.3f')} | "
                         f"{f(d['rejected_pct'], '+.1f')} | {f(d['jain'], '+.3f')} |")
    L += ["", "## Learning curves (mean training return per rollout, ε-greedy)", ""]
    for t in doc["training"]:
        pts = t["learning_curve"]
        if not pts:
            continue
        step = max(1, len(pts) // 10)
        sel = pts[::step] + ([pts[-1]] if pts[-1] not in pts[::step] else [])
        L.append(f"- {t['name']}: " + ", ".join(
            f"{p['env_steps']}→{p['mean_return']:.1f} (ε {p['epsilon']:.2f})" for p in sel))
    if doc.get("notes"):
        L += ["", "## Notes", ""] + [f"- {n}" for n in doc["notes"]]
    return "\n".join(L) + "\n"


def build_report(runs: Path, training: list[dict[str, Any]], t_start: float,
                 load_start: list[float], command: str, notes: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    gain: dict[str, Any] = {}
    for preset, p in PRESETS.items():
        learners = list(learners_of(runs, preset))
        results[preset] = {pol: aggregate(runs, preset, pol) for pol in (*p["rules"], *learners)}
        gain[preset] = gains(results[preset], p["rules"], learners)
    m = machine()
    m["load_average_start"] = load_start
    return {
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": m,
        "command": command,
        "wall_time_s": round(time.time() - t_start, 1),
        "settings": {"common": COMMON_SETTINGS, "epsilon_anneal_steps": "0.4 x steps",
                     "num_envs": 8, "episode_limit": 100, "train_variant": "stable",
                     "eval_variants": VARIANTS, "eval_seeds": EVAL_SEEDS,
                     "eval_episodes_per_seed": EVAL_EPISODES, "eval_reset_seed": "seed*1000",
                     "presets": {k: v["kwargs"] for k, v in PRESETS.items()}},
        "step_budgets": {r[0]: r[4] for r in RUNS},
        "training": training,
        "results": results,
        "gains": gain,
        "notes": notes,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("phase", choices=("all", "train", "eval", "report"))
    ap.add_argument("--runs", type=Path, default=Path("/tmp/mec-runs"))
    ap.add_argument("--train-minutes", type=float, default=22.0,
                    help="SIGINT (checkpoint) any run still training after this many minutes")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args()
    if os.nice(0) < 10:
        os.nice(10 - os.nice(0))
    t_start = time.time()
    load_start = list(os.getloadavg())
    runs = args.runs
    runs.mkdir(parents=True, exist_ok=True)
    state = runs / "mec_learners_state.json"
    prev = json.loads(state.read_text()) if state.exists() else {}
    t_start = prev.get("t_start", t_start)
    load_start = prev.get("load_start", load_start)
    command = " ".join(["nice -n 10", sys.executable, *sys.argv])
    if args.phase == "report" and prev.get("command"):
        command = prev["command"]  # the run that produced the numbers
    wall_end = prev.get("wall_end") if args.phase == "report" else None
    atomic_write(state, json.dumps({"t_start": t_start, "load_start": load_start,
                                    "command": command, "wall_end": wall_end}))
    training: list[dict[str, Any]]
    if args.phase in ("all", "train"):
        training = train_all(runs, time.time() + 60 * args.train_minutes, args.jobs)
    else:  # describe the runs as they are
        training = [train_one(runs, *r, deadline=0.0) for r in RUNS]
        for t in training:
            t.pop("skipped", None)
    if args.phase in ("all", "eval"):
        # one process per preset (they run in parallel; one thread each)
        procs = [subprocess.Popen([sys.executable, "-c",
                                   "import sys; sys.path.insert(0, %r); import mec_learners as m;"
                                   " m.eval_preset(__import__('pathlib').Path(%r), %r, "
                                   "m.learners_of(__import__('pathlib').Path(%r), %r))"
                                   % (str(Path(__file__).parent), str(runs), p, str(runs), p)],
                                  env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
                 for p in PRESETS]
        for p in procs:
            p.wait()
    doc = build_report(runs, training, t_start, load_start, command, args.note)
    if wall_end is not None:
        doc["wall_time_s"] = round(wall_end - t_start, 1)
    else:
        atomic_write(state, json.dumps({"t_start": t_start, "load_start": load_start,
                                        "command": command, "wall_end": time.time()}))
    atomic_write(RESULTS / "mec_learners.json", json.dumps(doc, indent=2))
    atomic_write(RESULTS / "mec_learners.md", md_report(doc))
    print(f"wrote {RESULTS / 'mec_learners.json'} and .md")


if __name__ == "__main__":
    main()
