"""The C++ side: build with CMake against the ns3 PyPI package, run the XR scenario standalone.

Builds once per session through ``build_ns3`` (incremental: a no-op when up to date) into the
default build directory ($XRMARL_NS3_BUILD or ~/.cache/xr-codec-marl/ns3-build), then runs
``xr-codec --fixedAction=...`` (no agent server) and checks the KPIs it measures. The round
trips with the Python agent server live in the bridge tests.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from xr_codec_marl.bridge.build import binaries, build_ns3, find_binary, is_up_to_date
from xr_codec_marl.cli import main as cli_main
from xr_codec_marl.scenarios.xr.kpis import XR_KPI_NAMES

pytestmark = pytest.mark.ns3

MAX_RATES = {"AR": 10.0, "VR": 30.0, "CG": 30.0}


@pytest.fixture(scope="session")
def bin_dir() -> Path:
    return build_ns3(jobs=2)


def run_scenario(bin_dir: Path, *args: str, timeout: float = 240,
                 ran: str = "lte") -> tuple[list[dict], dict, int, str]:
    """``xr-codec`` standalone; these are the LTE tests (the NR ones are in test_ns3_nr.py)."""
    proc = subprocess.run([str(bin_dir / "xr-codec"), f"--ran={ran}", *args], capture_output=True,
                          text=True, timeout=timeout)
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    windows = [x for x in lines if "window" in x]
    summary = next((x["summary"] for x in lines if "summary" in x), {})
    return windows, summary, proc.returncode, proc.stderr


def test_build_produces_binaries(bin_dir: Path) -> None:
    for name in binaries():
        assert find_binary(name) == (bin_dir / name).resolve()
    assert is_up_to_date(bin_dir)


@pytest.mark.parametrize("ring", [200, 400])
def test_standalone_max_rates_kpis_are_sane(bin_dir: Path, ring: int) -> None:
    windows, summary, rc, err = run_scenario(
        bin_dir, "--fixedAction=max", f"--ringRadius={ring}", "--episodeLimit=6", "--seed=1",
        "--printKpis=true")
    assert rc == 0, err
    assert summary["status"] == "ok" and summary["windows"] == 6 and summary["standalone"]
    assert summary["rlc_traces"], "RLC/PDCP traces of the eNB were not connected"
    assert summary["traced_bearers"] == 6  # default + XR bearer of each UE
    assert [w["window"] for w in windows] == list(range(1, 7))
    for w in windows:
        assert set(w["kpis"]) == set(MAX_RATES)
        for ue, k in w["kpis"].items():
            assert set(XR_KPI_NAMES) <= set(k)
            assert 0.0 <= k["pdr"] <= 1.0
            assert k["plr"] == pytest.approx(1.0 - k["pdr"], abs=1e-6)
            assert k["delay_ms"] > 0.0
            assert k["jitter_ms"] >= 0.0
            assert 0.0 < k["throughput_mbps"] < MAX_RATES[ue] * 1.6
            assert 0.0 <= k["buffer_ratio"] <= 1.0
            assert k["xqi"] in (1, 2, 3, 4, 5)
            assert k["codec_rate_mbps"] == pytest.approx(MAX_RATES[ue])
            assert k["action"] == 9
    for ue, m in summary["mean_kpis"].items():
        assert m["received"] <= m["sent"]
        assert 35.0 <= m["start_distance_m"] <= ring
        assert 35.0 - 1.0 <= m["end_distance_m"] <= ring + 1.0  # the walk stays in the annulus


def mean_plr(bin_dir: Path, ring: int, action: str, seeds: range, windows: int = 6) -> float:
    plrs = []
    for seed in seeds:
        _, summary, rc, err = run_scenario(
            bin_dir, f"--fixedAction={action}", f"--ringRadius={ring}",
            f"--episodeLimit={windows}", f"--seed={seed}")
        assert rc == 0, err
        plrs += [m["plr"] for m in summary["mean_kpis"].values()]
    return float(np.mean(plrs))


def test_max_rates_lose_more_at_400_than_at_200(bin_dir: Path) -> None:
    near = mean_plr(bin_dir, 200, "max", range(1, 4))
    far = mean_plr(bin_dir, 400, "max", range(1, 4))
    assert far > near + 0.05, (near, far)


def test_min_rates_at_200_m_deliver_almost_everything(bin_dir: Path) -> None:
    assert mean_plr(bin_dir, 200, "min", range(1, 3)) < 0.02


def test_delivered_rate_matches_the_codec_rate_when_nothing_is_lost(bin_dir: Path) -> None:
    """TR 38.838 frames carry R/fps bytes on average: received Mbps ~ codec rate (+ AR's
    audio 0.756 and pose 0.2 Mbps) when the cell is not congested."""
    _, summary, rc, err = run_scenario(bin_dir, "--fixedAction=2", "--ringRadius=150",
                                       "--episodeLimit=8", "--seed=3")
    assert rc == 0, err
    side = {"AR": 0.756 + 0.2, "VR": 0.0, "CG": 0.0}
    for ue, m in summary["mean_kpis"].items():
        assert m["pdr"] > 0.99, (ue, m)
        expected = m["codec_rate_mbps"] + side[ue]
        assert m["throughput_mbps"] == pytest.approx(expected, rel=0.05), (ue, m)


def test_same_seed_same_episode_other_seed_other_episode(bin_dir: Path) -> None:
    args = ("--fixedAction=max", "--ringRadius=300", "--episodeLimit=3")
    a = run_scenario(bin_dir, *args, "--seed=7")[1]["mean_kpis"]
    b = run_scenario(bin_dir, *args, "--seed=7")[1]["mean_kpis"]
    c = run_scenario(bin_dir, *args, "--seed=8")[1]["mean_kpis"]
    assert a == b
    assert a["AR"]["start_distance_m"] != c["AR"]["start_distance_m"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--fixedAction=max", "--bandwidthMhz=40"], "LTE bandwidth"),
        (["--fixedAction=10"], "outside [0, 9]"),
        (["--fixedAction=1,2"], "--fixedAction"),
        (["--fixedAction=max", "--ringRadius=30"], "ringRadius"),
        (["--fixedAction=max", "--arMin=5", "--arMax=1"], "codec range of user 'AR'"),
        (["--endpoint=udp://x:1"], "endpoint must be"),
    ],
)
def test_bad_arguments_exit_1_with_a_clear_message(bin_dir: Path, args: list[str], message: str) -> None:
    _, _, rc, err = run_scenario(bin_dir, *args, timeout=30)
    assert rc == 1
    assert message in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_silent_server_ends_the_run_with_an_error_not_a_hang(bin_dir: Path) -> None:
    port = _free_port()  # nobody listens: ZeroMQ queues the hello, no reply ever comes
    t0 = time.monotonic()
    _, _, rc, err = run_scenario(bin_dir, f"--endpoint=tcp://127.0.0.1:{port}",
                                 "--timeoutMs=700", timeout=60)
    assert rc == 3, err
    assert "handshake failed" in err and "within 700 ms" in err
    assert time.monotonic() - t0 < 30


def test_probe_without_server_times_out_cleanly(bin_dir: Path) -> None:
    port = _free_port()
    proc = subprocess.run([str(bin_dir / "xrmarl-bridge-probe"),
                           f"--endpoint=tcp://127.0.0.1:{port}", "--timeout-ms=500"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 3
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "error" and out["code"] == "CODE_TIMEOUT"


def test_build_command_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli_main(["build-ns3", "--nr-source", "x", "--lte-only"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert cli_main(["build-ns3", "--nr-sha256", "abc"]) == 2
    assert "64 hex digits" in capsys.readouterr().err
    assert cli_main(["build-ns3", "--ns3-root", str(tmp_path / "nope")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert cli_main(["build-ns3", "--jobs", "0"]) == 2


def test_find_binary_names_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="xr-marl build-ns3"):
        find_binary("xr-codec", build_dir=tmp_path)


# ---------------------------------------------------------------------------------------------
# The scenario's bridge client against a scripted ROUTER (pyzmq + the generated messages), to
# pin down the C++ side's behaviour on good and bad replies. The real agent server's own tests
# are in the bridge/Ns3Env test files.

class ScriptedServer:
    """A ROUTER that welcomes one simulator and answers each Step with ``reply(step)``."""

    def __init__(self, reply, bind: str | None = None) -> None:
        import threading

        import zmq

        from xr_codec_marl.bridge.proto import bridge_pb2 as pb

        self.pb = pb
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.linger = 0
        if bind is None:
            port = self.sock.bind_to_random_port("tcp://127.0.0.1")
            self.endpoint = f"tcp://127.0.0.1:{port}"
        else:
            self.sock.bind(bind)
            self.endpoint = bind
        self.reply = reply
        self.received: list = []
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import zmq

        pb = self.pb
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not self._stop:
            if not poller.poll(100):
                continue
            ident, data = self.sock.recv_multipart()
            env = pb.Envelope()
            env.ParseFromString(data)
            self.received.append(env)
            out = None
            if env.HasField("hello"):
                out = pb.Envelope(welcome=pb.Welcome(session_id="s1", protocol_version=1))
            elif env.HasField("step"):
                out = self.reply(env.step)
            if out is not None:
                self.sock.send_multipart([ident, out.SerializeToString()])

    def close(self) -> None:
        self._stop = True
        self.thread.join(5)
        self.sock.close()
        self.ctx.term()

    def kinds(self) -> list[str]:
        return [e.WhichOneof("body") for e in self.received]


def _serve_and_run(bin_dir: Path, reply, *args: str,
                   bind: str | None = None) -> tuple[ScriptedServer, int, str]:
    srv = ScriptedServer(reply, bind)
    try:
        _, _, rc, err = run_scenario(bin_dir, f"--endpoint={srv.endpoint}", "--ringRadius=200",
                                     "--timeoutMs=1500", *args, timeout=120)
    finally:
        srv.close()
    return srv, rc, err


def test_full_episode_through_the_bridge(bin_dir: Path) -> None:
    from xr_codec_marl.bridge.proto import bridge_pb2 as pb

    def reply(step):
        if step.truncated or step.terminated:
            return pb.Envelope(close=pb.Close(session_id="s1", reason="episode over"))
        return pb.Envelope(action=pb.Action(session_id="s1", step_index=step.step_index,
                                            actions=[step.step_index % 10, 5, 0]))

    srv, rc, err = _serve_and_run(bin_dir, reply, "--episodeLimit=4")
    assert rc == 0, err
    assert srv.kinds() == ["hello"] + ["step"] * 5 + ["goodbye"]
    hello = srv.received[0].hello
    assert hello.scenario == "xr-codec" and hello.protocol_version == 1
    assert [a.id for a in hello.agents] == ["AR", "VR", "CG"]
    assert list(hello.kpi_names) == list(XR_KPI_NAMES)
    assert [a.n_actions for a in hello.agents] == [10, 10, 10]
    assert list(hello.agents[1].action_values) == pytest.approx(np.linspace(10, 30, 10))
    assert hello.episode_limit == 4 and hello.step_interval_s == 0.5
    steps = [e.step for e in srv.received[1:6]]
    assert [s.step_index for s in steps] == [0, 1, 2, 3, 4]
    assert [s.sim_time_s for s in steps] == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.5])
    assert all(s.session_id == "s1" and len(s.kpis) == 3 * len(XR_KPI_NAMES)
               and len(s.avail_actions) == 30
               for s in steps)
    assert not any(steps[0].kpis)  # nothing measured before the first window
    assert steps[-1].truncated and steps[-1].truncation_reason == "episode_limit"
    assert not any(s.truncated or s.terminated for s in steps[:-1])
    k = len(XR_KPI_NAMES)
    rate = XR_KPI_NAMES.index("codec_rate_mbps")
    # the action of step t sets the codec rates of window t + 1
    for t in range(1, 5):
        ar = steps[t].kpis[0 * k + rate]
        vr = steps[t].kpis[1 * k + rate]
        cg = steps[t].kpis[2 * k + rate]
        assert ar == pytest.approx(0.5 + 9.5 * ((t - 1) % 10) / 9, rel=1e-5)
        assert vr == pytest.approx(10 + 20 * 5 / 9, rel=1e-5)
        assert cg == pytest.approx(10.0)


@pytest.mark.parametrize(
    "actions, message",
    [([1, 2, 10], "outside [0, 9]"), ([1, 2], "expected 3 (one per agent)")],
)
def test_invalid_action_is_refused_with_exit_4(bin_dir: Path, actions: list[int], message: str) -> None:
    from xr_codec_marl.bridge.proto import bridge_pb2 as pb

    def reply(step):
        acts = actions if step.step_index == 2 else [0, 0, 0]
        return pb.Envelope(action=pb.Action(session_id="s1", step_index=step.step_index,
                                            actions=acts))

    srv, rc, err = _serve_and_run(bin_dir, reply)
    assert rc == 4, err
    assert message in err
    errors = [e.error for e in srv.received if e.HasField("error")]
    assert errors and errors[0].code == pb.Error.CODE_ACTION and message in errors[0].message
    assert srv.kinds()[-1] == "goodbye"


def test_server_error_reply_ends_the_run_with_exit_2(bin_dir: Path) -> None:
    from xr_codec_marl.bridge.proto import bridge_pb2 as pb

    def reply(step):
        if step.step_index == 1:
            return pb.Envelope(error=pb.Error(code=pb.Error.CODE_SHAPE, message="nope", fatal=True))
        return pb.Envelope(action=pb.Action(session_id="s1", step_index=step.step_index,
                                            actions=[0, 0, 0]))

    srv, rc, err = _serve_and_run(bin_dir, reply)
    assert rc == 2, err
    assert "CODE_SHAPE: nope" in err
    assert srv.kinds()[-1] == "goodbye"


def test_server_silent_mid_episode_ends_the_run_with_exit_3(bin_dir: Path) -> None:
    from xr_codec_marl.bridge.proto import bridge_pb2 as pb

    def reply(step):
        if step.step_index >= 2:
            return None  # goes silent
        return pb.Envelope(action=pb.Action(session_id="s1", step_index=step.step_index,
                                            actions=[0, 0, 0]))

    t0 = time.monotonic()
    srv, rc, err = _serve_and_run(bin_dir, reply)
    assert rc == 3, err
    assert "within 1500 ms" in err
    assert time.monotonic() - t0 < 60
    assert srv.kinds()[-1] == "goodbye"


def test_ipc_endpoint(bin_dir: Path, tmp_path: Path) -> None:
    from xr_codec_marl.bridge.proto import bridge_pb2 as pb

    def reply(step):
        if step.truncated:
            return pb.Envelope(close=pb.Close(session_id="s1", reason="done"))
        return pb.Envelope(action=pb.Action(session_id="s1", step_index=step.step_index,
                                            actions=[9, 9, 9]))

    srv, rc, err = _serve_and_run(bin_dir, reply, "--episodeLimit=2",
                                  bind=f"ipc://{tmp_path}/xr.sock")
    assert rc == 0, err
    assert srv.kinds() == ["hello", "step", "step", "step", "goodbye"]
