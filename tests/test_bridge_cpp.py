"""Both sides of the wire agree: the C++ probe (ns3_scenarios/bridge) against our Python server.

The probe is built by ``build_ns3()`` (incremental; a no-op when up to date). Its synthetic
step ``t`` carries exact float32 values (see its ``--help``), so the Python side can check every
field it decoded, and the probe checks every action it receives.
"""

from __future__ import annotations

import json
import subprocess
import time

import numpy as np
import pytest
import zmq
from test_bridge_fakesim import T

from xr_codec_marl.bridge import wire
from xr_codec_marl.bridge.wire import Code
from xr_codec_marl.bridge.proto import bridge_pb2 as pb
from xr_codec_marl.bridge.server import BridgeServer, Ended, Joined, StepReceived
from xr_codec_marl.core.api import AgentSpec, EnvSpec
from xr_codec_marl.scenarios.xr.kpis import XR_KPI_NAMES, XR_REWARD_COMPONENTS
from xr_codec_marl.env.ns3_env import Ns3Env


@pytest.fixture(scope="module")
def probe() -> str:
    from xr_codec_marl.bridge.build import build_ns3, find_binary, is_up_to_date

    if not is_up_to_date():
        build_ns3()
    return str(find_binary("xrmarl-bridge-probe"))


def probe_spec(steps: int, rewards: bool = False, n_actions: int = 10) -> EnvSpec:
    """The spec the probe announces (its MakeHello)."""
    agents = tuple(
        AgentSpec(a, k, 5, n_actions, tuple(1.0 + i for i in range(n_actions)))
        for a, k in (("AR", "xr"), ("VR", "xr"), ("CG", "cg"))
    )
    return EnvSpec("probe", agents, 15, XR_REWARD_COMPONENTS if rewards else (), XR_KPI_NAMES,
                   0.5, steps)


def start_probe(probe: str, endpoint: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [probe, f"--endpoint={endpoint}", f"--timeout-ms={int(T * 1000)}", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(proc: subprocess.Popen, timeout_s: float = 5 * T) -> tuple[int, list[dict]]:
    """Wait for a probe (killing it if it hangs: that fails the test) and parse its JSON lines."""
    try:
        out, _err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("probe hung") from None
    return proc.returncode, [json.loads(line) for line in out.splitlines() if line.strip()]


def serve(server, until_ended: int, act=lambda ev: [(ev.step.step_index + i) % 10
                                                    for i in range(3)], timeout_s=5 * T):
    events = []
    ended = 0
    deadline = time.monotonic() + timeout_s
    while ended < until_ended:
        assert time.monotonic() < deadline, f"{ended}/{until_ended} sessions ended in time"
        for ev in server.poll(0.05):
            events.append(ev)
            if isinstance(ev, StepReceived) and not ev.step.done:
                server.send_action(ev.session.session_id, act(ev))
            elif isinstance(ev, Ended):
                ended += 1
    return events


def test_round_trip_of_real_messages(probe):
    steps = 6
    spec = probe_spec(steps, rewards=True)
    with BridgeServer("tcp://127.0.0.1:*", expected_spec=spec, timeout_s=T) as server:
        proc = start_probe(probe, server.endpoint, f"--steps={steps}", "--with-rewards",
                           "--print-steps", "--seed=77")
        events = serve(server, 1)
        rc, lines = finish(proc)
    assert rc == 0, lines
    joined = events[0]
    assert isinstance(joined, Joined)
    h = joined.session.hello
    assert h.scenario == "probe" and h.seed == 77 and h.parameters["probe"] == "1"
    assert joined.session.spec.agents == spec.agents
    got = [e.step for e in events if isinstance(e, StepReceived)]
    assert [s.step_index for s in got] == list(range(steps + 1))
    a, j = np.meshgrid(np.arange(3), np.arange(5), indexing="ij")
    ka, kk = np.meshgrid(np.arange(3), np.arange(len(XR_KPI_NAMES)), indexing="ij")
    for t, s in enumerate(got):
        np.testing.assert_array_equal(s.obs, t + 0.5 * a + 0.0625 * j)
        np.testing.assert_array_equal(s.state, -(t + 0.125 * np.arange(15)))
        np.testing.assert_array_equal(s.kpis, t + 0.25 * ka + 0.03125 * kk)
        np.testing.assert_array_equal(s.rewards, [0.5 * t, 1.0, -0.25])
        assert s.avail_actions.all() and s.sim_time_s == 0.5 * t
        assert s.truncated == (t == steps) and not s.terminated
    assert got[-1].truncation_reason == "episode_limit"
    # the probe received (and validated) exactly the actions we sent, in order
    step_lines = [x for x in lines if "step" in x and "actions" in x]
    sent = [[(t + i) % 10 for i in range(3)] for t in range(steps)]
    assert [x["actions"] for x in step_lines][:steps] == sent
    result = lines[-1]
    assert result["status"] == "ok" and result["close_reason"] == "episode_limit"
    ended = events[-1]
    assert isinstance(ended, Ended) and ended.clean


def test_two_probes_at_once_and_killing_one_truncates_only_its_episode(probe):
    steps = 400
    spec = probe_spec(steps)
    with BridgeServer("tcp://127.0.0.1:*", expected_spec=spec, timeout_s=T) as server:
        slow = lambda ev: (time.sleep(0.002), [0, 0, 0])[1]
        victim = start_probe(probe, server.endpoint, f"--steps={steps}", "--seed=1")
        other = start_probe(probe, server.endpoint, f"--steps={steps}", "--seed=2")
        events, ended = [], {}
        deadline = time.monotonic() + 10 * T
        killed_at = None
        while len(ended) < 2:
            assert time.monotonic() < deadline
            for ev in server.poll(0.05):
                events.append(ev)
                if isinstance(ev, StepReceived):
                    if ev.session.seed == 1 and ev.step.step_index == 20 and killed_at is None:
                        victim.kill()  # SIGKILL mid-episode: no goodbye, nothing
                        killed_at = time.monotonic()
                    if not ev.step.done:
                        server.send_action(ev.session.session_id, slow(ev))
                elif isinstance(ev, Ended):
                    ended[ev.session.seed] = (ev, time.monotonic())
        rc, lines = finish(other, 10 * T)
        victim.wait(T)
    assert rc == 0 and lines[-1]["status"] == "ok"
    ev1, t1 = ended[1]
    assert not ev1.clean and ("silent" in ev1.reason or "unreachable" in ev1.reason)
    assert t1 - killed_at < T + 1.0  # within the timeout
    assert ended[2][0].clean
    other_steps = [e for e in events if isinstance(e, StepReceived) and e.session.seed == 2]
    assert len(other_steps) == steps + 1  # the other episode ran to its end
    assert other_steps[-1].step.truncated


@pytest.mark.parametrize(
    "mode, code, words",
    [
        ("garbage", "CODE_BAD_MESSAGE", "not a bridge Envelope"),
        ("wrong-type", "CODE_UNEXPECTED", "may not send 'action'"),
        ("empty", "CODE_BAD_MESSAGE", "without a body"),
        ("bad-version", "CODE_VERSION", "protocol version 999 is not supported"),
    ],
)
def test_bad_first_messages_are_refused_clearly(probe, mode, code, words):
    with BridgeServer("tcp://127.0.0.1:*", timeout_s=T) as server:
        proc = start_probe(probe, server.endpoint, f"--mode={mode}")
        deadline = time.monotonic() + 3 * T
        events = []
        while proc.poll() is None and time.monotonic() < deadline:
            events += server.poll(0.05)
        rc, lines = finish(proc)
        assert not [e for e in events if isinstance(e, Joined)]
        assert rc == 0 and lines[-1]["status"] == "refused", lines
        assert lines[-1]["code"] == code and words in lines[-1]["message"]
        assert lines[-1]["fatal"] is True
        # ... and the server still serves a good simulator afterwards
        good = start_probe(probe, server.endpoint, "--steps=3")
        serve(server, 1)
        assert finish(good)[0] == 0


def test_bad_shape_mid_episode_ends_that_session_with_shape_error(probe):
    with BridgeServer("tcp://127.0.0.1:*", timeout_s=T) as server:
        proc = start_probe(probe, server.endpoint, "--mode=bad-shape", "--steps=5")
        events = serve(server, 1)
        rc, lines = finish(proc)
    ended = next(e for e in events if isinstance(e, Ended))
    kv = 3 * len(XR_KPI_NAMES)  # one KPI too many
    assert not ended.clean and f"kpis has {kv + 1} values, the hello says {kv}" in ended.reason
    assert rc == 2 and lines[-1]["code"] == "CODE_SHAPE"


def test_silent_probe_is_dropped_after_the_timeout(probe):
    with BridgeServer("tcp://127.0.0.1:*", timeout_s=T) as server:
        proc = start_probe(probe, server.endpoint, "--mode=silent", "--silent-ms=2500")
        t0 = time.monotonic()
        events = serve(server, 1, timeout_s=3 * T)
        took = time.monotonic() - t0
        proc.kill()
        proc.wait(T)
    ended = next(e for e in events if isinstance(e, Ended))
    assert not ended.clean and "silent" in ended.reason
    assert T * 0.9 < took < T + 1.0


def test_probe_refuses_out_of_range_and_short_actions(probe):
    """The C++ side validates actions too: it replies CODE_ACTION and exits 4, never hangs."""
    for actions, words in (([0, 1, 10], "outside [0, 9]"), ([0, 1], "has 2 entries")):
        ctx = zmq.Context.instance()
        router = ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        port = router.bind_to_random_port("tcp://127.0.0.1")
        proc = start_probe(probe, f"tcp://127.0.0.1:{port}", "--steps=3")
        try:
            assert router.poll(int(3 * T * 1000)), "no hello from the probe"
            ident, _ = router.recv_multipart()
            router.send_multipart([ident, wire.encode(wire.welcome_envelope("s1"))])
            assert router.poll(int(3 * T * 1000))
            ident, step = router.recv_multipart()
            assert wire.decode(step).step.step_index == 0
            router.send_multipart([ident, wire.encode(pb.Envelope(
                action=pb.Action(session_id="s1", step_index=0, actions=actions)))])
            assert router.poll(int(3 * T * 1000))
            _, reply = router.recv_multipart()
            err = wire.decode(reply).error
            assert err.code == Code.CODE_ACTION and words in err.message
            rc, lines = finish(proc)
            assert rc == 4 and lines[-1]["code"] == "CODE_ACTION"
        finally:
            if proc.poll() is None:
                proc.kill()
            router.close(0)


def probe_argv(steps: int):
    def argv(endpoint: str, seed: int, index: int) -> list[str]:
        return [f"--endpoint={endpoint}", f"--seed={seed}", f"--steps={steps}",
                f"--timeout-ms={int(T * 1000)}"]

    return argv


def test_ns3_env_launches_probes_and_survives_killing_one(probe, tmp_path):
    steps = 30
    from xr_codec_marl.scenarios.xr.scenario import XR
    from xr_codec_marl.scenarios.xr.settings import XRScenario

    spec = probe_spec(steps, rewards=True)
    # the probe sends no rewards: the XR glue computes them from its (XR-named) KPIs
    env = Ns3Env(spec=spec, workers=2, binary=probe, sim_argv=probe_argv(steps),
                 glue=XR.ns3_glue(spec, XRScenario(episode_limit=steps)),
                 timeout_s=T, connect_timeout_s=5 * T, log_dir=tmp_path)
    try:
        first = env.reset(seed=5)
        assert first.info["seeds"] == [5, 6]
        np.testing.assert_array_equal(first.obs[0], first.obs[1])  # the probe's step 0 values
        res = env.step(np.ones((2, 3), int))
        # obs from the probe; rewards computed from its KPIs (it sends none)
        assert res.obs[0, 1, 0] == 1.5 and res.rewards.shape == (2, 3)
        env.launcher.processes[1].popen.kill()
        t0 = time.monotonic()
        for t in range(2, steps + 1):
            res = env.step(np.ones((2, 3), int))
            if res.truncated[1]:
                break
        assert time.monotonic() - t0 < T + 1.0
        assert not res.done[0] and res.truncated[1]
        assert "died" in res.info["truncation_reason"][1] or \
            "unreachable" in res.info["truncation_reason"][1]
        while not res.done[0]:
            res = env.step(np.ones((2, 3), int))
        assert res.info["truncation_reason"][0] == "time limit"
        again = env.reset(seed=50)  # fresh processes for the next episode
        assert again.info["seeds"] == [50, 51] and len(env.launcher.processes) == 2
    finally:
        env.close()


# --------------------------------------------------------------------------- v1.1 fields


def probe_hybrid_spec(steps: int, global_kpis: int = 2) -> EnvSpec:
    """What ``--hybrid --global-kpis=G --with-rewards`` announces (the probe's MakeHello)."""
    from xr_codec_marl.core.spaces import ContinuousDim, DiscreteSpace, HybridSpace

    heads = (DiscreteSpace(3, name="server", labels=("local", "edge", "cloud")),
             DiscreteSpace(2, (0.5, 1.0), ordered=True, name="level"))
    dims = {0: (ContinuousDim("offload", 0.0, 1.0), ContinuousDim("power", -10.0, 23.0, "dBm")),
            1: (ContinuousDim("offload", 0.0, 1.0),), 2: ()}
    agents = tuple(AgentSpec(a, k, 5, 6, (), HybridSpace(heads, dims[i]))
                   for i, (a, k) in enumerate((("AR", "xr"), ("VR", "xr"), ("CG", "cg"))))
    return EnvSpec("probe", agents, 15, XR_REWARD_COMPONENTS, XR_KPI_NAMES, 0.5, steps,
                   global_kpi_names=tuple(f"g{g}" for g in range(global_kpis)))


NEW_FLAGS = ("--hybrid", "--global-kpis=2", "--with-rewards", "--agent-rewards")


def test_probe_round_trips_hybrid_actions_global_kpis_and_agent_rewards(probe):
    """A real C++ client with every new field: hybrid spaces in its hello, global KPIs and
    per-agent rewards in its steps, continuous values received, validated and reported."""
    steps = 5
    spec = probe_hybrid_spec(steps)
    cont = lambda ev: [[0.125 * ev.step.step_index, -10.0 + ev.step.step_index],
                       [1.0, 123.0],  # VR has one dimension: its padding column is ignored
                       [0.0, 0.0]]
    with BridgeServer("tcp://127.0.0.1:*", expected_spec=spec, timeout_s=T) as server:
        proc = start_probe(probe, server.endpoint, f"--steps={steps}", "--print-steps",
                           *NEW_FLAGS)
        events, ended = [], 0
        deadline = time.monotonic() + 5 * T
        while not ended:
            assert time.monotonic() < deadline
            for ev in server.poll(0.05):
                events.append(ev)
                if isinstance(ev, StepReceived) and not ev.step.done:
                    t = ev.step.step_index
                    server.send_action(ev.session.session_id, [t % 6, 5, 0], cont(ev))
                ended += isinstance(ev, Ended)
        rc, lines = finish(proc)
    assert rc == 0, lines
    assert events[0].session.spec == spec  # action spaces and global KPI names as announced
    got = [e.step for e in events if isinstance(e, StepReceived)]
    a, c = np.meshgrid(np.arange(3), np.arange(3), indexing="ij")
    for t, s in enumerate(got):
        np.testing.assert_array_equal(s.global_kpis, [t, t + 0.5])
        np.testing.assert_array_equal(s.agent_rewards, 0.25 * t + a + 0.125 * c)
        assert s.avail_actions.shape == (3, 6)
    step_lines = [x for x in lines if "step" in x and "actions" in x]
    for x in step_lines[:steps]:
        t = x["step"]
        assert x["actions"] == [t % 6, 5, 0]
        assert x["continuous"] == [0.125 * t, -10.0 + t, 1.0, 0.0, 0.0, 0.0]
    assert lines[-1]["last_continuous"] == [0.125 * (steps - 1), -11.0 + steps, 1.0, 0, 0, 0]


def test_probe_sends_every_field_of_the_schema(probe):
    """What the probe sends with all its options covers every field of Hello, AgentInfo,
    ActionHead, ContinuousDim and Step: a field added to the schema but not to the C++
    side's messages fails here (exceptions listed with their reason)."""
    not_sent = {
        # the probe's agents are hybrid with these options; its default (v1) agents send
        # action_values; ordered/labels of a discrete agent go through the same generated code
        "AgentInfo": {"action_values", "actions_ordered", "action_labels"},
        "Step": {"terminated"},  # the probe's episodes end at their limit (truncated)
        "Hello": {"run"},  # the probe announces RngRun 0, the default (not on the wire)
        "ActionHead": set(), "ContinuousDim": set(),
    }
    seen: dict[str, set[str]] = {k: set() for k in not_sent}

    def note(msg) -> None:
        seen[msg.DESCRIPTOR.name] |= {fd.name for fd, _ in msg.ListFields()}

    ctx = zmq.Context.instance()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    proc = start_probe(probe, f"tcp://127.0.0.1:{port}", "--steps=2", *NEW_FLAGS)
    try:
        assert router.poll(int(3 * T * 1000)), "no hello from the probe"
        ident, data = router.recv_multipart()
        hello = wire.decode(data).hello
        note(hello)
        for agent in hello.agents:
            note(agent)
            for x in (*agent.heads, *agent.continuous):
                note(x)
        router.send_multipart([ident, wire.encode(wire.welcome_envelope("s1"))])
        spec = wire.spec_from_hello(hello)
        for t in range(3):
            assert router.poll(int(3 * T * 1000))
            ident, data = router.recv_multipart()
            step = wire.decode(data).step
            note(step)
            reply = (wire.close_envelope("s1", "done") if t == 2 else wire.action_envelope(
                "s1", t, [0, 0, 0], [0.5] * (spec.n_agents * spec.n_continuous)))
            router.send_multipart([ident, wire.encode(reply)])
        rc, lines = finish(proc)
        assert rc == 0, lines
    finally:
        if proc.poll() is None:
            proc.kill()
        router.close(0)
    for name, desc in (("Hello", pb.Hello), ("AgentInfo", pb.AgentInfo),
                       ("ActionHead", pb.ActionHead), ("ContinuousDim", pb.ContinuousDim),
                       ("Step", pb.Step)):
        schema = {fd.name for fd in desc.DESCRIPTOR.fields}
        missing = schema - seen[name] - not_sent[name]
        assert not missing, f"the probe never sends {name}.{sorted(missing)}"


@pytest.mark.parametrize("continuous, words", [
    ([0.5, 99.0, 0.5, 0, 0, 0], "continuous value 99 of agent 0 dimension 1 is not within "
                                "[-10, 23]"),
    ([0.5, 0.0, float("nan"), 0, 0, 0], "continuous value nan of agent 1 dimension 0"),
    ([0.5, 0.0], "action has 2 continuous values, expected 6 (3 agents x 2 dimensions)"),
    ([], "action has 0 continuous values, expected 6"),
])
def test_probe_refuses_bad_continuous_values(probe, continuous, words):
    """The C++ side validates continuous values against its own hello: CODE_ACTION, exit 4."""
    ctx = zmq.Context.instance()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    proc = start_probe(probe, f"tcp://127.0.0.1:{port}", "--steps=3", "--hybrid")
    try:
        assert router.poll(int(3 * T * 1000)), "no hello from the probe"
        ident, _ = router.recv_multipart()
        router.send_multipart([ident, wire.encode(wire.welcome_envelope("s1"))])
        assert router.poll(int(3 * T * 1000))
        ident, _ = router.recv_multipart()
        router.send_multipart([ident, wire.encode(
            wire.action_envelope("s1", 0, [0, 1, 2], continuous))])
        assert router.poll(int(3 * T * 1000))
        _, reply = router.recv_multipart()
        err = wire.decode(reply).error
        assert err.code == Code.CODE_ACTION and words in err.message, err.message
        rc, lines = finish(proc)
        assert rc == 4 and lines[-1]["code"] == "CODE_ACTION"
    finally:
        if proc.poll() is None:
            proc.kill()
        router.close(0)


def test_ns3_env_steps_hybrid_probes_with_continuous_values(probe, tmp_path):
    from xr_codec_marl.core.api import HybridActions

    steps = 4
    spec = probe_hybrid_spec(steps)

    def argv(endpoint: str, seed: int, index: int) -> list[str]:
        return [*probe_argv(steps)(endpoint, seed, index), *NEW_FLAGS]

    env = Ns3Env(spec=spec, workers=2, binary=probe, sim_argv=argv, timeout_s=T,
                 connect_timeout_s=5 * T, log_dir=tmp_path)
    try:
        first = env.reset(seed=3)
        np.testing.assert_array_equal(first.info["global_kpis"], [[0, 0.5]] * 2)
        for t in range(1, steps + 1):
            cont = np.zeros((2, 3, 2))
            cont[:, 0] = [0.5, 20.0]
            res = env.step(HybridActions(np.full((2, 3), 5), cont))
            np.testing.assert_array_equal(res.info["global_kpis"], [[t, t + 0.5]] * 2)
        assert res.truncated.all() and res.info["truncation_reason"] == ["time limit"] * 2
    finally:
        env.close()
