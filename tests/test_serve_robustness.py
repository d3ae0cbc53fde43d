"""`xr-marl serve` and the bridge server against hellos that are valid on the wire but cannot
be served: policies that cannot be built for them, absurd sizes, non-finite action values,
and bad endpoints. Each bad simulator gets an ``Error`` naming why; the server keeps serving.
"""

from __future__ import annotations

import logging
import resource
import subprocess
import threading
from dataclasses import replace

import numpy as np
import pytest
import zmq
from test_bridge_fakesim import SimSocket, SimThread, T, xr_spec

from xr_codec_marl.bridge import wire
from xr_codec_marl.bridge.wire import LIMITS, Code, WireError
from xr_codec_marl.bridge.proto import bridge_pb2 as pb
from xr_codec_marl.bridge.server import BridgeServer, check_endpoint
from xr_codec_marl.cli import main
from xr_codec_marl.commands.serve import serve_sessions
from xr_codec_marl.errors import UsageError


def run_cli(argv: list[str]) -> tuple[threading.Thread, dict]:
    """``main(argv)`` in a daemon thread, so a regression hangs no test run: ``out["rc"]``
    once it returned, ``out["exc"]`` if it raised."""
    out: dict = {}

    def target() -> None:
        try:
            out["rc"] = main(argv)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            out["exc"] = exc

    th = threading.Thread(target=target, daemon=True)
    th.start()
    return th, out


def refused(endpoint: str, hello: pb.Hello, timeout_s: float = 3 * T) -> pb.Error:
    """Send ``hello`` from a fresh simulator socket; return the ``Error`` it got back."""
    sim = SimSocket(endpoint)
    try:
        sim.send(pb.Envelope(hello=hello))
        reply = sim.recv(timeout_s)
    finally:
        sim.close()
    assert reply.WhichOneof("body") == "error", reply
    assert reply.error.fatal
    return reply.error


def without_plr():
    spec = xr_spec(4)
    return replace(spec, kpi_names=tuple(k for k in spec.kpi_names if k != "plr"))


# --------------------------------------------------------------------------- serve survives


def test_serve_refuses_what_its_policy_cannot_serve_and_keeps_serving(tmp_path, caplog):
    """APS needs the ``plr`` KPI: a hello without it is refused at the handshake with an Error
    naming it (it used to kill the server with a KeyError), and so is one with 2**31 actions
    (it used to ask numpy for 48 GiB); then a good simulator still plays its episode."""
    ep = f"ipc://{tmp_path}/serve.sock"
    th, out = run_cli(["serve", "--bind", ep, "--policy", "aps", "--episodes", "1",
                         "--timeout", str(T)])
    err = refused(ep, wire.hello_from_spec(without_plr(), 1), timeout_s=10 * T)
    assert err.code == Code.CODE_INTERNAL and "'plr'" in err.message, err
    assert "\n" not in err.message
    huge = wire.hello_from_spec(xr_spec(4), 2)
    huge.agents[0].n_actions = 2**31
    del huge.agents[0].action_values[:]
    err = refused(ep, huge)
    assert err.code == Code.CODE_SHAPE and "n_actions 2147483648" in err.message, err
    good = SimThread(ep, xr_spec(4), seed=3)
    good.start()
    assert good.outcome() == "closed: episode limit"
    th.join(5 * T)
    assert not th.is_alive() and out == {"rc": 0}, out


def test_probe_is_refused_by_aps_and_serve_carries_on(tmp_path):
    """The project's own probe (scenario ``probe``, ``--kpis=4``) against ``serve --policy
    aps``: APS is the xr scenario's rule, so the probe gets an Error naming why."""
    from xr_codec_marl.bridge.build import find_binary

    try:
        probe = str(find_binary("xrmarl-bridge-probe"))
    except FileNotFoundError:
        pytest.skip("xrmarl-bridge-probe is not built (xr-marl build-ns3)")
    ep = f"ipc://{tmp_path}/serve.sock"
    th, out = run_cli(["serve", "--bind", ep, "--policy", "aps", "--episodes", "1",
                         "--timeout", str(T)])
    run = subprocess.run([probe, f"--endpoint={ep}", "--mode=episode", "--kpis=4", "--steps=3",
                          f"--timeout-ms={int(10 * T * 1000)}"],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode != 0 and "unknown policy 'aps'" in run.stdout + run.stderr, run
    good = SimThread(ep, xr_spec(4), seed=3)
    good.start()
    assert good.outcome() == "closed: episode limit"
    th.join(5 * T)
    assert not th.is_alive() and out == {"rc": 0}, out


class _Policy:
    """A policy that acts with action 0, failing on purpose where told to."""

    def __init__(self, spec, fail_on: str | None) -> None:
        if fail_on == "build":
            raise TypeError("cannot build this policy")
        self.fail_on, self.n = fail_on, spec.n_agents

    def reset(self, num_envs, seed=None):
        if self.fail_on == "reset":
            raise IndexError("reset went wrong")

    def act(self, ob, explore=False):
        if self.fail_on == "act":
            raise KeyError("no such KPI")
        return np.zeros((1, self.n), np.int64)


@pytest.mark.parametrize("fail_on, expect", [
    ("build", "no policy for this simulator: cannot build this policy"),
    ("reset", "no policy for this simulator: reset went wrong"),
    ("act", "policy failed: no such KPI"),
])
def test_any_exception_in_a_policy_ends_only_its_session(tmp_path, caplog, fail_on, expect):
    """Whatever a policy raises, building or acting (not only ValueError/RuntimeError/OSError),
    its simulator gets an Error saying so, the log says it in one line, the others carry on."""
    spec = xr_spec(4)
    with BridgeServer(f"ipc://{tmp_path}/s.sock", timeout_s=T) as server:
        sims = [SimThread(server.endpoint, spec, seed=s) for s in (0, 1)]
        for s in sims:
            s.start()
        with caplog.at_level(logging.WARNING):
            n = serve_sessions(
                server, lambda sp, seeds=iter((fail_on, None)): _Policy(sp, next(seeds)),
                episodes=1 if fail_on != "act" else 2)
        outcomes = sorted(str(s.outcome()) for s in sims)
    assert n == (1 if fail_on != "act" else 2)
    assert outcomes[0] == "closed: episode limit", outcomes
    assert outcomes[1].startswith(("error: ", "refused: ")) and expect in outcomes[1], outcomes
    mine = [r for r in caplog.records if expect in r.getMessage()]
    assert mine and all(r.exc_info is None and "\n" not in r.getMessage() for r in mine)


# --------------------------------------------------------------------------- hello limits


def _hello(**changes) -> pb.Hello:
    hello = wire.hello_from_spec(xr_spec(4))
    for path, value in changes.items():
        msg = hello.agents[0] if path.startswith("agent_") else hello
        name = path.removeprefix("agent_")
        if isinstance(value, list):  # repeated fields are replaced, not assigned
            del getattr(msg, name)[:]
            getattr(msg, name).extend(value)
        else:
            setattr(msg, name, value)
    return hello


@pytest.mark.parametrize("make, message", [
    (lambda: _hello(agent_n_actions=LIMITS.n_actions + 1, agent_action_values=[]),
     f"n_actions {LIMITS.n_actions + 1}"),
    (lambda: _hello(agent_obs_size=2**32 - 1), "obs_size 4294967295"),
    (lambda: _hello(state_size=LIMITS.state_size + 1), f"state_size {LIMITS.state_size + 1}"),
    (lambda: pb.Hello(protocol_version=wire.PROTOCOL_VERSION, step_interval_s=0.5,
                      agents=[pb.AgentInfo(id=f"a{i}", n_actions=2, obs_size=1)
                              for i in range(LIMITS.agents + 1)]),
     f"{LIMITS.agents + 1} agents, the limit is {LIMITS.agents}"),
    (lambda: _hello(kpi_names=[f"k{i}" for i in range(LIMITS.kpis + 1)]),
     f"KPI names {LIMITS.kpis + 1}"),
    (lambda: _hello(reward_components=["r"] * (LIMITS.reward_components + 1)),
     f"reward components {LIMITS.reward_components + 1}"),
    (lambda: pb.Hello(protocol_version=wire.PROTOCOL_VERSION, step_interval_s=0.5,
                      agents=[pb.AgentInfo(id=f"a{i}", n_actions=LIMITS.n_actions, obs_size=1)
                              for i in range(100)]),
     "avail_actions per agent"),
    (lambda: _hello(agent_action_values=[1.0] * 9 + [float("nan")]),
     "action values must be finite"),
    (lambda: _hello(agent_action_values=[float("inf")] * 10), "action values must be finite"),
])
def test_hellos_beyond_the_limits_or_with_non_finite_values_are_refused(make, message):
    hello = make()
    with pytest.raises(WireError, match="bad hello") as info:
        wire.check_hello(hello)
    assert info.value.code == Code.CODE_SHAPE and message in info.value.message
    assert "\n" not in info.value.message


def test_the_real_scenarios_are_inside_the_limits():
    from xr_codec_marl.scenarios.xr.settings import XRScenario

    for spec in (XRScenario().env_spec("xr"), XRScenario(n_rates=64).env_spec("xr")):
        wire.check_hello(wire.hello_from_spec(spec))
    # the MEC simulator's raw report at its largest: 100 devices, 29 servers
    from xr_codec_marl.core.registry import get_scenario

    mec = get_scenario("mec")
    wire.check_hello(wire.hello_from_spec(mec.expected_spec({"devices": 100, "servers": 29})))


def _million_agent_hello_bytes() -> bytes:
    """An ``Envelope{hello}`` announcing 10**6 distinct agents with action values (~35 MB),
    built as bytes so the test itself never makes the million protobuf objects."""
    rest = pb.AgentInfo(kind="xr", obs_size=5, n_actions=2,
                        action_values=[1.0, 2.0]).SerializeToString()

    def agent(i: int) -> bytes:  # AgentInfo.id (field 1) first, as protobuf writes it
        ident = b"a%d" % i
        body = b"\x0a" + bytes([len(ident)]) + ident + rest
        return b"\x2a" + bytes([len(body)]) + body  # Hello.agents = 5, length-delimited

    head = pb.Hello(protocol_version=wire.PROTOCOL_VERSION, step_interval_s=0.5,
                    kpi_names=["plr"]).SerializeToString()
    hello = head + b"".join(map(agent, range(10**6)))
    return b"\x0a" + wire._encode_varint(len(hello)) + hello  # Envelope.hello = 1


def test_a_million_agent_hello_is_refused_before_it_is_parsed():
    data = _million_agent_hello_bytes()
    assert LIMITS.hello_bytes < len(data) < LIMITS.message_bytes
    with pytest.raises(WireError, match="over the limit") as info:
        wire.decode(data)
    assert info.value.code == Code.CODE_SHAPE


def test_the_server_refuses_a_million_agent_hello_without_growing(tmp_path):
    """Used to take the server to ~1.4 GB; now refused from its size, before any parsing."""
    data = _million_agent_hello_bytes()
    with BridgeServer(f"ipc://{tmp_path}/s.sock", timeout_s=T) as server:
        assert server._sock.getsockopt(zmq.MAXMSGSIZE) == LIMITS.message_bytes
        sim = SimSocket(server.endpoint)
        try:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
            sim.send_raw(data)
            reply = None
            for _ in range(50):
                assert server.poll(0.1) == []
                if sim.sock.poll(0):
                    reply = wire.decode(sim.sock.recv())
                    break
            grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        finally:
            sim.close()
        assert reply is not None and "over the limit" in reply.error.message, reply
        assert grown_mb < 150, f"the server grew by {grown_mb:.0f} MB"
        good = SimThread(server.endpoint, xr_spec(3), seed=1)
        good.start()
        n = serve_sessions(server, lambda sp: _Policy(sp, None), episodes=1)
        assert n == 1 and good.outcome() == "closed: episode limit"


# --------------------------------------------------------------------------- endpoints


@pytest.mark.parametrize("port", ["99999", "65536", "-1", "+80", "x", ""])
def test_serve_refuses_a_bind_port_outside_1_to_65535(capsys, port):
    """ZeroMQ wraps ``:99999`` to port 34463 and binds it; the command refuses it instead."""
    th, out = run_cli(["serve", "--bind", f"tcp://127.0.0.1:{port}", "--policy", "aps",
                         "--episodes", "1", "--timeout", str(T)])
    th.join(10 * T)
    assert not th.is_alive(), "serve bound a wrapped port and is serving on it"
    assert out.get("rc") == 2, out
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"port {port!r}" in err and "1-65535" in err, err


@pytest.mark.parametrize("endpoint", ["tcp://127.0.0.1:99999", "tcp://:5555", "tcp://localhost"])
def test_the_server_refuses_bad_tcp_endpoints(endpoint):
    with pytest.raises(UsageError, match="tcp://HOST:PORT|1-65535"):
        BridgeServer(endpoint)


def test_good_endpoints_pass_the_check(tmp_path):
    for ep in ("tcp://127.0.0.1:1", "tcp://127.0.0.1:65535", "tcp://127.0.0.1:*",
               "tcp://127.0.0.1:0", "tcp://[::1]:5555", f"ipc://{tmp_path}/x", "inproc://x"):
        assert check_endpoint(ep) == ep


def test_ns3_attach_endpoint_with_a_bad_port_is_a_usage_error(capsys):
    """``--endpoint`` of the ns-3 backend goes through the same check (exit 2, one line)."""
    th, out = run_cli(["evaluate", "--env", "xr", "--backend", "ns3", "--attach", "--endpoint",
                       "tcp://127.0.0.1:70000", "--episodes", "1", "--connect-timeout", "1"])
    th.join(20 * T)
    assert not th.is_alive(), "evaluate bound a wrapped port and waits on it"
    err = capsys.readouterr().err.strip()
    assert out.get("rc") == 2 and len(err.splitlines()) == 1 and "'70000'" in err, (out, err)
