"""The PettingZoo adapter passes PettingZoo's own parallel API test."""

import numpy as np
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
