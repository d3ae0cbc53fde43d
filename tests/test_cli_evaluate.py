"""`xr-marl evaluate`: the JSON contract of DESIGN.md §4 and one-line errors for bad input."""

import json
import subprocess
import sys

import pytest

from xr_codec_marl.cli import main

KPI_KEYS = {"xr_index", "jitter_ms", "delay_ms", "plr", "throughput_mbps"}


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "xr_codec_marl.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_evaluate_json_schema(capsys):
    rc = main(["evaluate", "--policy", "aps", "--ring", "300", "--episodes", "4", "--seed", "7",
               "--episode-limit", "6", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert {"policy", "backend", "ring_m", "episodes", "seed", "kpis", "per_agent"} <= set(out)
    assert out["policy"] == "aps" and out["backend"] == "analytic"
    assert out["ring_m"] == 300.0 and out["episodes"] == 4 and out["seed"] == 7
    assert KPI_KEYS <= set(out["kpis"])
    assert set(out["per_agent"]) == {"AR", "VR", "CG"}
    for agent in out["per_agent"].values():
        assert KPI_KEYS <= set(agent)
    assert 1.0 <= out["kpis"]["xr_index"] <= 5.0
    assert all(v is not None and v >= 0 for v in out["ci95"].values())


def test_evaluate_is_reproducible(capsys):
    args = ["evaluate", "--policy", "random", "--episodes", "3", "--episode-limit", "5", "--json"]
    main(args)
    first = capsys.readouterr().out
    main(args)
    assert capsys.readouterr().out == first


def test_human_table_has_ci(capsys):
    assert main(["evaluate", "--policy", "max", "--episodes", "3", "--episode-limit", "4"]) == 0
    out = capsys.readouterr().out
    assert "95 % CI" in out and "±" in out and "team" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--policy", "best"], "unknown policy 'best'; allowed: aps, aps-x1.5, best-fixed, max, min, random"),
        (["--env", "wifi"], "unknown env 'wifi'; allowed: matrix, mec, xr"),
        (["--policy", "fixed:10"], "fixed action must be in [0, 9], got 10"),
        (["--backend", "omnet"], "unknown backend for env 'xr' 'omnet'"),
        (["--ring", "0"], "argument --ring: must be > 0, got 0"),
        (["--ring", "-5"], "argument --ring: must be > 0"),
        (["--episodes", "0"], "argument --episodes: must be >= 1, got 0"),
        (["--codec-range", "VR=30:10"], "codec range of VR has min 30.0 > max 10.0"),
        (["--codec-range", "XR=1:2"], "unknown agent 'XR'"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message):
    proc = run_cli("evaluate", "--episodes", "1", "--episode-limit", "2", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_fixed_rate_policy_and_matrix_games(capsys):
    assert main(["evaluate", "--policy", "fixed:4", "--episodes", "2", "--episode-limit", "3",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["policy"] == "fixed:4"
    assert out["per_agent"]["VR"]["codec_rate_mbps"] == pytest.approx(10 + 4 * 20 / 9, rel=1e-5)
    # another scenario evaluates with its own KPIs (climbing game, (2, 2) pays 5, not optimal)
    assert main(["evaluate", "--env", "matrix", "--policy", "fixed:2", "--episodes", "3",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["env"] == "matrix" and out["game"] == "climbing"
    assert out["kpis"] == {"payoff": 5.0, "optimal": 0.0}
    assert out["rewards"]["r0"] == pytest.approx(5.0)
    # max/min mean "highest/lowest action", which unordered actions do not have
    assert main(["evaluate", "--env", "matrix", "--policy", "max"]) == 2
    assert "needs ordered discrete actions" in capsys.readouterr().err


# --------------------------------------------------------------------------- scenario reach


@pytest.mark.parametrize(
    "args,message",
    [
        (["--backend", "ns3", "--ns3-arg", "ueSped=1"],
         "unknown xr-codec option 'ueSped' in --ns3-arg (did you mean ueSpeed?)"),
        (["--backend", "ns3", "--ns3-arg", "seed=4"],
         "--ns3-arg seed is set by xr-marl; use --seed"),
        (["--backend", "ns3", "--ns3-arg", "ueSpeed"], "--ns3-arg expects NAME=VALUE"),
        (["--backend", "ns3", "--ns3-arg", "ueSpeed=fast"],
         "--ns3-arg ueSpeed=fast: expected a number"),
        (["--ns3-arg", "ueSpeed=1"], "--ns3-arg applies to --backend ns3 only"),
        (["--users", "AR,XX"], "--users: user 'XX' must be TYPE or TYPE:MIN:MAX"),
        (["--users", "VR:30:10"], "codec range of VR must satisfy 0 < min <= max"),
        (["--users", "VR,VR", "--codec-range", "VR=1:2"],
         "unknown agent 'VR' in --codec-range; allowed: VR1, VR2"),
    ],
)
def test_bad_scenario_input_is_one_line_exit_2(args, message):
    test_bad_input_is_one_line_exit_2(args, message)


def test_users_ue_speed_and_rlc_buffer_reach_the_scenario_and_the_json(capsys):
    assert main(["evaluate", "--policy", "fixed:9", "--episodes", "2", "--episode-limit", "3",
                 "--users", "AR,VR:10:50,VR,CG,CG", "--ue-speed", "1.5", "--rlc-buffer", "30000",
                 "--codec-range", "CG2=5:15", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["per_agent"]) == ["AR", "VR1", "VR2", "CG1", "CG2"]
    assert out["per_agent"]["VR1"]["codec_rate_mbps"] == pytest.approx(50.0)
    assert out["per_agent"]["CG2"]["codec_rate_mbps"] == pytest.approx(15.0)
    settings = out["settings"]
    assert settings["ue_speed_mps"] == 1.5 and settings["rlc_buffer_bytes"] == 30000
    assert [u["agent_id"] for u in settings["users"]] == ["AR", "VR1", "VR2", "CG1", "CG2"]
    assert out["windows"] == [3, 3] and out["episode_limit"] == 3 and out["truncated"] == []


def test_ns3_args_become_typed_settings_or_pass_through():
    import argparse

    from xr_codec_marl.commands.common import add_env_args, scenario_kwargs
    from xr_codec_marl.env.ns3_env import standard_argv
    from xr_codec_marl.scenarios.xr.scenario import XR
    from xr_codec_marl.scenarios.xr.settings import XRScenario

    p = argparse.ArgumentParser()
    add_env_args(p)
    args = p.parse_args(["--backend", "ns3", "--users", "VR,CG", "--ns3-arg", "ueSpeed=10",
                         "--ns3-arg", "scheduler=ns3::RrFfMacScheduler", "--ns3-arg", "cgMax=20",
                         "--ns3-arg", "lossDeadlineMs=50", "--ns3-arg", "rlcBuffer=20000"])
    kw = scenario_kwargs(args)
    assert kw["ue_speed_mps"] == 10.0 and kw["rlc_buffer_bytes"] == 20000
    assert [(u.agent_id, u.rate_max_mbps) for u in kw["users"]] == [("VR", 30.0), ("CG", 20.0)]
    assert kw["ns3_args"] == (("scheduler", "ns3::RrFfMacScheduler"), ("lossDeadlineMs", "50"))
    fields = XRScenario.__dataclass_fields__
    sc = XRScenario(**{k: v for k, v in kw.items() if k in fields})
    argv = standard_argv(XR.ns3_argv(sc), 5.0)("tcp://127.0.0.1:1", 3, 0)
    for a in ("--ueSpeed=10.0", "--rlcBufferBytes=20000", "--users=VR:10.0:30.0,CG:10.0:20.0",
              "--scheduler=ns3::RrFfMacScheduler", "--lossDeadlineMs=50", "--seed=3"):
        assert a in argv, (a, argv)
    assert sc.env_spec().extra["settings"]["ns3_args"] == {
        "scheduler": "ns3::RrFfMacScheduler", "lossDeadlineMs": "50"}


def test_an_option_of_the_other_ran_is_refused_not_ignored():
    """`scheduler` is LTE's, `nrScheduler` NR's: on the other RAN they would do nothing."""
    from xr_codec_marl.scenarios.xr.scenario import XR
    from xr_codec_marl.scenarios.xr.settings import XRScenario

    with pytest.raises(ValueError, match="'scheduler' applies to --ran lte only; this run is nr"):
        XR.ns3_argv(XRScenario(ran="nr", ns3_args=(("scheduler", "ns3::RrFfMacScheduler"),)))
    with pytest.raises(ValueError, match="'numerology' applies to --ran nr only"):
        XR.ns3_argv(XRScenario(ran="lte", ns3_args=(("numerology", "1"),)))
    argv = XR.ns3_argv(XRScenario(ran="lte", ns3_args=(("scheduler", "ns3::RrFfMacScheduler"),)))
    assert "--ran=lte" in argv and "--bandwidthMhz=20.0" in argv
    with pytest.raises(ValueError, match="the LTE scenario supports bandwidths"):
        XR.ns3_argv(XRScenario(ran="lte", bandwidth_mhz=40.0))
    assert "--bandwidthMhz=40.0" in XR.ns3_argv(XRScenario(ran="nr", bandwidth_mhz=40.0))
    with pytest.raises(ValueError, match="ran must be one of nr, lte"):
        XRScenario(ran="wifi").validate()


def test_ran_is_for_the_ns3_backend_and_recorded_in_results(capsys):
    from xr_codec_marl.cli import main

    assert main(["evaluate", "--backend", "analytic", "--ran", "nr", "--episodes", "1"]) == 2
    assert "--ran applies to --backend ns3 only" in capsys.readouterr().err
    assert main(["evaluate", "--backend", "analytic", "--episodes", "1", "--episode-limit", "2",
                 "--json"]) == 0
    assert "ran" not in json.loads(capsys.readouterr().out)  # not a setting of the analytic model


def test_checkpoint_spec_records_the_scenario_settings(tmp_path):
    import torch

    from xr_codec_marl.learners.checkpoint import spec_summary
    from xr_codec_marl.scenarios.xr.ns3_args import apply_ns3_args
    from xr_codec_marl.scenarios.xr.settings import XRScenario

    sc = apply_ns3_args(XRScenario(ue_speed_mps=0.0), ["pacingMs=2", "users=VR,CG"])
    summary = spec_summary(sc.env_spec())
    torch.save(summary, tmp_path / "s.pt")  # plain data: loadable with weights_only=True
    back = torch.load(tmp_path / "s.pt", weights_only=True)
    assert back["settings"]["ue_speed_mps"] == 0.0
    assert back["settings"]["ns3_args"] == {"pacingMs": "2"}
    assert [u["agent_id"] for u in back["settings"]["users"]] == ["VR", "CG"]


@pytest.mark.parametrize("command,option", [("evaluate", "--policy"), ("serve", "--policy"),
                                            ("sweep", "--policies")])
def test_fixed_rate_policy_is_in_the_help(command, option):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())  # argparse wraps lines
    assert option in text and "fixed:K" in text


def test_evaluation_never_replays_a_seed_of_an_env_that_seeds_copies_one_by_one():
    """ns-3 workers are seeded seed, seed + 1, ...: batch j must start past the last seed
    used (0,1 then 2,3), not at seed + j (0,1 then 1,2: episode 1 twice)."""
    from xr_codec_marl.baselines import make_policy
    from xr_codec_marl.env.factory import make_env
    from xr_codec_marl.experiments.evaluation import evaluate_policy

    resets: list[list[int]] = []

    class SeededCopies:
        def __init__(self, n: int) -> None:
            self.inner = make_env("matrix", "analytic", num_envs=n)
            self.spec, self.num_envs = self.inner.spec, n

        def reset(self, seed=None):
            ob = self.inner.reset(seed=seed)
            ob.info["seeds"] = [seed + i for i in range(self.num_envs)]
            resets.append(ob.info["seeds"])
            return ob

        def step(self, actions):
            return self.inner.step(actions)

        def close(self):
            self.inner.close()

    spec = make_env("matrix", "analytic", num_envs=1).spec
    r = evaluate_policy(SeededCopies, make_policy("random", spec), episodes=5, seed=10,
                        backend="ns3", batch_size=2)
    assert r.episodes == 5 and resets == [[10, 11], [12, 13], [14]]
    # an env with one generator per batch keeps seed + j (results made so reproduce)
    seen = []
    real = make_env

    def plain(n):
        env = real("matrix", "analytic", num_envs=n)
        orig = env.reset
        env.reset = lambda seed=None: (seen.append(seed), orig(seed=seed))[1]
        return env

    evaluate_policy(plain, make_policy("random", spec), episodes=5, seed=10,
                    backend="analytic", batch_size=2)
    assert seen == [10, 11, 12]
