"""The wire contract grows additively: v1 peers and the new fields live together.

``tests/data/bridge_v1_base.proto`` is a frozen copy of the schema before the additions (the
first v1). It is compiled here (grpcio-tools' protoc) into its own descriptor pool, so a "v1
simulator" builds and parses its messages with exactly the classes such a simulator had:

(a) a v1 client plays whole episodes against the new server (``Ns3Env`` and a plain serve
    loop), with rule actions;
(b) a new client with a hybrid action space, global KPIs and per-agent rewards round-trips
    them through the server (and ``Ns3Env``);
(c) whatever the new server sends a v1 client parses with the v1 classes (a v1 parser skips
    the fields it does not know), and the new schema keeps every v1 field as it was.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, unknown_fields
from test_bridge_fakesim import T, fake_kpis, xr_spec

from xr_codec_marl.bridge import wire
from xr_codec_marl.bridge.wire import Code, WireError
from xr_codec_marl.bridge.proto import bridge_pb2 as pb
from xr_codec_marl.bridge.server import BridgeServer, Ended, Joined, StepReceived
from xr_codec_marl.baselines.rules import FixedPolicy
from xr_codec_marl.core.api import AgentSpec, EnvSpec, HybridActions
from xr_codec_marl.core.spaces import ContinuousDim, DiscreteSpace, HybridSpace
from xr_codec_marl.env.ns3_env import Ns3Env
from xr_codec_marl.scenarios.xr.aps import APSPolicy
from xr_codec_marl.scenarios.xr.ns3 import xr_ns3_env
from xr_codec_marl.scenarios.xr.settings import XRScenario

V1_PROTO = Path(__file__).with_name("data") / "bridge_v1_base.proto"


class V1:
    """The message classes of the v1 schema (``V1.Envelope`` ...), from their own pool."""

    def __init__(self) -> None:
        pytest.importorskip("grpc_tools")
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "xrmarl/v1").mkdir(parents=True)
            (root / "xrmarl/v1/bridge.proto").write_text(V1_PROTO.read_text())
            out = root / "v1.desc"
            rc = subprocess.run(
                [sys.executable, "-m", "grpc_tools.protoc", f"-I{root}",
                 f"--descriptor_set_out={out}", "xrmarl/v1/bridge.proto"],
                capture_output=True, text=True, timeout=60, check=False)
            assert rc.returncode == 0, rc.stderr
            fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
        self.file_proto = fds.file[0]
        self.pool = descriptor_pool.DescriptorPool()
        fd = self.pool.Add(self.file_proto)
        for name in fd.message_types_by_name:
            setattr(self, name, message_factory.GetMessageClass(
                self.pool.FindMessageTypeByName(f"xrmarl.v1.{name}")))
        self.CURRENT = 1


@pytest.fixture(scope="module")
def v1() -> V1:
    return V1()


def v1_hello(v1: V1, spec: EnvSpec, seed: int, send_rewards: bool) -> object:
    """What a v1 simulator announced: v1 fields only, from the v1 classes."""
    return v1.Hello(
        protocol_version=v1.CURRENT, scenario=spec.name, seed=seed, run=1,
        agents=[v1.AgentInfo(id=a.agent_id, kind=a.kind, obs_size=a.obs_size,
                             n_actions=a.n_actions, action_values=list(a.action_values))
                for a in spec.agents],
        state_size=spec.state_size,
        reward_components=list(spec.reward_components) if send_rewards else [],
        kpi_names=list(spec.kpi_names), step_interval_s=spec.step_interval_s,
        episode_limit=spec.episode_limit, parameters={"v1": "yes"})


def v1_episode(v1: V1, endpoint: str, spec: EnvSpec, seed: int, record: list,
               raw_kpis: bool = True) -> str:
    """One episode as a v1 simulator: every message built and parsed with the v1 classes."""
    import zmq

    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)

    def recv():
        if not sock.poll(int(5 * T * 1000)):
            raise TimeoutError("no reply")
        env = v1.Envelope()
        env.ParseFromString(sock.recv())
        # a v1 parser keeps what it does not know as unknown fields: nothing it can misread
        return env

    rng = np.random.default_rng(seed)
    n = spec.n_agents
    try:
        sock.send(v1.Envelope(hello=v1_hello(v1, spec, seed, not raw_kpis)).SerializeToString())
        reply = recv()
        if reply.WhichOneof("body") != "welcome":
            return f"refused: {reply.error.message}"
        sid = reply.welcome.session_id
        rates = np.array([a.action_values[-1] for a in spec.agents])
        for t in range(spec.episode_limit + 1):
            last = t == spec.episode_limit
            step = v1.Step(session_id=sid, step_index=t, sim_time_s=0.5 * t,
                           kpis=fake_kpis(spec, rng, rates).astype(np.float32).ravel().tolist(),
                           avail_actions=[True] * (n * spec.n_actions),
                           truncated=last, truncation_reason="episode_limit" if last else "")
            if not raw_kpis:
                step.obs.extend(rng.uniform(0, 1, n * spec.obs_size).tolist())
                step.state.extend(rng.uniform(0, 1, spec.state_size).tolist())
                step.rewards.extend(rng.uniform(0, 1, spec.n_components).tolist())
            sock.send(v1.Envelope(step=step).SerializeToString())
            reply = recv()
            kind = reply.WhichOneof("body")
            if kind == "close":
                sock.send(v1.Envelope(goodbye=v1.Goodbye(session_id=sid, reason="done"))
                          .SerializeToString())
                return f"closed: {reply.close.reason}"
            if kind != "action":
                return f"{kind}: {reply.error.message if kind == 'error' else ''}"
            acts = list(reply.action.actions)
            assert reply.action.step_index == t and len(acts) == n
            # a discrete session's action carries no new field at all
            assert len(unknown_fields.UnknownFieldSet(reply.action)) == 0
            record.append((t, acts, reply.SerializeToString()))
            rates = np.array([spec.agents[i].action_values[a] for i, a in enumerate(acts)])
        return "no close"
    finally:
        sock.close(0)


class Thread(threading.Thread):
    def __init__(self, fn, *args, **kw) -> None:
        super().__init__(daemon=True)
        self.fn, self.args, self.kw, self.result = fn, args, kw, None

    def run(self) -> None:
        try:
            self.result = self.fn(*self.args, **self.kw)
        except BaseException as exc:  # noqa: BLE001 - checked by the test
            self.result = exc

    def outcome(self):
        self.join(10 * T)
        assert not self.is_alive(), "simulator thread hung"
        return self.result


# --------------------------------------------------------------------------- (c) the schema


def test_new_schema_keeps_every_v1_field_unchanged(v1):
    """Additive growth: every v1 message, field, number, type and label is still there."""
    new = descriptor_pb2.FileDescriptorProto()
    pb.DESCRIPTOR.CopyToProto(new)
    new_msgs = {m.name: m for m in new.message_type}
    for old in v1.file_proto.message_type:
        assert old.name in new_msgs, f"message {old.name} was removed"
        fields = {f.number: f for f in new_msgs[old.name].field}
        for f in old.field:
            g = fields.get(f.number)
            assert g is not None, f"{old.name}.{f.name} (#{f.number}) was removed"
            assert (g.name, g.type, g.label, g.type_name) == \
                (f.name, f.type, f.label, f.type_name), f"{old.name}.{f.name} changed"
            assert g.HasField("oneof_index") == f.HasField("oneof_index")
    old_enums = {e.name: e for e in v1.file_proto.enum_type}
    assert {(v.name, v.number) for v in old_enums["ProtocolVersion"].value} <= \
        {(v.name, v.number) for e in new.enum_type for v in e.value}
    assert wire.PROTOCOL_VERSION == 1


def test_v1_classes_parse_new_messages_with_every_new_field(v1):
    """The new server's Action (continuous values) and a new simulator's Hello/Step (action
    spaces, global KPIs, per-agent rewards) parse with the v1 classes, old fields intact."""
    cont = [0.25, -3.0, 0.0, 0.0]
    data = wire.encode_action("0001-abc", 7, [5, 2], cont)
    old = v1.Envelope()
    old.ParseFromString(data)
    assert old.WhichOneof("body") == "action"
    assert (old.action.session_id, old.action.step_index, list(old.action.actions)) == \
        ("0001-abc", 7, [5, 2])
    assert [f.field_number for f in unknown_fields.UnknownFieldSet(old.action)] == [4]
    # ... kept as unknown and written back unchanged: a v1 relay would not lose them
    assert old.SerializeToString() == data
    spec = hybrid_spec()
    hello_bytes = pb.Envelope(hello=wire.hello_from_spec(spec, seed=3)).SerializeToString()
    old.ParseFromString(hello_bytes)
    assert [a.n_actions for a in old.hello.agents] == [6, 3]
    assert list(old.hello.kpi_names) == list(spec.kpi_names)
    step = wire.step_envelope("s", 2, 1.0, kpis=np.ones(4), global_kpis=[1, 2],
                               agent_rewards=np.ones((2, 2)))
    old.ParseFromString(step.SerializeToString())
    assert list(old.step.kpis) == [1.0] * 4 and old.step.step_index == 2


def test_a_discrete_spec_announces_a_v1_shaped_hello(v1):
    """Spaces a v1 peer can express (discrete, ordered iff it has values, no labels) put no
    new field in the hello: byte for byte what the v1 schema writes."""
    spec = xr_spec(4)
    new = wire.hello_from_spec(spec, seed=5, run=1, parameters={"v1": "yes"})
    old = v1_hello(v1, spec, 5, send_rewards=True)
    assert new.SerializeToString(deterministic=True) == old.SerializeToString(deterministic=True)
    got = wire.spec_from_hello(pb.Hello.FromString(old.SerializeToString()))
    assert got == spec
    assert all(isinstance(a.space, DiscreteSpace) and a.space.ordered for a in got.agents)


# --------------------------------------------------------------------------- (a) v1 clients


def test_v1_client_plays_whole_episodes_against_the_new_ns3_env_with_a_rule(v1):
    settings = XRScenario(episode_limit=5)
    env = xr_ns3_env(settings, workers=2, launch=False, endpoint="tcp://127.0.0.1:*",
                     timeout_s=T, connect_timeout_s=5 * T)
    try:
        policy = APSPolicy(env.spec)
        for episode in range(2):
            records: list[list] = [[], []]
            sims = [Thread(v1_episode, v1, env.endpoint, env.spec, 10 * episode + i,
                           records[i]) for i in range(2)]
            for s in sims:
                s.start()
            step = env.reset()
            policy.reset(2, seed=episode)
            for t in range(1, settings.episode_limit + 1):
                step = env.step(policy.act(step))
                assert step.info["measured"].all()
                assert "global_kpis" not in step.info  # the XR spec declares none
            assert step.truncated.all() and step.info["truncation_reason"] == ["time limit"] * 2
            assert [s.outcome() for s in sims] == ["closed: episode_limit"] * 2
            assert [len(r) for r in records] == [settings.episode_limit] * 2
    finally:
        env.close()


def test_v1_client_with_its_own_obs_and_rewards_against_a_serve_loop(v1):
    spec = xr_spec(4)
    policy = FixedPolicy(spec, "max")
    record: list = []
    with BridgeServer("tcp://127.0.0.1:*", expected_spec=spec, timeout_s=T) as server:
        sim = Thread(v1_episode, v1, server.endpoint, spec, 3, record, raw_kpis=False)
        sim.start()
        events = serve(server, lambda ev: policy.act(obs_of(ev))[0])
        assert sim.outcome() == "closed: episode_limit"
    steps = [e.step for e in events if isinstance(e, StepReceived)]
    assert len(steps) == 5 and all(s.global_kpis is None and s.agent_rewards is None
                                   for s in steps)
    assert steps[1].rewards.shape == (3,) and steps[1].obs.shape == (3, 5)
    assert [acts for _, acts, _ in record] == [[9, 9, 9]] * 4
    assert events[-1].clean


def obs_of(ev: StepReceived):
    from xr_codec_marl.core.api import Observation

    return Observation(None, None, ev.step.avail_actions[None])


def serve(server: BridgeServer, act, continuous=None, sessions: int = 1) -> list:
    events: list = []
    ended = 0
    deadline = time.monotonic() + 10 * T
    while ended < sessions:
        assert time.monotonic() < deadline, "sessions did not end in time"
        for ev in server.poll(0.05):
            events.append(ev)
            if isinstance(ev, StepReceived) and not ev.step.done:
                if continuous is None:
                    server.send_action(ev.session.session_id, act(ev))  # the v1 call
                else:
                    server.send_action(ev.session.session_id, act(ev), continuous(ev))
            elif isinstance(ev, Ended):
                ended += 1
    return events


# --------------------------------------------------------------------------- (b) new clients


def hybrid_spec(limit: int = 4) -> EnvSpec:
    hy = HybridSpace(
        heads=(DiscreteSpace(3, name="server", labels=("local", "s1", "s2")),
               DiscreteSpace(2, (0.5, 1.0), ordered=True, name="level")),
        continuous=(ContinuousDim("offload", 0.0, 1.0), ContinuousDim("power", -10, 23, "dBm")))
    return EnvSpec(
        "hybrid-test",
        (AgentSpec("D0", "device", 3, 6, (), hy),
         AgentSpec("D1", "device", 3, 3, (1.0, 2.0, 4.0),
                   DiscreteSpace(3, (1.0, 2.0, 4.0), ordered=False, labels=("a", "b", "c")))),
        state_size=4, reward_components=("latency", "energy"), kpi_names=("delay_ms", "plr"),
        step_interval_s=0.1, episode_limit=limit, global_kpi_names=("energy_j", "fairness"))


def new_episode(endpoint: str, spec: EnvSpec, seed: int, record: list) -> str:
    """A new simulator: hybrid spaces in its hello, global KPIs and per-agent rewards in its
    steps (some steps without global KPIs: not measured), continuous values read back."""
    from test_bridge_fakesim import SimSocket

    sim = SimSocket(endpoint)
    n, c = spec.n_agents, spec.n_components
    try:
        reply = sim.hello(spec, seed)
        if reply.WhichOneof("body") != "welcome":
            return f"refused: {reply.error.message}"
        sid = reply.welcome.session_id
        for t in range(spec.episode_limit + 1):
            last = t == spec.episode_limit
            sim.send(wire.step_envelope(
                sid, t, 0.1 * t, obs=np.full((n, 3), t), state=np.arange(4) + t,
                rewards=[t, -t], kpis=np.arange(4) * t,
                global_kpis=[] if t == 2 else [10.0 + t, 0.5],
                agent_rewards=np.arange(n * c).reshape(n, c) + 100 * t,
                truncated=last, truncation_reason="episode_limit" if last else ""))
            reply = sim.recv(5 * T)
            kind = reply.WhichOneof("body")
            if kind == "close":
                sim.send(pb.Envelope(goodbye=pb.Goodbye(session_id=sid)))
                return f"closed: {reply.close.reason}"
            if kind != "action":
                return f"{kind}: {reply.error.message}"
            record.append((t, list(reply.action.actions), list(reply.action.continuous)))
        return "no close"
    finally:
        sim.close()


def test_new_client_round_trips_hybrid_actions_global_kpis_and_agent_rewards():
    spec = hybrid_spec()
    record: list = []
    with BridgeServer("tcp://127.0.0.1:*", expected_spec=spec, timeout_s=T) as server:
        sim = Thread(new_episode, server.endpoint, spec, 1, record)
        sim.start()
        events = serve(
            server, lambda ev: [ev.step.step_index % 6, 2],
            lambda ev: [[0.1 * ev.step.step_index, 20.0], [np.nan, 0]])  # D1 has no dims
        assert sim.outcome() == "closed: episode_limit"
    joined = events[0]
    assert isinstance(joined, Joined) and joined.session.spec == spec
    assert joined.session.spec.agents[0].space.heads[0].labels == ("local", "s1", "s2")
    steps = [e.step for e in events if isinstance(e, StepReceived)]
    for ws in steps:
        t = ws.step_index
        if t == 2:
            assert ws.global_kpis is None
        else:
            np.testing.assert_array_equal(ws.global_kpis, [10.0 + t, 0.5])
        np.testing.assert_array_equal(ws.agent_rewards, np.arange(4).reshape(2, 2) + 100 * t)
        assert ws.agent_rewards.dtype == np.float32
    assert [(t, a) for t, a, _ in record] == [(t, [t % 6, 2]) for t in range(4)]
    for t, _, cont in record:  # row-major [N, D], the discrete agent's columns zeroed
        assert cont == [0.1 * t, 20.0, 0.0, 0.0]


def test_send_action_checks_continuous_values_against_the_handshake():
    spec = hybrid_spec()
    got: list = []
    with BridgeServer("tcp://127.0.0.1:*", expected_spec=spec, timeout_s=T) as server:
        sim = Thread(new_episode, server.endpoint, spec, 1, [])
        sim.start()
        deadline = time.monotonic() + 5 * T
        while not got:
            assert time.monotonic() < deadline
            got = [e for e in server.poll(0.05) if isinstance(e, StepReceived)]
        sid = got[0].session.session_id
        for cont, msg in ((None, "2 continuous action dimensions: send their values"),
                          ([[0.5, 0]], "expected [2, 2]"),
                          ([[1.5, 0], [0, 0]], "agent 0: continuous value 1.5 of dimension 0 "
                                               "is not within [0, 1]"),
                          ([[0.5, np.inf], [0, 0]], "value inf of dimension 1"),
                          ([["x", 0], [0, 0]], "must be numbers")):
            with pytest.raises(WireError, match=msg.replace("[", r"\[").replace("]", r"\]")) \
                    as exc:
                server.send_action(sid, [0, 0], cont)
            assert exc.value.code == Code.CODE_ACTION
        assert server.send_action(sid, [0, 0], np.zeros((2, 2)))
        server.close_session(sid, "test over")
        serve(server, lambda ev: [0, 0], lambda ev: np.zeros((2, 2)))
        sim.outcome()


def test_discrete_sessions_refuse_continuous_values():
    layout = wire.WireLayout.from_spec(xr_spec())
    assert wire.check_continuous(None, layout) == []
    assert wire.check_continuous(np.zeros((3, 0)), layout) == []
    with pytest.raises(WireError, match="3 continuous action values for agents without"):
        wire.check_continuous([1, 2, 3], layout)


def test_ns3_env_steps_hybrid_actions_and_reports_global_kpis_and_agent_rewards():
    spec = hybrid_spec()
    records: list[list] = [[], []]
    env = Ns3Env(spec, workers=2, launch=False, endpoint="tcp://127.0.0.1:*", timeout_s=T,
                 connect_timeout_s=5 * T)
    try:
        sims = [Thread(new_episode, env.endpoint, spec, i, records[i]) for i in range(2)]
        for s in sims:
            s.start()
        first = env.reset()
        assert first.info["global_kpis"].shape == (2, 2)
        np.testing.assert_array_equal(first.info["global_kpis"], [[10, 0.5]] * 2)
        with pytest.raises(ValueError, match="continuous action dimensions"):
            env.step(np.zeros((2, 2), np.int64))  # hybrid agents need HybridActions
        for t in range(1, spec.episode_limit + 1):
            cont = np.zeros((2, 2, 2))
            cont[:, 0] = [0.25 * (t % 4), -10.0]
            res = env.step(HybridActions(np.full((2, 2), [t % 6, 1]), cont))
            g = res.info["global_kpis"]
            assert g.shape == (2, 2) and g.dtype == np.float32
            np.testing.assert_array_equal(g, [[0, 0]] * 2 if t == 2 else [[10.0 + t, 0.5]] * 2)
            r = res.info["agent_rewards"]  # the simulators' per-agent rewards, [B, N, C]
            n, c = spec.n_agents, spec.n_components
            np.testing.assert_array_equal(r, [np.arange(n * c).reshape(n, c) + 100 * t] * 2)
        assert res.truncated.all()
    finally:
        env.close()
    for s in sims:
        assert str(s.outcome()).startswith("closed:")
    for rec in records:
        assert [(a, c) for _, a, c in rec] == [
            ([t % 6, 1], [0.25 * (t % 4), -10.0, 0.0, 0.0]) for t in range(1, 5)]


# --------------------------------------------------------------------------- hello checks


@pytest.mark.parametrize("mutate, message", [
    (lambda h: setattr(h.agents[0], "n_actions", 5), "n_actions 5 is not the product of its "
                                                     "heads (3x2 = 6)"),
    (lambda h: h.agents[0].action_values.append(1.0), "hybrid action space takes no "
                                                      "action_values"),
    (lambda h: setattr(h.agents[0], "actions_ordered", True), "takes no actions_ordered"),
    (lambda h: setattr(h.agents[0].continuous[1], "low", 99.0), "continuous dimension 1 "
                                                               "('power') needs finite low"),
    (lambda h: setattr(h.agents[0].heads[1], "n", 0), "head 1 ('level') has no choices"),
    (lambda h: h.agents[0].heads[0].labels.append("s3"), "4 action labels for 3 actions"),
    (lambda h: h.agents[1].action_labels.pop(), "agent 'D1': 2 action labels for 3 actions"),
])
def test_inconsistent_action_spaces_are_shape_errors(mutate, message):
    hello = wire.hello_from_spec(hybrid_spec())
    mutate(hello)
    with pytest.raises(WireError) as exc:
        wire.check_hello(hello)
    assert exc.value.code == Code.CODE_SHAPE
    assert message in exc.value.message


def test_limits_bound_the_new_sizes():
    hello = wire.hello_from_spec(hybrid_spec())
    hello.global_kpi_names.extend(["g"] * wire.LIMITS.global_kpis)
    a = hello.agents[0]
    a.continuous.extend([pb.ContinuousDim(low=0, high=1)] * wire.LIMITS.continuous_dims)
    a.heads.extend([pb.ActionHead(n=1)] * wire.LIMITS.action_heads)
    with pytest.raises(WireError) as exc:
        wire.check_hello(hello)
    for what in ("global KPI names 258, the limit is 256", "continuous dimensions 258",
                 "action heads 66, the limit is 64"):
        assert what in exc.value.message


def test_spec_differences_cover_action_spaces_and_global_kpis():
    spec = hybrid_spec()
    other = EnvSpec(spec.name, (
        AgentSpec("D0", "device", 3, 6, (), HybridSpace(
            heads=(DiscreteSpace(3, name="server"), DiscreteSpace(2, ordered=True, name="lvl")),
            continuous=(ContinuousDim("offload", 0, 1), ContinuousDim("power", -10, 20, "dBm")))),
        AgentSpec("D1", "device", 3, 3, (1.0, 2.0, 4.0))),  # ordered (the v1 default)
        spec.state_size, spec.reward_components, spec.kpi_names, spec.step_interval_s,
        spec.episode_limit, global_kpi_names=("energy_j",))
    diffs = wire.spec_differences(other, spec)
    text = "; ".join(diffs)
    assert "agent D0 head 1 name 'lvl' != expected 'level'" in text
    assert "agent D0 continuous dimension 1 'power' [-10, 20]" in text
    assert "agent D1 actions ordered True != expected False" in text
    assert "global_kpi_names ['energy_j'] != expected ['energy_j', 'fairness']" in text
    discrete = EnvSpec(spec.name, (AgentSpec("D0", "device", 3, 6), spec.agents[1]),
                       spec.state_size, spec.reward_components, spec.kpi_names,
                       spec.step_interval_s, spec.episode_limit, global_kpi_names=("energy_j",
                                                                                   "fairness"))
    assert wire.spec_differences(discrete, spec) == [
        "agent D0 action space discrete(6) != expected hybrid(3x2 + 2 continuous)"]
    # a v1 simulator that leaves its action values out cannot say whether they are ordered
    v1ish = EnvSpec(spec.name, (spec.agents[0], AgentSpec("D1", "device", 3, 3)),
                    spec.state_size, (), spec.kpi_names, spec.step_interval_s,
                    spec.episode_limit, global_kpi_names=spec.global_kpi_names)
    assert wire.spec_differences(v1ish, spec) == []
