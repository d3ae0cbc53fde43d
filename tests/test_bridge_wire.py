"""The wire codec: generated code matches the contract, fast paths agree with protobuf's own
parser and serializer, and every malformed input is a clear ``WireError``."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xr_codec_marl.bridge import wire
from xr_codec_marl.bridge.wire import Code, WireError, WireLayout
from xr_codec_marl.bridge.proto import bridge_pb2 as pb
from xr_codec_marl.scenarios.xr.kpis import XR_KPI_NAMES
from xr_codec_marl.scenarios.xr.settings import XRScenario

#: per-UE KPIs of the XR spec and the values of a steps kpis (3 UEs)
NK = len(XR_KPI_NAMES)
KV = 3 * NK

ROOT = Path(__file__).resolve().parents[1]
SPEC = XRScenario().env_spec("xr")
LAYOUT = WireLayout.from_spec(SPEC)


# --------------------------------------------------------------------------- generated code


def test_regenerating_the_python_code_gives_the_same_bytes():
    out = subprocess.run([sys.executable, str(ROOT / "proto/generate_python.py"), "--check"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr + out.stdout


def test_generated_code_imports_with_the_installed_runtime_and_names_the_generator():
    import google.protobuf

    head = (ROOT / "xr_codec_marl/bridge/proto/bridge_pb2.py").read_text().splitlines()[:8]
    assert head[0].startswith("# Generated from proto/xrmarl/v1/bridge.proto by grpcio-tools==")
    gencode = next(ln for ln in head if ln.startswith("# Protobuf Python Version:")).split(":")[1]
    gen = tuple(int(x) for x in gencode.strip().split("."))
    runtime = tuple(int(x) for x in google.protobuf.__version__.split(".")[:3])
    assert gen[0] == runtime[0] and gen <= runtime  # the runtime's own rule
    assert pb.DESCRIPTOR.name == "xrmarl/v1/bridge.proto"
    assert wire.PROTOCOL_VERSION == 1


# --------------------------------------------------------------------------- decode


def test_garbage_and_empty_envelopes_are_bad_messages():
    with pytest.raises(WireError, match="not a bridge Envelope") as exc:
        wire.decode(b"\x0a\xff\xff\xff\xff\x0fgarbage")
    assert exc.value.code == Code.CODE_BAD_MESSAGE
    with pytest.raises(WireError, match="without a body"):
        wire.decode(b"")
    with pytest.raises(WireError, match="without a body"):
        wire.decode(b"\xf8\x07\x01")  # only an unknown field


def step_bytes(**fields) -> bytes:
    return wire.encode(wire.step_envelope("0001-abc", 3, 1.5, **fields))


def both_paths(data: bytes, layout: WireLayout = LAYOUT):
    """(fast-path result or None, protobuf-path result); each a WireStep or a WireError."""

    def run(fn):
        try:
            return fn()
        except WireError as err:
            return err

    raw = wire.parse_step_envelope(data)
    fast = None if raw is None else run(lambda: wire.check_step(raw, layout))
    slow = run(lambda: wire.check_step(wire.raw_step_from_pb(wire.decode(data).step), layout))
    return fast, slow


def assert_same(a, b) -> None:
    if isinstance(a, WireError) or isinstance(b, WireError):
        assert isinstance(a, WireError) and isinstance(b, WireError)
        assert (a.code, a.message) == (b.code, b.message)
        return
    for name in ("session_id", "step_index", "sim_time_s", "terminated", "truncated",
                 "truncation_reason"):
        x, y = getattr(a, name), getattr(b, name)
        assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), name
    for name in ("obs", "state", "avail_actions", "rewards", "kpis"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.shape == y.shape and x.dtype == y.dtype, name
            np.testing.assert_array_equal(x, y, err_msg=name)


def test_step_fields_decode_exactly():
    kpis = np.arange(KV, dtype=np.float32).reshape(3, NK) / 7
    obs = np.linspace(0, 1, 15, dtype=np.float32).reshape(3, 5)
    avail = np.ones((3, 10), bool)
    avail[2, 7] = False
    data = step_bytes(obs=obs, state=-np.arange(15), avail_actions=avail, rewards=[1, 0.5, 0],
                      kpis=kpis, truncated=True, truncation_reason="episode_limit")
    fast, slow = both_paths(data)
    assert fast is not None
    assert_same(fast, slow)
    np.testing.assert_array_equal(fast.kpis, kpis)
    np.testing.assert_array_equal(fast.obs, obs)
    np.testing.assert_array_equal(fast.avail_actions, avail)
    assert fast.truncated and fast.truncation_reason == "episode_limit" and fast.step_index == 3


def test_decoded_arrays_are_the_steps_own():
    """Writable (torch and in-place code are happy) and shared with nothing: mutating one step
    changes neither the received bytes' next decoding nor the layout's cached defaults."""
    for avail_fields in ({}, {"avail_actions": np.ones((3, 10))}):
        data = step_bytes(obs=np.ones((3, 5)), kpis=np.ones((3, NK)), **avail_fields)
        a = wire.check_step(wire.parse_step_envelope(data), LAYOUT)
        for arr in (a.obs, a.kpis, a.avail_actions):
            assert arr.flags.writeable
        a.obs[:] = 7
        a.avail_actions[:] = False
        b = wire.check_step(wire.parse_step_envelope(data), LAYOUT)
        assert (b.obs == 1).all() and b.avail_actions.all()


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"kpis": np.ones(5)}, f"step kpis has 5 values, the hello says {KV}"),
        ({"obs": np.ones(4), "kpis": np.ones(KV)}, "step obs has 4 values, the hello says 15"),
        ({"state": np.ones(3), "kpis": np.ones(KV)}, "step state has 3 values"),
        ({"rewards": np.ones(2), "kpis": np.ones(KV)}, "step rewards has 2 values"),
        ({"kpis": np.ones(KV), "avail_actions": np.ones(7)}, "step avail_actions has 7 values"),
        ({"kpis": np.full(KV, np.inf)}, "step kpis contains non-finite values"),
        ({"kpis": np.ones(KV), "state": [np.nan] * 15}, "step state contains non-finite"),
        ({}, "step carries neither observations nor KPIs"),
        ({"kpis": np.ones(KV), "avail_actions": np.zeros(30)}, "an agent has no available"),
    ],
)
def test_bad_steps_are_shape_errors_on_both_paths(fields, message):
    fast, slow = both_paths(step_bytes(**fields))
    assert fast is not None
    assert_same(fast, slow)
    assert isinstance(fast, WireError) and fast.code == Code.CODE_SHAPE
    assert message in fast.message


def test_non_canonical_encodings_fall_back_to_protobuf():
    good = step_bytes(kpis=np.ones(KV))
    # the same kpis as KV unpacked float fields (legal protobuf, never written by protobuf)
    inner = wire.encode(pb.Envelope(step=pb.Step(session_id="0001-abc", step_index=3,
                                                  sim_time_s=1.5)))[2:]
    unpacked = inner + b"".join(b"\x45" + np.float32(1).tobytes() for _ in range(KV))
    data = b"\x1a" + wire._encode_varint(len(unpacked)) + unpacked
    assert wire.parse_step_envelope(data) is None
    assert_same(wire.check_step(wire.raw_step_from_pb(wire.decode(data).step), LAYOUT),
                wire.check_step(wire.parse_step_envelope(good), LAYOUT))
    # kpis split over two packed chunks: protobuf concatenates them
    chunks = [np.ones(n, np.float32).tobytes() for n in (KV // 2, KV - KV // 2)]
    body = b"".join(b"\x42" + bytes([len(c)]) + c for c in chunks)
    data = b"\x1a" + wire._encode_varint(len(inner) + len(body)) + inner + body
    assert wire.parse_step_envelope(data) is None
    assert wire.decode(data).step.kpis == [1.0] * KV
    # an unknown field, trailing bytes, another body: not for the fast path
    assert wire.parse_step_envelope(good + b"\x08\x01") is None
    assert wire.parse_step_envelope(wire.encode(pb.Envelope(goodbye=pb.Goodbye()))) is None
    assert wire.parse_step_envelope(b"\x1a\x05\x0a") is None  # truncated


def test_fields_in_any_order_take_the_fast_path_and_agree():
    """Protobuf accepts fields in any order and bools as any varint; so does the fast path."""
    step = pb.Step(session_id="0001-abc", step_index=300, sim_time_s=2.5, obs=np.ones(15),
                   kpis=np.arange(KV) / 3, truncated=True, truncation_reason="limit")
    parts = []
    for fd, value in reversed(step.ListFields()):  # every field on its own, last field first
        one = pb.Step()
        if fd.is_repeated:
            getattr(one, fd.name).extend(value)
        else:
            setattr(one, fd.name, value)
        parts.append(one.SerializeToString())
    parts.append(b"\x48\x81\x00")  # terminated = true as a two-byte varint
    inner = b"".join(parts)
    data = b"\x1a" + wire._encode_varint(len(inner)) + inner
    assert wire._fields_in_order(data, 3, len(data)) is None  # not the canonical layout ...
    fast, slow = both_paths(data)
    assert fast is not None  # ... yet still the fast path, agreeing with protobuf
    assert_same(fast, slow)
    assert fast.terminated and fast.truncated and fast.step_index == 300


floats = st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True), max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    sid=st.text(max_size=12),
    idx=st.integers(0, 2**64 - 1),
    t=st.floats(allow_nan=False),
    obs=st.one_of(st.just([]), st.lists(st.floats(-1e6, 1e6, width=32), min_size=15,
                                         max_size=15), floats),
    state=st.one_of(st.just([]), floats),
    avail=st.one_of(st.just([]), st.lists(st.booleans(), min_size=30, max_size=30),
                    st.lists(st.booleans(), max_size=31)),
    rewards=st.one_of(st.just([]), st.lists(st.floats(width=32), min_size=3, max_size=3)),
    kpis=st.one_of(st.just([]), st.lists(st.floats(-1e6, 1e6, width=32), min_size=KV,
                                          max_size=KV), floats),
    term=st.booleans(),
    trunc=st.booleans(),
    reason=st.text(max_size=20),
)
def test_fast_step_path_agrees_with_protobuf(sid, idx, t, obs, state, avail, rewards, kpis,
                                             term, trunc, reason):
    env = pb.Envelope(step=pb.Step(
        session_id=sid, step_index=idx, sim_time_s=t, obs=obs, state=state,
        avail_actions=avail, rewards=rewards, kpis=kpis, terminated=term, truncated=trunc,
        truncation_reason=reason))
    data = env.SerializeToString()
    fast, slow = both_paths(data)
    assert fast is not None  # protobuf's own output always takes the fast path
    assert_same(fast, slow)


# --------------------------------------------------------------------------- actions


@settings(max_examples=300, deadline=None)
@given(sid=st.text(max_size=20), idx=st.integers(0, 2**64 - 1),
       actions=st.lists(st.integers(0, 2**32 - 1), max_size=8))
def test_hand_encoded_action_equals_protobuf(sid, idx, actions):
    assert wire.encode_action(sid, idx, actions) == \
        wire.action_envelope(sid, idx, actions).SerializeToString()


def test_check_actions_names_the_problem():
    avail = np.ones((3, 10), bool)
    avail[0, 3] = False
    assert wire.check_actions(np.array([1, 2, 9]), LAYOUT, avail) == [1, 2, 9]
    for acts, msg in (([1, 2], "2 actions for 3 agents"),
                      ([1, 2, 10], "agent 2: action 10 out of range [0, 9]"),
                      ([-1, 2, 3], "agent 0: action -1 out of range"),
                      ([3, 2, 1], "agent 0: action 3 is not available"),
                      (np.array([1.5, 2, 3]), "actions must be integer indices")):
        with pytest.raises(WireError, match=re.escape(msg)) as exc:
            wire.check_actions(acts, LAYOUT, avail)
        assert exc.value.code == Code.CODE_ACTION


# --------------------------------------------------------------------------- hello


def test_hello_round_trip_and_checks():
    hello = wire.hello_from_spec(SPEC, seed=4, run=2, parameters={"ring_m": "400"})
    got = wire.spec_from_hello(wire.decode(wire.encode(pb.Envelope(hello=hello))).hello)
    assert got == SPEC and got.extra["ring_m"] == "400" and got.extra["seed"] == 4
    wire.check_hello(hello, SPEC)
    with pytest.raises(WireError, match="version 3 is not supported") as exc:
        wire.check_hello(wire.hello_from_spec(SPEC, protocol_version=3))
    assert exc.value.code == Code.CODE_VERSION
    bad = wire.hello_from_spec(SPEC)
    bad.agents[1].n_actions = 0
    bad.step_interval_s = 0
    with pytest.raises(WireError, match="agent 'VR' has no actions.*step_interval_s must be > 0"):
        wire.check_hello(bad)
    other = XRScenario(n_rates=5, episode_limit=9).env_spec("xr")
    with pytest.raises(WireError) as exc:
        wire.check_hello(wire.hello_from_spec(other), SPEC)
    assert exc.value.code == Code.CODE_SHAPE
    assert "agent AR n_actions 5 != expected 10" in exc.value.message
    assert "episode_limit 9 != expected 40" in exc.value.message
    wire.check_hello(wire.hello_from_spec(SPEC, send_rewards=False), SPEC)  # raw KPIs: fine
