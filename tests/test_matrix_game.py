"""The matrix games implement the batched env API; reward components sum to the payoff."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from xr_codec_marl.core.api import VecMultiAgentEnv
from xr_codec_marl.scenarios.matrix.game import GAMES, MatrixGameEnv
from xr_codec_marl.errors import UsageError


@pytest.mark.parametrize("game", sorted(GAMES))
@pytest.mark.parametrize("components", [1, 3])
def test_components_sum_exactly_to_the_payoff(game: str, components: int) -> None:
    payoff = np.asarray(GAMES[game], np.float32)
    joint = np.array(list(itertools.product(*(range(n) for n in payoff.shape))))
    env = MatrixGameEnv(game, num_envs=len(joint), components=components)
    assert isinstance(env, VecMultiAgentEnv)
    first = env.reset()
    assert first.obs.shape == (len(joint), 2, 2) and first.state.shape == (len(joint), 2)
    res = env.step(joint)
    assert res.rewards.shape == (len(joint), components)
    np.testing.assert_array_equal(res.rewards.sum(axis=1), payoff[tuple(joint.T)])
    if components > 1:  # the components really differ from an even split
        assert not np.allclose(res.rewards, payoff[tuple(joint.T)][:, None] / components)
    assert res.terminated.all() and not res.truncated.any()


def test_multi_step_episodes_and_validation() -> None:
    env = MatrixGameEnv("penalty", num_envs=2, episode_limit=3)
    env.reset()
    for t in range(3):
        res = env.step(np.array([[0, 0], [2, 0]]))
        assert res.rewards[:, 0].tolist() == [10.0, -10.0]
        assert res.terminated.all() == (t == 2)
        assert res.obs[0, 0, 1] == pytest.approx((t + 1) / 3)
    with pytest.raises(ValueError, match="out of range"):
        env.step(np.array([[0, 3], [0, 0]]))
    with pytest.raises(UsageError, match="unknown matrix game"):
        MatrixGameEnv("chess")
    assert MatrixGameEnv("qtran").optimal_value == 8.0
