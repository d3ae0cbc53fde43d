"""The PettingZoo adapter passes PettingZoo's own parallel API test."""

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from xr_codec_marl.env.factory import make_env
from xr_codec_marl.env.pettingzoo_adapter import MultiAgentParallelEnv


def test_parallel_api():
    parallel_api_test(MultiAgentParallelEnv(make_env("xr", "analytic", 1, ring_m=300.0, episode_limit=6)), num_cycles=20)


def test_rewards_and_components():
    env = MultiAgentParallelEnv(make_env("xr", "analytic", 1, ring_m=400.0, episode_limit=3))
    obs, infos = env.reset(seed=2)
    assert set(obs) == {"AR", "VR", "CG"} and infos["AR"]["action_mask"].sum() == 10
    _, rew, term, trunc, infos = env.step({a: 9 for a in env.agents})
    comps = infos["VR"]["reward_components"]
    assert set(comps) == {"delay", "pdr", "drr"}
    assert np.isclose(rew["AR"], sum(comps.values()))
    assert not any(term.values())


def test_parallel_api_with_hybrid_actions():
    """multi-mec's hybrid space as a Dict of its target head and a Box of fraction and power;
    arrivals so frequent that every device always has a task, so every head is available to
    the test's random actions."""
    env = MultiAgentParallelEnv(make_env("mec", "analytic", 1, devices=4, servers=2,
                                         actions="hybrid", episode_limit=8, arrival_rate_hz=100.0))
    space = env.action_space("dev0")
    assert set(space.spaces) == {"target", "continuous"} and space["target"].n == 3
    assert space["continuous"].low.tolist() == [0.0, 10.0]
    _, infos = env.reset(seed=0)
    assert infos["dev0"]["action_mask"]["target"].tolist() == [1, 1, 1]
    parallel_api_test(env, num_cycles=20)


def test_hybrid_actions_reach_the_environment():
    env = MultiAgentParallelEnv(make_env("mec", "analytic", 1, devices=2, servers=2,
                                         actions="hybrid", episode_limit=4, arrival_rate_hz=100.0))
    env.reset(seed=1)
    act = {a: {"target": 2, "continuous": np.array([1.0, 23.0], np.float32)} for a in env.agents}
    _, _, _, _, infos = env.step(act)
    assert infos["dev0"]["kpis"]["offloads"] == 1.0  # both devices offloaded their task
    bad = {a: {"target": 2, "continuous": np.array([1.5, 23.0], np.float32)} for a in env.agents}
    with pytest.raises(ValueError, match="alpha"):
        env.step(bad)


def test_parallel_api_with_continuous_codec_rates():
    """XR with continuous rates (``actions="continuous"``): a Dict with no head, only the
    codec rate's Box in Mbps; the rates sampled reach the twin."""
    env = MultiAgentParallelEnv(make_env("xr", "analytic", 1, ring_m=300.0, episode_limit=6,
                                         actions="continuous"))
    space = env.action_space("VR")
    assert set(space.spaces) == {"continuous"}
    assert space["continuous"].low.tolist() == [10.0] and space["continuous"].high.tolist() == [30.0]
    assert env.action_space("AR")["continuous"].low.tolist() == [0.5]
    parallel_api_test(env, num_cycles=20)
    env.reset(seed=0)
    rates = {"AR": 2.5, "VR": 17.0, "CG": 29.0}
    _, _, _, _, infos = env.step({a: {"continuous": np.array([r], np.float32)}
                                  for a, r in rates.items()})
    assert {a: infos[a]["kpis"]["codec_rate_mbps"] for a in rates} == pytest.approx(rates)
