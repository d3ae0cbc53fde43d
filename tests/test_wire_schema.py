"""The hand-written parts of the Python codec cover the whole schema.

The codec reads ``Step`` and writes ``Action`` by hand (the hot path), and maps ``Hello`` to
an ``EnvSpec`` and back by hand. These tests walk the protobuf descriptors, so a field added
to ``proto/xrmarl/v1/bridge.proto`` but not to those hand-written paths (or the other way
round) fails here, naming the field:

- every ``Step`` field, alone and all together with random values, serialized by protobuf
  and read by the fast path (``parse_step_envelope``), gives what protobuf's own parser gives;
- every ``Action`` field is written by ``encode_action`` (random values, parsed back by
  protobuf, byte-identical to protobuf's serialization);
- a ``Hello`` with every field of every nested message set survives Hello -> EnvSpec -> Hello.
"""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf.descriptor import FieldDescriptor as FD

from xr_codec_marl.bridge import wire
from xr_codec_marl.bridge.proto import bridge_pb2 as pb

#: Fields of ``Step`` deliberately not on the fast path (it then falls back to protobuf).
STEP_FIELDS_NOT_ON_FAST_PATH: set[str] = set()
#: Fields of ``Action`` deliberately not written by ``encode_action``.
ACTION_FIELDS_NOT_ON_FAST_PATH: set[str] = set()


def random_value(fd, rng: np.random.Generator, n: int = 7):
    """A random non-default value for a scalar or repeated scalar field."""
    def one():
        t = fd.type
        if t in (FD.TYPE_FLOAT,):
            return float(np.float32(rng.normal() * 100))
        if t == FD.TYPE_DOUBLE:
            return float(rng.normal() * 1e6)
        if t in (FD.TYPE_UINT32,):
            return int(rng.integers(1, 2**32))
        if t in (FD.TYPE_UINT64,):
            return int(rng.integers(1, 2**63)) * 2 - 1
        if t == FD.TYPE_BOOL:
            return bool(rng.integers(0, 2))
        if t == FD.TYPE_STRING:
            return "".join(rng.choice(list("abcé✓-_ 0"), int(rng.integers(1, 12))))
        raise AssertionError(f"no random value for {fd.full_name} (type {t}): extend the test")

    if fd.is_repeated:
        vals = [one() for _ in range(n)]
        if fd.type == FD.TYPE_BOOL:
            vals[0], vals[1] = True, False  # not all true: the fast path keeps the flags
        return vals
    v = one()
    return True if fd.type == FD.TYPE_BOOL else v


def step_with(rng, names) -> pb.Step:
    step = pb.Step()
    for fd in pb.Step.DESCRIPTOR.fields:
        if fd.name in names:
            v = random_value(fd, rng)
            if fd.is_repeated:
                getattr(step, fd.name).extend(v)
            else:
                setattr(step, fd.name, v)
    return step


def raw_fields(raw: wire.RawStep) -> dict[str, object]:
    """What a RawStep says about every Step field, by field name (plain Python values)."""
    out: dict[str, object] = {}
    for name in wire.FAST_STEP_FIELDS.values():
        if name == "avail_actions":
            out[name] = ([True] * raw.n_avail if raw.avail_actions is None
                         else raw.avail_actions.tolist())
        else:
            v = getattr(raw, name)
            out[name] = v.tolist() if isinstance(v, np.ndarray) else v
    return out


def test_fast_step_path_field_table_is_the_schema():
    schema = {fd.number: fd.name for fd in pb.Step.DESCRIPTOR.fields
              if fd.name not in STEP_FIELDS_NOT_ON_FAST_PATH}
    assert wire.FAST_STEP_FIELDS == schema
    assert wire._ARRAY_FIELDS == {fd.number for fd in pb.Step.DESCRIPTOR.fields
                                   if fd.is_repeated}


@pytest.mark.parametrize("field", [fd.name for fd in pb.Step.DESCRIPTOR.fields])
def test_every_step_field_alone_takes_the_fast_path(field):
    rng = np.random.default_rng(abs(hash(field)) % 2**32)
    step = step_with(rng, {field})
    assert step.ListFields(), f"{field} was not set"
    data = pb.Envelope(step=step).SerializeToString()
    fast = wire.parse_step_envelope(data)
    if field in STEP_FIELDS_NOT_ON_FAST_PATH:
        assert fast is None
        return
    assert fast is not None, f"the fast path does not read Step.{field}"
    slow = wire.raw_step_from_pb(wire.decode(data).step)
    assert raw_fields(fast) == raw_fields(slow)
    want = getattr(step, field)
    assert raw_fields(fast)[field] == (list(want) if step.DESCRIPTOR.fields_by_name[field]
                                       .is_repeated else want)


@pytest.mark.parametrize("seed", range(20))
def test_every_step_field_together_agrees_with_protobuf(seed):
    rng = np.random.default_rng(seed)
    names = {fd.name for fd in pb.Step.DESCRIPTOR.fields}
    if seed % 2:  # and random subsets
        names = {n for n in names if rng.random() < 0.5}
    step = step_with(rng, names)
    data = pb.Envelope(step=step).SerializeToString()
    fast = wire.parse_step_envelope(data)
    assert fast is not None
    assert raw_fields(fast) == raw_fields(wire.raw_step_from_pb(wire.decode(data).step))
    # protobuf's own layout takes the straight-line reader, not only the any-order fallback
    start = 2 if data[1] < 0x80 else wire._varint(data, 1)[1]
    assert wire._fields_in_order(data, start, len(data)) is not None


def test_fast_action_encoder_field_table_is_the_schema():
    schema = {fd.number: fd.name for fd in pb.Action.DESCRIPTOR.fields
              if fd.name not in ACTION_FIELDS_NOT_ON_FAST_PATH}
    assert wire.FAST_ACTION_FIELDS == schema


@pytest.mark.parametrize("seed", range(20))
def test_every_action_field_is_written_by_the_fast_encoder(seed):
    rng = np.random.default_rng(seed)
    kwargs = {}
    for fd in pb.Action.DESCRIPTOR.fields:
        if fd.name in ACTION_FIELDS_NOT_ON_FAST_PATH:
            continue
        v = random_value(fd, rng, n=int(rng.integers(1, 9)))
        kwargs[fd.name] = v if seed % 3 else (type(v)() if not isinstance(v, str) else "")
        if seed % 3 and fd.name == "actions":
            kwargs[fd.name] = [x % 200 for x in v]  # one-byte and multi-byte varints
    data = wire.encode_action(**kwargs)
    assert data == wire.action_envelope(**kwargs).SerializeToString()
    got = wire.decode(data).action
    for name, v in kwargs.items():
        assert (list(getattr(got, name)) if isinstance(v, list) else getattr(got, name)) == v


# --------------------------------------------------------------------------- Hello <-> EnvSpec


def full_hello() -> pb.Hello:
    """A hello with every field of Hello, AgentInfo, ActionHead and ContinuousDim set."""
    hybrid = pb.AgentInfo(
        id="MEC0", kind="device", obs_size=6, n_actions=8,
        heads=[pb.ActionHead(name="server", n=4, values=[0, 1, 2, 3], ordered=False,
                             labels=["local", "s1", "s2", "s3"]),
               pb.ActionHead(name="level", n=2, values=[0.5, 1.5], ordered=True,
                             labels=["lo", "hi"])],
        continuous=[pb.ContinuousDim(name="offload", low=0.0, high=1.0, unit="1"),
                    pb.ContinuousDim(name="power", low=-10.0, high=23.0, unit="dBm")],
    )
    discrete = pb.AgentInfo(id="UE1", kind="xr", obs_size=5, n_actions=3,
                            action_values=[2.0, 4.0, 8.0], actions_ordered=False,
                            action_labels=["low", "mid", "high"])
    return pb.Hello(
        protocol_version=wire.PROTOCOL_VERSION, scenario="full", seed=11, run=3,
        agents=[hybrid, discrete], state_size=7, reward_components=["a", "b"],
        kpi_names=["delay_ms", "plr"], step_interval_s=0.25, episode_limit=9,
        parameters={"servers": "3"}, global_kpi_names=["energy_j", "fairness"],
    )


def _set_fields(msgs) -> set[str]:
    return {fd.name for m in msgs for fd, _ in m.ListFields()}


def test_the_full_hello_sets_every_field_of_the_schema():
    """Keeps the round trip below honest: a new field must be set (and mapped) there."""
    h = full_hello()
    heads = [x for a in h.agents for x in a.heads]
    dims = [x for a in h.agents for x in a.continuous]
    for msgs, desc in (([h], pb.Hello.DESCRIPTOR), (list(h.agents), pb.AgentInfo.DESCRIPTOR),
                       (heads, pb.ActionHead.DESCRIPTOR), (dims, pb.ContinuousDim.DESCRIPTOR)):
        missing = {fd.name for fd in desc.fields} - _set_fields(msgs)
        # ordered=False / low=0 are proto3 defaults and so never "set": they are covered by
        # the other element of the list
        assert not missing, f"{desc.name}: set {sorted(missing)} in full_hello()"


def test_hello_to_spec_and_back_keeps_every_field():
    h = full_hello()
    wire.check_hello(h)
    spec = wire.spec_from_hello(h)
    again = wire.hello_from_spec(spec, seed=spec.extra["seed"], run=spec.extra["run"],
                                  parameters={"servers": spec.extra["servers"]})
    assert again == h
    wire.check_hello(again, spec)
