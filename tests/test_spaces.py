"""Action spaces in the spec: discrete (ordered or not) and hybrid, their checks, and who
accepts what (value learners: discrete only; max/min: ordered only)."""

from __future__ import annotations

import numpy as np
import pytest

from xr_codec_marl.core.api import AgentSpec, EnvSpec, HybridActions, validate_actions
from xr_codec_marl.core.spaces import ContinuousDim, DiscreteSpace, HybridSpace, describe
from xr_codec_marl.errors import UsageError


def hybrid_spec() -> EnvSpec:
    space = HybridSpace((DiscreteSpace(4, name="server"), DiscreteSpace(2, name="channel")),
                        (ContinuousDim("alpha", 0.0, 1.0), ContinuousDim("power", 0.0, 23.0, "dBm")))
    agents = tuple(AgentSpec(f"d{i}", "device", 3, 8, action_space=space) for i in range(2))
    return EnvSpec("toy-hybrid", agents, 6, ("r",), (), 1.0, 5)


def test_default_space_is_discrete_and_ordered_exactly_with_values() -> None:
    a = AgentSpec("AR", "xr", 5, 3, (1.0, 2.0, 3.0))
    assert a.space == DiscreteSpace(3, (1.0, 2.0, 3.0), ordered=True)
    b = AgentSpec("x", "k", 5, 3)
    assert b.space.is_discrete and not b.space.ordered and b.n_continuous == 0
    with pytest.raises(ValueError, match="n_actions 3 is not"):
        AgentSpec("x", "k", 5, 3, action_space=DiscreteSpace(4))
    with pytest.raises(ValueError, match="2 action values for 3"):
        DiscreteSpace(3, (1.0, 2.0))
    with pytest.raises(ValueError, match="low <= high"):
        ContinuousDim("p", 2.0, 1.0)


def test_hybrid_space_joint_index_and_description() -> None:
    spec = hybrid_spec()
    space = spec.agents[0].space
    assert space.n_joint == 8 and spec.n_continuous == 2 and not spec.is_discrete
    assert [space.unravel(i) for i in (0, 1, 2, 7)] == [(0, 0), (0, 1), (1, 0), (3, 1)]
    assert describe(space) == "hybrid(4x2 + 2 continuous)"
    assert describe(DiscreteSpace(10, ordered=True)) == "discrete(10, ordered)"


def test_validate_actions_checks_continuous_values() -> None:
    spec = hybrid_spec()
    avail = np.ones((3, 2, 8), bool)
    disc = np.zeros((3, 2), np.int64)
    cont = np.full((3, 2, 2), 0.5)
    assert validate_actions(spec, HybridActions(disc, cont), avail).shape == (3, 2)
    with pytest.raises(ValueError, match="pass HybridActions"):
        validate_actions(spec, disc, avail)
    bad = cont.copy()
    bad[1, 0, 1] = 30.0
    with pytest.raises(ValueError, match="'power' of agent d0 out of"):
        validate_actions(spec, HybridActions(disc, bad), avail)
    with pytest.raises(ValueError, match="shape"):
        validate_actions(spec, HybridActions(disc, cont[:, :, :1]), avail)
    nan = cont.copy()
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        validate_actions(spec, HybridActions(disc, nan), avail)


def test_value_learners_refuse_hybrid_spaces_in_one_line() -> None:
    from xr_codec_marl.learners.config import LearnerConfig
    from xr_codec_marl.learners.learner import Dims, Learner
    from xr_codec_marl.learners.registry import get_algo

    with pytest.raises(UsageError, match="value learners need discrete action spaces; agent d0"):
        Learner(get_algo("mh-dvdn"), LearnerConfig(), Dims.from_spec(hybrid_spec()))


def test_max_and_min_need_ordered_actions() -> None:
    from xr_codec_marl.baselines import make_policy

    ordered = EnvSpec("t", (AgentSpec("a", "k", 2, 3, (1.0, 2.0, 3.0)),), 2, ("r",), (), 1.0, 2)
    assert make_policy("max", ordered).name == "max"
    unordered = EnvSpec("t", (AgentSpec("a", "k", 2, 3),), 2, ("r",), (), 1.0, 2)
    with pytest.raises(UsageError, match="ordered"):
        make_policy("min", unordered)
    assert make_policy("fixed:1", unordered).name == "fixed:1"
