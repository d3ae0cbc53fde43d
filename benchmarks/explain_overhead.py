"""Cost of the per-step explanations (RDFX inc/dec + MSX+/MSX−) relative to the learner forward pass.

For each batch size B (environment copies; N = 3 agents, C = 3 components, A = 10 rates) it
times, per window:

- ``forward``: the real acting path of a trained learner — ``AgentController.q_values`` of
  ``xr_codec_marl.learners`` (agent inputs + one GRU step), for the MH agent (shared trunk,
  C two-layer heads) and the D agent (C separate GRU networks);
- ``env step``: one analytic XR window of the same batch, for scale;
- ``explain``: ``explain_q`` on the resulting ``[B, N, C, A]`` Q-values (greedy action, RDFX
  inc/dec, MSX+/MSX− for both comparisons), plus its parts ``rdfx`` and ``msx``.

Writes ``benchmarks/results/explain_overhead.json`` with the machine and the command.
Run: ``python benchmarks/explain_overhead.py [--batches 1,8,64,256] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from xr_codec_marl.env.factory import make_env
from xr_codec_marl.explain.metrics import explain_q, greedy_actions, msx, rdfx
from xr_codec_marl.learners.agents import build_agent
from xr_codec_marl.learners.learner import AgentController

N_AGENTS, N_COMPONENTS, N_ACTIONS, OBS = 3, 3, 10, 5  # the XR problem (obs = N + 2, eq. 13)


def timeit(fn: Callable[[], object], min_time: float = 0.3, repeats: int = 5) -> float:
    """Median over ``repeats`` of the mean seconds per call (each repeat runs >= ``min_time``/repeats)."""
    fn()
    n, t0 = 1, time.perf_counter()
    while time.perf_counter() - t0 < min_time / repeats:
        fn()
        n += 1
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t0) / n)
    return float(np.median(runs))


def machine() -> dict[str, object]:
    """The shared machine record plus torch's thread count."""
    from xr_codec_marl.experiments.results import machine_info

    return {**machine_info(), "torch_threads": torch.get_num_threads()}


def bench(batch: int, structure: str, rng: np.random.Generator) -> dict[str, float | int | str]:
    agent = build_agent(
        structure, OBS + N_ACTIONS + N_AGENTS, N_ACTIONS, N_COMPONENTS, 64, 64
    ).eval()
    ctl = AgentController(agent, N_AGENTS, N_ACTIONS)
    ctl.reset(batch)
    obs = rng.random((batch, N_AGENTS, OBS), dtype=np.float32)
    last = rng.integers(0, N_ACTIONS, (batch, N_AGENTS))

    def forward() -> np.ndarray:
        ctl.reset(batch)  # keep the hidden state bounded; reset cost is a zeros() alloc
        return ctl.q_values(obs, last).numpy()

    q = forward().astype(np.float64)
    k = greedy_actions(q)
    t_fwd = timeit(forward)
    t_exp = timeit(lambda: explain_q(q))
    t_rdfx = timeit(lambda: (rdfx(q, k, "inc"), rdfx(q, k, "dec")))
    delta = rdfx(q, k, "inc")
    t_msx = timeit(lambda: msx(delta))
    env = make_env("xr", "analytic", batch, 0, ring_m=400.0)
    env.reset(seed=0)
    acts = np.zeros((batch, N_AGENTS), np.int64)

    def env_step() -> None:
        if env.step(acts).done.any():
            env.reset(seed=0)

    t_env = timeit(env_step)
    return {"batch": batch, "agent": structure, "windows_explained": batch * N_AGENTS,
            "forward_us": 1e6 * t_fwd, "explain_us": 1e6 * t_exp, "rdfx_inc_dec_us": 1e6 * t_rdfx,
            "msx_one_comparison_us": 1e6 * t_msx, "explain_over_forward": t_exp / t_fwd,
            "analytic_env_step_us": 1e6 * t_env, "explain_over_env_step": t_exp / t_env,
            "explain_us_per_agent_window": 1e6 * t_exp / (batch * N_AGENTS)}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="1,8,64,256,1024")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "explain_overhead.json")
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    for b in (int(x) for x in args.batches.split(",")):
        for structure in ("mh", "d"):
            row = bench(b, structure, rng)
            rows.append(row)
            print(
                f"B={b:5d} {structure:2s} forward {row['forward_us']:9.1f} us  explain "
                f"{row['explain_us']:9.1f} us  ratio {row['explain_over_forward']:.2f}  "
                f"env step {row['analytic_env_step_us']:9.1f} us",
                file=sys.stderr,
            )
    result = {
        "what": "per-window cost of explain_q (greedy action, RDFX inc/dec, MSX+/MSX- for both) "
                "vs the learner's acting forward pass (AgentController.q_values), N=3, C=3, A=10",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "results": rows,
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
