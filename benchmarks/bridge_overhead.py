#!/usr/bin/env python3
"""Bridge overhead: 3-agent joint steps through the C++ probe <-> our Python agent server,
against a raw ZeroMQ request/reply of the same payload size (C++ REQ client, pyzmq REP server)
measured in the same run, interleaved, so machine load hits both alike.

Three ways through our side, all timed by the C++ probe (round trip = send Step .. receive
Action, including both sides' protobuf work):

- ``raw``:    pyzmq REP echo of a Step-sized request with an Action-sized reply (the floor);
- ``floor``:  the bridge dialogue answered by a bare pyzmq ROUTER with prebuilt replies: the
              C++ side's protobuf work and the framing, with no Python work at all;
- ``bridge``: ``BridgeServer`` alone answering a fixed action: the protocol's own cost
              (validation of every step against the handshake, numpy arrays, action checks);
- ``server``: ``BridgeServer`` + the ``xr-marl serve`` loop: decode -> numpy -> rewards from
              KPIs -> policy (APS) -> encode, one policy per simulator session;
- ``env``:    ``Ns3Env`` (attach mode) stepped by the same policy: the training/evaluation path.

Plus the Python side's own cost per step measured in-process (no transport, no scheduler):
a REP echo, a REP with protobuf decode/encode, and ``BridgeServer``.

Writes benchmarks/results/bridge_overhead.json (machine, command, every repeat, medians).

    python benchmarks/bridge_overhead.py [--steps 20000] [--repeats 3] [--policy aps]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import zmq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xr_codec_marl.bridge import wire
from xr_codec_marl.bridge.server import BridgeServer
from xr_codec_marl.core.api import AgentSpec, EnvSpec
from xr_codec_marl.scenarios.xr.kpis import XR_KPI_NAMES

N_AGENTS = 3


def probe_spec(steps: int) -> EnvSpec:
    """What the probe announces: 3 agents, obs 5, 10 actions, state 15, the 8 XR KPIs."""
    agents = tuple(AgentSpec(a, k, 5, 10, tuple(1.0 + i for i in range(10)))
                   for a, k in (("AR", "xr"), ("VR", "xr"), ("CG", "cg")))
    return EnvSpec("probe", agents, 15, (), XR_KPI_NAMES, 0.5, steps)


def make_probe_policy(name: str, spec: EnvSpec):
    """The named policy for the probe's XR-shaped spec: the xr scenario's rules (APS) apply to
    it though the probe announces itself as scenario ``probe``."""
    from xr_codec_marl.baselines import make_policy
    from xr_codec_marl.scenarios.xr.scenario import XR

    rules = XR.policies()
    return rules[name](spec) if name in rules else make_policy(name, spec)


def run_probe(probe: str, args: list[str], timeout_s: float) -> dict:
    out = subprocess.run([probe, *args], capture_output=True, text=True, timeout=timeout_s,
                         check=False)
    if out.returncode != 0:
        raise RuntimeError(f"probe failed ({out.returncode}): {out.stderr.strip()} {out.stdout}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def in_thread(fn) -> tuple[threading.Thread, dict]:
    box: dict = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            box["error"] = exc

    th = threading.Thread(target=target, daemon=True)
    th.start()
    return th, box


def bench_raw(probe: str, steps: int, reply_bytes: int) -> dict:
    """pyzmq REP server in this process; the probe's REQ client times the round trips."""
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    reply = b"r" * reply_bytes
    th, box = in_thread(lambda: run_probe(
        probe, ["--mode=raw", f"--endpoint=tcp://127.0.0.1:{port}", f"--steps={steps}",
                "--timeout-ms=5000"], timeout_s=600))
    try:
        for _ in range(steps):
            if not rep.poll(5000):
                raise RuntimeError("raw: probe stopped sending")
            rep.recv()
            rep.send(reply)
        th.join(30)
    finally:
        rep.close(0)
        ctx.term()
    if "error" in box:
        raise box["error"]
    return box["result"]


def bench_floor(probe: str, steps: int) -> dict:
    """The bridge dialogue with no Python work: a bare pyzmq ROUTER answering every step with
    a prebuilt Action (no parsing, no checks). Its gap to ``raw`` is the C++ side's protobuf
    work and the ROUTER framing; the gap from here to ``bridge`` is our Python server."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    th, box = in_thread(lambda: run_probe(
        probe, [f"--endpoint=tcp://127.0.0.1:{port}", f"--steps={steps}", "--timeout-ms=5000"],
        timeout_s=600))
    try:
        ident, _ = sock.recv_multipart()
        sock.send_multipart([ident, wire.encode(wire.welcome_envelope("s"))])
        replies = [wire.encode_action("s", t, [1, 2, 3]) for t in range(steps)]
        replies.append(wire.encode(wire.close_envelope("s", "episode over")))
        for reply in replies:
            if not sock.poll(5000):
                raise RuntimeError("floor: probe stopped sending")
            ident, _ = sock.recv_multipart()
            sock.send_multipart([ident, reply])
        th.join(30)
    finally:
        sock.close(0)
        ctx.term()
    if "error" in box:
        raise box["error"]
    return box["result"]


def bench_bridge(probe: str, steps: int) -> dict:
    """BridgeServer events answered with a constant joint action (no policy)."""
    from xr_codec_marl.bridge.server import Ended, StepReceived

    with BridgeServer("tcp://127.0.0.1:*", timeout_s=5.0) as server:
        th, box = in_thread(lambda: run_probe(
            probe, [f"--endpoint={server.endpoint}", f"--steps={steps}", "--timeout-ms=5000"],
            timeout_s=600))
        actions = [1] * N_AGENTS
        done = False
        while not done:
            for ev in server.poll(1.0):
                if isinstance(ev, StepReceived):
                    if not ev.step.done:
                        server.send_action(ev.session.session_id, actions)
                elif isinstance(ev, Ended):
                    done = True
        th.join(30)
    if "error" in box:
        raise box["error"]
    return box["result"]


def bench_server(probe: str, steps: int, policy: str) -> dict:
    """The `xr-marl serve` loop with one probe session."""
    from xr_codec_marl.commands.serve import serve_sessions

    with BridgeServer("tcp://127.0.0.1:*", timeout_s=5.0) as server:
        th, box = in_thread(lambda: run_probe(
            probe, [f"--endpoint={server.endpoint}", f"--steps={steps}", "--timeout-ms=5000"],
            timeout_s=600))
        serve_sessions(server, lambda spec: make_probe_policy(policy, spec), episodes=1)
        th.join(30)
    if "error" in box:
        raise box["error"]
    return box["result"]


def bench_env(probe: str, steps: int, policy: str) -> dict:
    """Ns3Env (attach mode) stepped by the policy; the probe started alongside."""
    from xr_codec_marl.env.ns3_env import Ns3Env

    from dataclasses import replace

    from xr_codec_marl.scenarios.xr.kpis import XR_REWARD_COMPONENTS
    from xr_codec_marl.scenarios.xr.scenario import XR
    from xr_codec_marl.scenarios.xr.settings import XRScenario

    # the probe sends raw KPIs only: the XR glue builds observations and the 3 rewards
    spec = replace(probe_spec(steps), reward_components=XR_REWARD_COMPONENTS)
    env = Ns3Env(spec, workers=1, launch=False, endpoint="tcp://127.0.0.1:*",
                 timeout_s=5.0, connect_timeout_s=10.0, glue=XR.ns3_glue(spec, XRScenario()))
    pol = make_probe_policy(policy, spec)
    try:
        th, box = in_thread(lambda: run_probe(
            probe, [f"--endpoint={env.endpoint}", f"--steps={steps}", "--timeout-ms=5000"],
            timeout_s=600))
        ob = env.reset()
        pol.reset(1)
        done = np.zeros(1, bool)
        while not done.any():
            res = env.step(pol.act(ob))
            ob, done = res, res.done
        th.join(30)
    finally:
        env.close()
    if "error" in box:
        raise box["error"]
    return box["result"]


def in_process_costs(steps: int) -> dict:
    """Median per-step cost of the Python side alone (no OS scheduling in the way): a DEALER in
    this thread sends real step bytes over inproc:// and takes the answer, through
    (a) a REP echo, (b) a REP that decodes and encodes with protobuf, (c) BridgeServer."""
    ctx = zmq.Context()
    spec = probe_spec(10**9)
    server = BridgeServer("inproc://bridge-bench", context=ctx, timeout_s=3600.0)
    dealer = ctx.socket(zmq.DEALER)
    dealer.connect("inproc://bridge-bench")
    from xr_codec_marl.bridge.proto import bridge_pb2 as pb
    from xr_codec_marl.bridge.server import Joined

    dealer.send(wire.encode(pb.Envelope(hello=wire.hello_from_spec(spec, send_rewards=False))))
    sid = next(e for e in server.poll(1.0) if isinstance(e, Joined)).session.session_id
    dealer.recv()
    a, j = np.meshgrid(np.arange(3), np.arange(5), indexing="ij")
    msgs = [wire.encode(wire.step_envelope(
        sid, t, 0.5 * t, obs=t + 0.5 * a + 0.0625 * j, state=-(t + 0.125 * np.arange(15)),
        avail_actions=np.ones((3, 10), bool), kpis=np.full((3, 8), 0.5 + t % 7)))
        for t in range(steps)]
    rep = ctx.socket(zmq.REP)
    rep.bind("inproc://raw-bench")
    req = ctx.socket(zmq.REQ)
    req.connect("inproc://raw-bench")
    reply = wire.encode_action(sid, 1, [1, 2, 3])

    def raw(t: int) -> None:
        req.send(msgs[t])
        rep.recv()
        rep.send(reply)
        req.recv()

    def raw_protobuf(t: int) -> None:
        req.send(msgs[t])
        env = wire.decode(rep.recv())
        rep.send(wire.action_envelope(sid, env.step.step_index, [1, 2, 3]).SerializeToString())
        req.recv()

    def bridge(t: int) -> None:
        dealer.send(msgs[t])
        server.poll(1.0)
        server.send_action(sid, (1, 2, 3))
        dealer.recv()

    out = {}
    clock = time.perf_counter_ns
    for name, fn in (("raw_us", raw), ("raw_protobuf_us", raw_protobuf), ("bridge_us", bridge)):
        times = np.empty(steps)
        for t in range(steps):
            t0 = clock()
            fn(t)
            times[t] = clock() - t0
        out[name] = round(float(np.median(times)) / 1000.0, 2)
    server.close()
    for sock in (dealer, rep, req):
        sock.close(0)
    ctx.term()
    out["bridge_minus_raw_us"] = round(out["bridge_us"] - out["raw_us"], 2)
    return out


def machine() -> dict:
    """The shared machine record plus the wire stack's versions."""
    import google.protobuf

    from xr_codec_marl.experiments.results import machine_info

    return {
        **machine_info(),
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "protobuf": google.protobuf.__version__,
        "protobuf_backend": __import__(
            "google.protobuf.internal.api_implementation", fromlist=["Type"]).Type(),
    }


def summarize(runs: list[dict]) -> dict:
    return {
        "steps_per_s": statistics.median(r["steps_per_s"] for r in runs),
        "rtt_median_us": statistics.median(r["rtt_us"]["median"] for r in runs),
        "rtt_p99_us": statistics.median(r["rtt_us"]["p99"] for r in runs),
        "payload_bytes": runs[0].get("payload_bytes"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20000, help="round trips per measurement")
    p.add_argument("--repeats", type=int, default=3, help="interleaved repeats of each way")
    p.add_argument("--policy", default="aps", help="policy on the Python side (default aps)")
    p.add_argument("--probe", default=None, help="probe binary (default: build_ns3's)")
    p.add_argument("--out", default=str(ROOT / "benchmarks/results/bridge_overhead.json"))
    args = p.parse_args(argv)

    probe = args.probe
    if probe is None:
        from xr_codec_marl.bridge.build import build_ns3, find_binary, is_up_to_date

        if not is_up_to_date():
            build_ns3()
        probe = str(find_binary("xrmarl-bridge-probe"))
    action_bytes = len(wire.encode(wire.action_envelope("0001-abcdef", 12345, [9, 9, 9])))
    info = machine()
    ways = ("raw", "floor", "bridge", "server", "env")
    results: dict[str, list[dict]] = {w: [] for w in ways}
    bench_server(probe, 500, args.policy)  # warm-up: imports, first connections
    for rep in range(args.repeats):
        for way in ways:
            if way == "raw":
                r = bench_raw(probe, args.steps, action_bytes)
            elif way == "floor":
                r = bench_floor(probe, args.steps)
            elif way == "bridge":
                r = bench_bridge(probe, args.steps)
            elif way == "server":
                r = bench_server(probe, args.steps, args.policy)
            else:
                r = bench_env(probe, args.steps, args.policy)
            results[way].append(r)
            print(f"[{rep + 1}/{args.repeats}] {way:6s} {r['steps_per_s']:8.0f} steps/s  "
                  f"median {r['rtt_us']['median']:6.1f} us  p99 {r['rtt_us']['p99']:7.1f} us",
                  flush=True)
    summary = {way: summarize(runs) for way, runs in results.items()}
    inproc = in_process_costs(min(args.steps, 20000))
    info["load_avg_at_end"] = list(os.getloadavg())
    raw = summary["raw"]
    for way in ways[1:]:
        s = summary[way]
        s["median_vs_raw"] = round(s["rtt_median_us"] / raw["rtt_median_us"], 3)
        s["throughput_vs_raw"] = round(raw["steps_per_s"] / s["steps_per_s"], 3)
    out = {
        "benchmark": "bridge_overhead",
        "what": "3-agent joint step round trip: C++ probe <-> Python agent server, vs raw "
                "ZeroMQ REQ/REP of the same request size (C++ client, pyzmq server)",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": info,
        "policy": args.policy,
        "steps_per_run": args.steps,
        "repeats": args.repeats,
        "action_reply_bytes": action_bytes,
        "summary": summary,
        "python_side_per_step_median": inproc,
        "targets": {"vs_raw_max": 1.5, "steps_per_s_min": 5000,
                    "ns3_gym_single_agent_steps_per_s": 2868},
        "runs": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    for way in ways:
        s = summary[way]
        extra = "" if way == "raw" else (f"  x{s['median_vs_raw']} median, "
                                         f"x{s['throughput_vs_raw']} throughput vs raw")
        print(f"{way:6s} {s['steps_per_s']:8.0f} steps/s  median {s['rtt_median_us']:6.1f} us  "
              f"p99 {s['rtt_p99_us']:7.1f} us{extra}")
    print(f"python side alone (median per step, in-process): {inproc}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
