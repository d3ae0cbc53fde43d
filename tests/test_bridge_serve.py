"""`xr-marl serve` against in-test simulators: policies per session, summaries, bad input."""

from __future__ import annotations

import json
import threading

import numpy as np
from test_bridge_fakesim import SimThread, T, xr_spec

from xr_codec_marl.cli import main


def run_serve(argv: list[str]) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def target() -> None:
        out["rc"] = main(argv)

    th = threading.Thread(target=target, daemon=True)
    th.start()
    return th, out


def test_serve_answers_two_simulators_with_aps_and_reports_episodes(tmp_path, capsys):
    ep = f"ipc://{tmp_path}/serve.sock"
    spec = xr_spec(6)
    th, out = run_serve(["serve", "--bind", ep, "--policy", "aps", "--episodes", "2", "--json",
                         "--ring", "400", "--episode-limit", "6", "--timeout", str(T)])
    recs = [[], []]
    sims = [SimThread(ep, spec, seed=s, record=recs[s]) for s in (0, 1)]
    for s in sims:
        s.start()
    assert [s.outcome() for s in sims] == ["closed: episode limit"] * 2
    th.join(5 * T)
    assert not th.is_alive() and out["rc"] == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 and all(r["clean"] for r in lines)
    assert sorted(r["seed"] for r in lines) == [0, 1]
    assert all(r["windows"] == 6 for r in lines)
    assert set(lines[0]["kpis"]) == set(spec.kpi_names)
    assert set(lines[0]["mean_rewards"]) == {"delay", "pdr", "drr"}
    # the fake sims report losses below 10 %: APS never halves, it starts at max and keeps it
    for rec in recs:
        assert [t for t, _ in rec] == list(range(6))
        assert all(a == [9, 9, 9] for _, a in rec)


def test_serve_refuses_simulators_of_another_ring(tmp_path, capsys):
    from test_bridge_fakesim import SimSocket

    from xr_codec_marl.bridge import wire
    from xr_codec_marl.bridge.proto import bridge_pb2 as pb

    ep = f"ipc://{tmp_path}/serve.sock"
    spec = xr_spec(6)
    th, out = run_serve(["serve", "--bind", ep, "--policy", "max", "--episodes", "1",
                         "--ring", "200", "--episode-limit", "6", "--timeout", str(T)])
    sim = SimSocket(ep)
    hello = wire.hello_from_spec(spec, 1, parameters={"ring_m": "400"})
    sim.send(pb.Envelope(hello=hello))
    reply = sim.recv(2 * T)
    assert reply.error.message == "simulator ring_m 400, this server serves 200"
    sim.close()
    good = SimThread(ep, spec, seed=2)  # then a good one ends the run
    good.start()
    assert good.outcome() == "closed: episode limit"
    th.join(5 * T)
    assert out["rc"] == 0


def test_serve_bad_policy_and_bad_endpoint_are_usage_errors(capsys):
    assert main(["serve", "--bind", "tcp://127.0.0.1:0", "--policy", "nope"]) == 2
    assert "unknown policy 'nope'" in capsys.readouterr().err
    assert main(["serve", "--bind", "bogus://x", "--policy", "aps", "--episodes", "1"]) == 2
    assert "cannot bind the bridge server to 'bogus://x'" in capsys.readouterr().err


def test_serve_sessions_survives_a_failing_policy(tmp_path):
    """A policy that raises ends its own simulator's session; the server carries on."""
    from xr_codec_marl.bridge.server import BridgeServer
    from xr_codec_marl.commands.serve import serve_sessions

    class Boom:
        def reset(self, num_envs, seed=None):
            self.seed = seed

        def act(self, step, explore=False):
            if self.seed == 0:
                raise RuntimeError("boom")
            return np.zeros((1, 3), np.int64)

    spec = xr_spec(4)
    results = []
    with BridgeServer(f"ipc://{tmp_path}/s.sock", timeout_s=T) as server:
        sims = [SimThread(server.endpoint, spec, seed=s) for s in (0, 1)]
        for s in sims:
            s.start()
        n = serve_sessions(server, lambda spec: Boom(), episodes=2,
                           on_episode=lambda s, ev, summ: results.append((s.seed, ev)))
    assert n == 2
    outcomes = {s.kwargs.get("seed", s.args[2] if len(s.args) > 2 else None): s.outcome()
                for s in sims}
    assert outcomes[0].startswith("error: ") and "policy failed: boom" in outcomes[0]
    assert outcomes[1] == "closed: episode limit"
    ev = dict(results)
    assert not ev[0].clean and "policy failed: boom" in ev[0].reason and ev[1].clean


def test_serve_runs_a_trained_checkpoint(tmp_path, capsys):
    """Any policy, trained ones included: a tiny VDN checkpoint answers a simulator."""
    out = tmp_path / "run"
    assert main(["train", "--env", "xr", "--backend", "analytic", "--algo", "vdn", "--steps",
                 "100", "--seed", "0", "--episode-limit", "5", "--out", str(out)]) == 0
    capsys.readouterr()
    ckpt = str(out / "checkpoint.pt")
    ep = f"ipc://{tmp_path}/serve.sock"
    spec = xr_spec(5)
    th, res = run_serve(["serve", "--bind", ep, "--policy", ckpt, "--episodes", "1", "--json",
                         "--ring", "400", "--episode-limit", "5", "--timeout", str(T)])
    record: list = []
    sim = SimThread(ep, spec, seed=4, record=record, hello_timeout_s=20 * T)
    sim.start()
    assert sim.outcome(30 * T) == "closed: episode limit"
    th.join(10 * T)
    assert not th.is_alive() and res["rc"] == 0
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert line["clean"] and line["windows"] == 5
    assert len(record) == 5 and all(len(a) == 3 for _, a in record)


def test_serve_runs_the_fixed_rate_reference(tmp_path):
    """`--policy fixed:K` (offered in --help) serves: every window, every agent gets action K."""
    ep = f"ipc://{tmp_path}/serve.sock"
    spec = xr_spec(4)
    th, out = run_serve(["serve", "--bind", ep, "--policy", "fixed:3", "--episodes", "1",
                         "--timeout", str(T)])  # no --ring: the policy is built per Hello
    rec: list = []
    sim = SimThread(ep, spec, seed=0, record=rec)
    sim.start()
    assert sim.outcome() == "closed: episode limit"
    th.join(5 * T)
    assert not th.is_alive() and out["rc"] == 0
    assert [a for _, a in rec] == [[3, 3, 3]] * 4
