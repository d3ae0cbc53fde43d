"""The agent server against in-test simulators: handshake, many sessions, dead peers, bad input.

Every test bounds its waits (``T`` ~ 1 s) and joins its simulator threads with a timeout, so
a regression shows up as a failure, never as a hung test run.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import pytest
from test_bridge_fakesim import SimSocket, SimThread, T, serve_until_ended, xr_spec

from xr_codec_marl.bridge import wire
from xr_codec_marl.bridge.wire import Code, WireError
from xr_codec_marl.bridge.proto import bridge_pb2 as pb
from xr_codec_marl.bridge.server import BridgeServer, Ended, Joined, StepReceived
from xr_codec_marl.scenarios.xr.kpis import XR_KPI_NAMES

KV = 3 * len(XR_KPI_NAMES)  # a step's kpis in the XR spec (3 UEs)


def mec_wire_spec():
    """What the mec-offload simulator announces: raw per-device and global report names."""
    from xr_codec_marl.core.registry import get_scenario

    mec = get_scenario("mec")
    settings = mec.make_settings(devices=4, servers=3, episode_limit=5)
    return mec.ns3_glue(mec.env_spec(settings), settings).wire_spec()


#: every handshake and hostility test runs on both scenarios' handshakes, except those whose
#: in-test simulator plays the XR scenario's steps (marked XR_STEPS)
@pytest.fixture(params=["xr", "mec"])
def spec(request):
    return xr_spec(5) if request.param == "xr" else mec_wire_spec()


XR_STEPS = pytest.mark.parametrize("spec", [xr_spec(5)], ids=["xr"])


@pytest.fixture
def server(spec):
    srv = BridgeServer("tcp://127.0.0.1:*", expected_spec=spec, timeout_s=T)
    yield srv
    srv.close()


def poll_until(server, pred, timeout_s=3 * T):
    """Poll until an event satisfies ``pred``; return (that event, all events)."""
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for ev in server.poll(0.05):
            seen.append(ev)
            if pred(ev):
                return ev, seen
    raise AssertionError(f"no matching event within {timeout_s} s; saw {seen}")


def handshake(server, spec, seed=0, identity=None):
    """A simulator socket that has been welcomed (the server polled for it)."""
    sim = SimSocket(server.endpoint, identity)
    sim.send(pb.Envelope(hello=wire.hello_from_spec(spec, seed, send_rewards=False)))
    joined, _ = poll_until(server, lambda e: isinstance(e, Joined))
    reply = sim.recv()
    assert reply.WhichOneof("body") == "welcome"
    assert reply.welcome.session_id == joined.session.session_id
    assert reply.welcome.protocol_version == wire.PROTOCOL_VERSION
    return sim, joined.session


def kpis(spec):
    return np.ones((spec.n_agents, len(spec.kpi_names)))


# --------------------------------------------------------------------------- handshake


@XR_STEPS
def test_handshake_accepts_matching_hello(server, spec):
    sim, session = handshake(server, spec, seed=42)
    assert session.seed == 42 and session.spec.agent_ids == ("AR", "VR", "CG")
    assert session.layout.n_kpis == len(spec.kpi_names)
    sim.close()


def test_handshake_refuses_other_protocol_version(server, spec):
    sim = SimSocket(server.endpoint)
    sim.send(pb.Envelope(hello=wire.hello_from_spec(spec, protocol_version=2)))
    events = server.poll(0.15)
    reply = sim.recv()
    assert reply.WhichOneof("body") == "error"
    assert reply.error.code == Code.CODE_VERSION and reply.error.fatal
    assert "version 2" in reply.error.message and "version 1" in reply.error.message
    assert not any(isinstance(e, Joined) for e in events) and not server.sessions
    sim.close()


def test_handshake_refuses_spec_mismatch_listing_differences(server, spec):
    other = xr_spec(7)
    sim = SimSocket(server.endpoint)
    sim.send(pb.Envelope(hello=wire.hello_from_spec(other)))
    server.poll(0.15)
    reply = sim.recv()
    assert reply.error.code == Code.CODE_SHAPE
    assert "episode_limit 7 != expected 5" in reply.error.message
    assert not server.sessions
    sim.close()


def test_admit_hook_can_refuse(spec):
    with BridgeServer("tcp://127.0.0.1:*", timeout_s=T,
                      admit=lambda hello, s: "only seed 1" if hello.seed != 1 else None) as srv:
        sim = SimSocket(srv.endpoint)
        sim.send(pb.Envelope(hello=wire.hello_from_spec(spec, seed=2)))
        srv.poll(0.15)
        reply = sim.recv()
        assert reply.error.code == Code.CODE_UNEXPECTED and reply.error.message == "only seed 1"
        sim.close()


# --------------------------------------------------------------------------- many sessions


@XR_STEPS
def test_two_simulators_at_once_play_full_episodes(server, spec):
    recs = [[], []]
    sims = [SimThread(server.endpoint, spec, seed=s, record=recs[s]) for s in (0, 1)]
    for s in sims:
        s.start()
    events = serve_until_ended(server, 2)
    assert [s.outcome() for s in sims] == ["closed: episode limit"] * 2
    ended = [e for e in events if isinstance(e, Ended)]
    assert all(e.clean for e in ended)
    assert {e.session.seed for e in ended} == {0, 1}
    assert all(len(r) == spec.episode_limit for r in recs)
    per_session = {}
    for e in events:
        if isinstance(e, StepReceived):
            per_session.setdefault(e.session.session_id, []).append(e.step.step_index)
    assert sorted(per_session.values()) == [list(range(6))] * 2


@XR_STEPS
def test_simulator_killed_mid_episode_truncates_only_its_episode(server, spec):
    """A sim whose socket vanishes after step 1 ends as not clean within the timeout (at once
    if ZeroMQ already saw the disconnect when we answer, else as silent); the other plays on."""
    victim = SimThread(server.endpoint, spec, seed=0, die_after=1)
    healthy = SimThread(server.endpoint, spec, seed=1)
    victim.start()
    healthy.start()
    t0 = time.monotonic()
    events = serve_until_ended(server, 2, timeout_s=4 * T)
    assert time.monotonic() - t0 < T + 1.0
    assert victim.outcome() == "died"
    assert healthy.outcome() == "closed: episode limit"
    ended = {e.session.seed: e for e in events if isinstance(e, Ended)}
    assert not ended[0].clean
    assert "unreachable" in ended[0].reason or "silent for 1 s" in ended[0].reason
    assert ended[1].clean


@XR_STEPS
def test_silent_simulator_is_declared_dead_within_the_timeout(server, spec):
    """A sim that stays connected but stops talking after step 1 ends one timeout later."""
    victim = SimThread(server.endpoint, spec, seed=0, die_after=1, hang_s=1.5 * T)
    healthy = SimThread(server.endpoint, spec, seed=1)
    victim.start()
    healthy.start()
    t0 = time.monotonic()
    events = serve_until_ended(server, 2, timeout_s=3 * T)
    elapsed = time.monotonic() - t0
    assert healthy.outcome() == "closed: episode limit"
    ended = {e.session.seed: e for e in events if isinstance(e, Ended)}
    assert not ended[0].clean and f"silent for {T:g} s" in ended[0].reason
    assert ended[1].clean
    assert T * 0.9 < elapsed < T + 1.0
    assert victim.outcome(4 * T) == "hung"


def test_simulator_reporting_error_ends_its_session(server, spec):
    sim, session = handshake(server, spec)
    sim.send(pb.Envelope(error=pb.Error(code=Code.CODE_ACTION, message="action 11 out of range",
                                        fatal=True)))
    ev, _ = poll_until(server, lambda e: isinstance(e, Ended))
    assert ev.session is session and not ev.clean
    assert "CODE_ACTION" in ev.reason and "action 11 out of range" in ev.reason
    sim.close()


def test_goodbye_mid_episode_is_not_clean(server, spec):
    sim, session = handshake(server, spec)
    sim.send(pb.Envelope(goodbye=pb.Goodbye(session_id=session.session_id, reason="SIGTERM")))
    ev, _ = poll_until(server, lambda e: isinstance(e, Ended))
    assert not ev.clean and "SIGTERM" in ev.reason
    sim.close()


def test_close_session_replies_close_to_next_step(server, spec):
    sim, session = handshake(server, spec)
    server.close_session(session.session_id, "reset")
    sim.send(wire.step_envelope(session.session_id, 0, kpis=kpis(spec)))
    events = server.poll(0.2)
    assert not any(isinstance(e, StepReceived) for e in events)
    reply = sim.recv()
    assert reply.WhichOneof("body") == "close" and reply.close.reason == "reset"
    sim.close()


# --------------------------------------------------------------------------- bad input


@XR_STEPS
def test_garbage_bytes_get_bad_message_error_and_server_keeps_serving(server, spec):
    junk = SimSocket(server.endpoint)
    junk.send_raw(b"\xff\xfe garbage \x00\x01")
    server.poll(0.2)
    reply = junk.recv()
    assert reply.error.code == Code.CODE_BAD_MESSAGE and "not a bridge Envelope" in reply.error.message
    junk.send_raw(b"")  # parses as an empty envelope: no body
    server.poll(0.2)
    assert "without a body" in junk.recv().error.message
    junk.send_raw(b"a", b"b")  # two frames
    server.poll(0.2)
    assert "one frame per message" in junk.recv().error.message
    junk.close()
    sim = SimThread(server.endpoint, spec, seed=9)
    sim.start()
    serve_until_ended(server, 1)
    assert sim.outcome() == "closed: episode limit"


def test_garbage_from_a_session_ends_it_with_clear_reason(server, spec):
    sim, session = handshake(server, spec)
    sim.send_raw(b"\x0a\xff\xff\xff")
    ev, _ = poll_until(server, lambda e: isinstance(e, Ended))
    assert ev.session is session and "CODE_BAD_MESSAGE" in ev.reason
    assert sim.recv().error.code == Code.CODE_BAD_MESSAGE
    sim.close()


@pytest.mark.parametrize("body", ["welcome", "action", "close"])
def test_server_only_messages_from_a_simulator_are_refused(server, body):
    sim = SimSocket(server.endpoint)
    sim.send(pb.Envelope(**{body: getattr(pb, body.capitalize())(session_id="x")}))
    server.poll(0.2)
    reply = sim.recv()
    assert reply.error.code == Code.CODE_UNEXPECTED and body in reply.error.message
    sim.close()


def test_step_before_hello_is_unknown_session(server, spec):
    sim = SimSocket(server.endpoint)
    sim.send(wire.step_envelope("nope", 0, kpis=kpis(spec)))
    server.poll(0.2)
    assert sim.recv().error.code == Code.CODE_UNKNOWN_SESSION
    sim.close()


@XR_STEPS
@pytest.mark.parametrize(
    "fields, message",
    [
        ({"kpis": np.ones(5)}, f"kpis has 5 values, the hello says {KV}"),
        ({"obs": np.ones(4), "kpis": np.ones(KV)}, "obs has 4 values"),
        ({"kpis": np.full(KV, np.nan)}, "non-finite"),
        ({}, "neither observations nor KPIs"),
        ({"kpis": np.ones(KV), "avail_actions": np.zeros(30)}, "no available action"),
    ],
)
def test_step_with_wrong_sizes_is_refused(server, spec, fields, message):
    sim, session = handshake(server, spec)
    sim.send(wire.step_envelope(session.session_id, 0, **fields))
    ev, events = poll_until(server, lambda e: isinstance(e, Ended))
    assert not any(isinstance(e, StepReceived) for e in events)
    assert message in ev.reason
    reply = sim.recv()
    assert reply.error.code == Code.CODE_SHAPE and message in reply.error.message
    sim.close()


def test_wrong_step_index_is_refused(server, spec):
    sim, session = handshake(server, spec)
    sim.send(wire.step_envelope(session.session_id, 3, kpis=kpis(spec)))
    ev, _ = poll_until(server, lambda e: isinstance(e, Ended))
    assert "step index 3, expected 0" in ev.reason
    assert sim.recv().error.code == Code.CODE_UNEXPECTED
    sim.close()


@XR_STEPS
def test_bad_actions_raise_clearly_and_send_nothing(server, spec):
    sim, session = handshake(server, spec)
    avail = np.ones((3, 10), bool)
    avail[1, 4] = False
    sim.send(wire.step_envelope(session.session_id, 0, kpis=kpis(spec), avail_actions=avail))
    poll_until(server, lambda e: isinstance(e, StepReceived))
    sid = session.session_id
    with pytest.raises(WireError, match="2 actions for 3 agents") as exc:
        server.send_action(sid, [0, 1])
    assert exc.value.code == Code.CODE_ACTION and isinstance(exc.value, ValueError)
    with pytest.raises(ValueError, match=r"agent 2: action 10 out of range \[0, 9\]"):
        server.send_action(sid, [0, 1, 10])
    with pytest.raises(ValueError, match="out of range"):
        server.send_action(sid, [-1, 1, 1])
    with pytest.raises(ValueError, match="agent 1: action 4 is not available"):
        server.send_action(sid, [0, 4, 1])
    with pytest.raises(TimeoutError):
        sim.recv(0.2)  # nothing was sent
    assert server.send_action(sid, [9, 3, 0])  # a good one still goes through
    reply = sim.recv()
    assert list(reply.action.actions) == [9, 3, 0] and reply.action.step_index == 0
    sim.close()


def test_two_steps_without_waiting_is_refused(server, spec):
    sim, session = handshake(server, spec)
    sim.send(wire.step_envelope(session.session_id, 0, kpis=kpis(spec)))
    sim.send(wire.step_envelope(session.session_id, 1, kpis=kpis(spec)))
    ev, _ = poll_until(server, lambda e: isinstance(e, Ended))
    assert "before our reply" in ev.reason
    sim.close()


# --------------------------------------------------------------------------- endpoints


@XR_STEPS
def test_ipc_endpoint(spec):
    path = os.path.join(tempfile.mkdtemp(prefix="xrmarl-test-"), "bridge.sock")
    with BridgeServer(f"ipc://{path}", expected_spec=spec, timeout_s=T) as srv:
        assert srv.endpoint == f"ipc://{path}"
        sim = SimThread(srv.endpoint, spec, seed=5)
        sim.start()
        serve_until_ended(srv, 1)
        assert sim.outcome() == "closed: episode limit"


def test_bind_conflict_is_a_clear_error(server):
    with pytest.raises(OSError, match="cannot bind the bridge server to"):
        BridgeServer(server.endpoint)


def test_close_answers_waiting_simulators(spec):
    srv = BridgeServer("tcp://127.0.0.1:*", expected_spec=spec, timeout_s=T)
    sim, session = handshake(srv, spec)
    sim.send(wire.step_envelope(session.session_id, 0, kpis=kpis(spec)))
    poll_until(srv, lambda e: isinstance(e, StepReceived))
    srv.close()
    reply = sim.recv()
    assert reply.close.reason == "server shutting down"
    sim.close()


def test_poll_respects_its_timeout_when_idle(server):
    t0 = time.monotonic()
    assert server.poll(0.2) == []
    assert 0.15 < time.monotonic() - t0 < 0.6


def test_deferred_hello_waits_for_readmit(spec):
    from xr_codec_marl.bridge.server import DEFER

    gate = {"open": False}
    with BridgeServer("tcp://127.0.0.1:*", timeout_s=T,
                      admit=lambda hello, s: None if gate["open"] else DEFER) as srv:
        sim = SimSocket(srv.endpoint)
        sim.send(pb.Envelope(hello=wire.hello_from_spec(spec, seed=3)))
        assert srv.poll(0.2) == [] and not srv.sessions
        with pytest.raises(TimeoutError):
            sim.recv(0.1)  # no answer yet: neither welcome nor refusal
        srv.readmit()  # still closed: stays deferred
        assert srv.poll(0.05) == []
        gate["open"] = True
        srv.readmit()
        joined, _ = poll_until(srv, lambda e: isinstance(e, Joined))
        assert joined.session.seed == 3
        assert sim.recv().welcome.session_id == joined.session.session_id
        sim.close()


@XR_STEPS
def test_req_client_framing_is_kept(spec):
    """A REQ simulator (empty delimiter frame) gets its replies in REQ framing."""
    import zmq

    with BridgeServer("tcp://127.0.0.1:*", expected_spec=spec, timeout_s=T) as srv:
        req = zmq.Context.instance().socket(zmq.REQ)
        req.setsockopt(zmq.LINGER, 0)
        req.connect(srv.endpoint)
        req.send(wire.encode(pb.Envelope(hello=wire.hello_from_spec(spec, seed=8))))
        joined, _ = poll_until(srv, lambda e: isinstance(e, Joined))
        assert req.poll(int(T * 1000)), "no welcome"
        sid = wire.decode(req.recv()).welcome.session_id
        assert sid == joined.session.session_id and joined.session.framing[1:] == (b"",)
        req.send(wire.encode(wire.step_envelope(sid, 0, kpis=kpis(spec))))
        poll_until(srv, lambda e: isinstance(e, StepReceived))
        assert srv.send_action(sid, [1, 2, 3])
        assert req.poll(int(T * 1000)), "no action"
        assert list(wire.decode(req.recv()).action.actions) == [1, 2, 3]
        req.close(0)
