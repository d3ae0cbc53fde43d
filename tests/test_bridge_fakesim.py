"""An in-test simulator speaking the bridge protocol from Python (a DEALER socket), its own
checks, and a command-line entry so the launcher can start it as a real subprocess.

Other bridge tests import :class:`SimSocket` and :func:`run_episode` from here.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import zmq

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # when run as a script by the launcher tests
    sys.path.insert(0, str(ROOT))

from xr_codec_marl.bridge import wire
from xr_codec_marl.bridge.proto import bridge_pb2 as pb
from xr_codec_marl.bridge.server import BridgeServer, Ended, StepReceived
from xr_codec_marl.core.api import EnvSpec
from xr_codec_marl.scenarios.xr.settings import XRScenario

#: Timeouts in tests: short enough to keep the suite fast, long enough for a loaded machine.
T = 1.0


def xr_spec(episode_limit: int = 5) -> EnvSpec:
    return XRScenario(episode_limit=episode_limit).env_spec("xr")


def fake_kpis(spec: EnvSpec, rng: np.random.Generator, rates: np.ndarray) -> np.ndarray:
    """Plausible per-UE KPIs ``[N, K]`` in ``spec.kpi_names`` order."""
    n = spec.n_agents
    vals = {
        "delay_ms": rng.uniform(2, 25, n),
        "jitter_ms": rng.uniform(0, 3, n),
        "pdr": rng.uniform(0.9, 1.0, n),
        "throughput_mbps": rates * rng.uniform(0.8, 1.0, n),
        "xqi": rng.integers(1, 6, n).astype(float),
        "buffer_ratio": rng.uniform(0, 1, n),
        "codec_rate_mbps": rates,
        "sinr_db": rng.uniform(-5, 30, n),
    }
    vals["plr"] = 1 - vals["pdr"]
    return np.stack([vals[k] for k in spec.kpi_names], axis=-1)


class SimSocket:
    """A simulator's DEALER socket with a receive timeout (raises ``TimeoutError``)."""

    def __init__(self, endpoint: str, identity: bytes | None = None, ctx: zmq.Context | None = None):
        self.ctx = ctx or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if identity:
            self.sock.setsockopt(zmq.ROUTING_ID, identity)
        self.sock.connect(endpoint)

    def send(self, env: pb.Envelope) -> None:
        self.sock.send(env.SerializeToString())

    def send_raw(self, *frames: bytes) -> None:
        self.sock.send_multipart(list(frames))

    def recv(self, timeout_s: float = T) -> pb.Envelope:
        if not self.sock.poll(int(timeout_s * 1000)):
            raise TimeoutError(f"no reply within {timeout_s} s")
        return wire.decode(self.sock.recv())

    def hello(self, spec: EnvSpec, seed: int = 0, timeout_s: float = T, **kw) -> pb.Envelope:
        self.send(pb.Envelope(hello=wire.hello_from_spec(spec, seed, **kw)))
        return self.recv(timeout_s)

    def close(self) -> None:
        self.sock.close(0)


def run_episode(
    endpoint: str,
    spec: EnvSpec,
    seed: int = 0,
    steps: int | None = None,
    *,
    raw_kpis: bool = True,
    die_after: int | None = None,
    hang_s: float = 0.0,
    identity: bytes | None = None,
    hello_timeout_s: float = T,
    record: list | None = None,
    on_step: Callable[[int], None] | None = None,
) -> str:
    """Play one episode as a simulator; return how it ended ("closed: ...", "died", ...).

    ``raw_kpis``: send only KPIs (the server builds obs/state/rewards) instead of everything.
    ``die_after``: after sending this step index, vanish without a word (a killed process);
    with ``hang_s``, first stay connected but silent that long (a hung process).
    ``record``: receives ``(step_index, actions)`` for every action.
    """
    rng = np.random.default_rng(seed)
    steps = spec.episode_limit if steps is None else steps
    sim = SimSocket(endpoint, identity)
    try:
        reply = sim.hello(spec, seed, timeout_s=hello_timeout_s, send_rewards=not raw_kpis)
        if reply.WhichOneof("body") != "welcome":
            return f"refused: {reply.error.message}"
        sid = reply.welcome.session_id
        n = spec.n_agents
        rates = np.array([a.action_values[-1] for a in spec.agents])
        for t in range(steps + 1):
            kpis = fake_kpis(spec, rng, rates)
            last = t == steps
            extra = {} if raw_kpis else {
                "obs": rng.uniform(0, 1, (n, spec.obs_size)),
                "state": rng.uniform(0, 1, spec.state_size),
                "rewards": rng.uniform(0, 1, spec.n_components) if t else (),
            }
            sim.send(wire.step_envelope(sid, t, 0.5 * t, kpis=kpis, truncated=last,
                                         truncation_reason="episode limit" if last else "",
                                         **extra))
            if on_step is not None:
                on_step(t)
            if die_after is not None and t >= die_after:
                if hang_s:
                    import time

                    time.sleep(hang_s)
                    return "hung"
                return "died"
            reply = sim.recv()
            kind = reply.WhichOneof("body")
            if kind == "close":
                sim.send(pb.Envelope(goodbye=pb.Goodbye(session_id=sid, reason="done")))
                return f"closed: {reply.close.reason}"
            if kind != "action":
                return f"{kind}: {reply.error.message if kind == 'error' else ''}"
            assert reply.action.step_index == t
            acts = list(reply.action.actions)
            assert len(acts) == n and all(0 <= a < spec.agents[i].n_actions
                                          for i, a in enumerate(acts))
            if record is not None:
                record.append((t, acts))
            rates = np.array([spec.agents[i].action_values[a] for i, a in enumerate(acts)])
        return "no close"
    finally:
        sim.close()


class SimThread(threading.Thread):
    """``run_episode`` in a daemon thread; ``result`` holds its outcome or exception."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(daemon=True)
        self.args, self.kwargs = args, kwargs
        self.result: object = None

    def run(self) -> None:
        try:
            self.result = run_episode(*self.args, **self.kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported by the test via .result
            self.result = exc

    def outcome(self, timeout_s: float = 5 * T) -> object:
        self.join(timeout_s)
        assert not self.is_alive(), "fake simulator hung"
        return self.result


def serve_until_ended(server: BridgeServer, n_sessions: int, timeout_s: float = 5 * T) -> list:
    """Answer every step with action 0 until ``n_sessions`` sessions ended; return the events."""
    import time

    events: list = []
    ended = 0
    deadline = time.monotonic() + timeout_s
    while ended < n_sessions:
        assert time.monotonic() < deadline, f"only {ended}/{n_sessions} sessions ended in time"
        for ev in server.poll(0.05):
            events.append(ev)
            if isinstance(ev, StepReceived) and not ev.step.done:
                # False when the simulator is gone: its Ended event follows
                server.send_action(ev.session.session_id, [0] * ev.session.spec.n_agents)
            elif isinstance(ev, Ended):
                ended += 1
    return events


# ------------------------------------------------------------------------------------- tests


def test_fake_simulator_plays_a_whole_episode_against_the_server():
    spec = xr_spec(4)
    with BridgeServer("tcp://127.0.0.1:*", expected_spec=spec, timeout_s=T) as server:
        record: list = []
        sim = SimThread(server.endpoint, spec, seed=3, record=record)
        sim.start()
        events = serve_until_ended(server, 1)
        assert sim.outcome() == "closed: episode limit"
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Joined"] + ["StepReceived"] * 5 + ["Ended"]
    assert events[-1].clean and events[0].session.seed == 3
    assert [t for t, _ in record] == [0, 1, 2, 3]
    steps = [e.step for e in events if isinstance(e, StepReceived)]
    assert [s.step_index for s in steps] == [0, 1, 2, 3, 4]
    assert steps[-1].truncated and steps[-1].truncation_reason == "episode limit"
    assert steps[0].kpis.shape == (3, len(spec.kpi_names)) and steps[0].obs is None


# ------------------------------------------------------------------------------------- script


def main(argv: list[str] | None = None) -> int:
    """Run as a simulator process: ``--endpoint= --seed= [--run=] [--steps=] [--die-after=]``."""
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run", type=int, default=0)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--episode-limit", type=int, default=5)
    p.add_argument("--hang-after", type=int, default=None, help="stop answering, stay alive")
    p.add_argument("--crash-after", type=int, default=None, help="exit(3) after this step")
    p.add_argument("--misbehave-seed", type=int, default=None,
                   help="only the simulator with this seed hangs or crashes")
    args, _unknown = p.parse_known_args(argv)  # ignore the scenario's ns-3 arguments
    spec = xr_spec(args.episode_limit)
    if args.misbehave_seed is not None and args.misbehave_seed != args.seed:
        args.hang_after = args.crash_after = None

    def on_step(t: int) -> None:
        if args.crash_after is not None and t >= args.crash_after:
            print(f"fake simulator: crashing after step {t}", flush=True)
            sys.stdout.flush()
            import os
            import time

            time.sleep(0.3)  # let ZeroMQ's I/O thread put the last step on the wire first
            os._exit(3)
        if args.hang_after is not None and t >= args.hang_after:
            import time

            print(f"fake simulator: hanging after step {t}", flush=True)
            time.sleep(3600)

    print(run_episode(args.endpoint, spec, args.seed, args.steps, on_step=on_step), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
