"""XR with a continuous codec rate (issue 15): ``--actions continuous``.

Each agent's space is the codec rate in [d_min, d_max] Mbps (one bounded continuous dimension,
no categorical head); the twin applies the rate as is; rules choose in the rate table and send
its rates; the previous choices of eq. 13 become the rates as fractions of their ranges.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from xr_codec_marl.cli import main
from xr_codec_marl.core.api import HybridActions
from xr_codec_marl.core.spaces import HybridSpace
from xr_codec_marl.env.factory import make_env
from xr_codec_marl.scenarios.xr.analytic import AnalyticXREnv
from xr_codec_marl.scenarios.xr.glue import KpiFeatures
from xr_codec_marl.scenarios.xr.settings import XRScenario


def _rates(sc: XRScenario, index: np.ndarray) -> HybridActions:
    """The continuous actions sending the table rates of the discrete actions ``index``."""
    table = sc.rate_table()
    rates = table[np.arange(sc.n_agents)[None, :], index]
    return HybridActions(np.zeros_like(index), rates[..., None])


def test_the_option_gives_each_agent_its_codec_range_as_one_continuous_dimension():
    sc = XRScenario(actions="continuous", n_rates=7)
    spec = sc.env_spec()
    assert spec.n_continuous == 1 and not spec.is_discrete and spec.n_actions == 1
    for agent, user in zip(spec.agents, sc.users):
        space = agent.space
        assert isinstance(space, HybridSpace) and space.heads == ()
        (dim,) = space.continuous
        assert (dim.name, dim.unit) == ("codec_rate", "Mbps")
        assert (dim.low, dim.high) == (user.rate_min_mbps, user.rate_max_mbps)
    assert spec.extra["settings"]["actions"] == "continuous"
    # the default stays the paper's discrete table, recorded as such
    default = XRScenario().env_spec()
    assert default.is_discrete and default.n_actions == 10
    assert default.agents[1].action_values[-1] == 30.0
    assert default.extra["settings"]["actions"] == "discrete"
    with pytest.raises(ValueError, match="actions must be one of discrete, continuous"):
        XRScenario(actions="hybrid").validate()


def test_a_bad_actions_flag_is_a_usage_error(capsys):
    assert main(["evaluate", "--env", "xr", "--actions", "hybrid", "--policy", "aps"]) == 2
    err = capsys.readouterr().err
    assert "--actions" in err and "continuous" in err and len(err.strip().splitlines()) == 1


def test_table_rates_reproduce_the_discrete_actions_on_the_twin():
    """Same seed, the table's rates sent as continuous values: the same KPIs, rewards and
    observations (the previous-choice features, fraction of the range, included)."""
    disc = AnalyticXREnv(XRScenario(ring_m=350.0, episode_limit=12), num_envs=3)
    cont = AnalyticXREnv(XRScenario(ring_m=350.0, episode_limit=12, actions="continuous"),
                         num_envs=3)
    rng = np.random.default_rng(0)
    a, b = disc.reset(seed=4), cont.reset(seed=4)
    np.testing.assert_array_equal(a.obs, b.obs)
    for _ in range(12):
        index = rng.integers(0, 10, (3, 3))
        a, b = disc.step(index), cont.step(_rates(cont.scenario, index))
        np.testing.assert_array_equal(a.info["kpis"], b.info["kpis"])
        np.testing.assert_array_equal(a.rewards, b.rewards)
        np.testing.assert_allclose(a.obs, b.obs, atol=1e-6)
        np.testing.assert_allclose(a.state, b.state, atol=1e-6)
    assert b.truncated.all()


def test_a_higher_rate_offers_more_throughput_and_rates_between_the_table_work():
    sc = XRScenario(actions="continuous", ring_m=150.0, episode_limit=8)
    env = AnalyticXREnv(sc, num_envs=2)
    lo, hi = sc.min_rates(), sc.max_rates()
    k = env.spec.kpi_index
    means = []
    for frac in (0.0, 0.13, 0.37, 0.61, 0.88, 1.0):  # most of them off the 10-rate table
        rate = lo + frac * (hi - lo)
        env.reset(seed=5)
        kpis = []
        for _ in range(8):
            res = env.step(HybridActions(np.zeros((2, 3), np.int64),
                                         np.tile(rate, (2, 1))[..., None]))
            kpis.append(res.info["kpis"])
            # the rate in force is reported, and observed as a fraction of the range
            np.testing.assert_allclose(res.info["kpis"][..., k("codec_rate_mbps")],
                                       np.tile(rate, (2, 1)), rtol=1e-6)
            np.testing.assert_allclose(res.obs[:, 0, :3], np.full((2, 3), frac), atol=1e-6)
        means.append(np.stack(kpis)[..., k("throughput_mbps")].mean(axis=(0, 1)))
    means = np.array(means)  # [levels, N]
    assert (np.diff(means, axis=0) > 0).all(), means


@pytest.mark.parametrize("bad", [[31.0], [9.99], [np.nan], [np.inf]])
def test_rates_outside_the_range_or_not_finite_are_refused_like_a_bad_index(bad):
    """As a discrete index out of range is: one ValueError naming the dimension and agent."""
    sc = XRScenario(actions="continuous", episode_limit=4)
    env = AnalyticXREnv(sc, num_envs=1)
    env.reset(seed=0)
    values = np.array([[[5.0], [20.0], [20.0]]])
    values[0, 1] = bad  # VR's range is [10, 30] Mbps
    with pytest.raises(ValueError, match="codec_rate|finite"):
        env.step(HybridActions(np.zeros((1, 3), np.int64), values))
    with pytest.raises(ValueError, match="HybridActions"):
        env.step(np.zeros((1, 3), np.int64))  # no rates at all
    # the bounds themselves are valid rates
    res = env.step(HybridActions(np.zeros((1, 3), np.int64), np.array([[[0.5], [30.0], [10.0]]])))
    np.testing.assert_allclose(res.info["kpis"][0, :, env.spec.kpi_index("codec_rate_mbps")],
                               [0.5, 30.0, 10.0])


def test_the_ns3_glue_builds_the_twins_observations_from_the_reported_rates():
    """What the glue builds from a simulator's KPIs (codec_rate_mbps: the rate in force) is
    what the twin observes, start-up report (zero KPIs: d_max, where simulators start) too."""
    for observation in ("eq13", "channel"):
        sc = XRScenario(actions="continuous", observation=observation, episode_limit=5)
        env = AnalyticXREnv(sc, num_envs=2)
        glue = KpiFeatures(env.spec, channel=observation == "channel")
        assert glue.continuous and glue.problems() == []
        np.testing.assert_array_equal(glue.max_rates, sc.max_rates())
        step = env.reset(seed=3)
        rng = np.random.default_rng(1)
        for t in range(5):
            obs, state = glue.observe(np.zeros((2, 3), np.int64), step.info["kpis"])
            np.testing.assert_allclose(obs, step.obs, atol=1e-6)
            np.testing.assert_allclose(state, step.state, atol=1e-6)
            rate = sc.min_rates() + rng.random((2, 3)) * (sc.max_rates() - sc.min_rates())
            step = env.step(HybridActions(np.zeros((2, 3), np.int64), rate[..., None]))


def _evaluate(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(["evaluate", "--env", "xr", "--episodes", "2", "--seed", "1", "--ring", "350",
                 "--episode-limit", "10", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("policy", ["aps", "fixed:3", "best-fixed", "sinr-fit", "max"])
def test_rules_send_their_table_rates_with_continuous_actions(capsys, policy):
    """APS, the constants and the tuned references run on both options and send the same
    rates: the same results, so comparisons hold across them."""
    disc = _evaluate(capsys, "--policy", policy)
    cont = _evaluate(capsys, "--policy", policy, "--actions", "continuous")
    assert cont["settings"]["actions"] == "continuous" and disc["settings"]["actions"] == "discrete"
    assert cont["policy"] == disc["policy"]  # best-fixed:K, sinr-fit:eta: the same choice
    assert cont["kpis"] == disc["kpis"] and cont["team_reward"] == disc["team_reward"]
    # the adaptation diagnostics count continuous rates by tenths of the range: with K_o = 10
    # the table's rates fall in the bins of their indices, so they read alike too
    assert cont["actions"] == disc["actions"] and cont["actions"]["VR"]["windows"] == 20


def test_mappo_trains_on_continuous_rates_and_its_checkpoint_evaluates(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--env", "xr", "--actions", "continuous", "--algo", "mappo",
                 "--steps", "80", "--seed", "0", "--episode-limit", "10", "--out", str(out),
                 "--no-progress"]) == 0
    assert (out / "checkpoint.pt").is_file()
    from xr_codec_marl.learners.checkpoint import read_checkpoint

    assert read_checkpoint(out)["spec"]["settings"]["actions"] == "continuous"
    got = _evaluate(capsys, "--actions", "continuous", "--policy", str(out))
    rate = got["per_agent"]["VR"]["codec_rate_mbps"]
    assert 10.0 <= rate <= 30.0
    assert got["actions"]["VR"]["windows"] == 20 and len(got["actions"]["VR"]["histogram"]) == 10
    # a continuous checkpoint does not pass for a discrete env, and the error names the option
    capsys.readouterr()
    assert main(["evaluate", "--env", "xr", "--policy", str(out), "--episodes", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "actions 'continuous' -> 'discrete'" in err, err


def test_value_learners_refuse_continuous_rates_in_one_line(tmp_path, capsys):
    assert main(["train", "--env", "xr", "--actions", "continuous", "--algo", "dvdn",
                 "--steps", "10", "--out", str(tmp_path / "v")]) == 2
    assert "policy-gradient" in capsys.readouterr().err


def test_diagnostics_bin_continuous_rates_into_tenths_of_the_range():
    from xr_codec_marl.core.api import had_choice
    from xr_codec_marl.experiments.evaluation import _continuous_only, _levels

    spec = XRScenario(actions="continuous").env_spec()
    only = _continuous_only(spec)
    assert only is not None and only[0].all()
    rates = np.array([[[0.5], [10.0], [30.0]], [[0.5 + 0.95 * 0.999], [12.1], [29.99]]])
    level = _levels(np.zeros((2, 3), np.int64), rates, only)
    choice = had_choice(spec, np.ones((2, 3, 1), bool))  # the one discrete value: still a choice
    assert level.tolist() == [[0, 0, 9], [0, 1, 9]] and choice.all()
    assert not had_choice(XRScenario().env_spec(), np.eye(10, dtype=bool)[[0, 0, 0]][None]).any()
    assert _continuous_only(XRScenario().env_spec()) is None  # discrete: counted as indices


def test_make_env_takes_the_option():
    env = make_env("xr", "analytic", 2, actions="continuous", episode_limit=3)
    try:
        assert env.spec.n_continuous == 1
        step = env.reset(seed=0)
        assert step.avail_actions.shape == (2, 3, 1)
    finally:
        env.close()


def test_the_simulator_gets_the_option_and_ns3_arg_sets_it():
    from xr_codec_marl.scenarios.xr.ns3_args import apply_ns3_args, scenario_arguments

    assert "--actions=discrete" in scenario_arguments(XRScenario())
    assert "--actions=continuous" in scenario_arguments(XRScenario(actions="continuous"))
    assert apply_ns3_args(XRScenario(), ["actions=continuous"]).actions == "continuous"
    with pytest.raises(ValueError, match="actions must be one of"):
        apply_ns3_args(XRScenario(), ["actions=hybrid"])
