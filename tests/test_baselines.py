"""APS exactly as REFERENCE.md §2, and the fixed/random rules."""

import numpy as np
import pytest

from xr_codec_marl.baselines import make_policy
from xr_codec_marl.scenarios.xr.aps import APSConfig, APSPolicy, nearest_action
from xr_codec_marl.core.api import Observation
from xr_codec_marl.scenarios.xr.kpis import XR_KPI_NAMES
from xr_codec_marl.errors import UsageError
from xr_codec_marl.scenarios.xr.settings import XRScenario

SPEC = XRScenario().env_spec()
PLR = XR_KPI_NAMES.index("plr")


def step_with_plr(plr):
    plr = np.asarray(plr, dtype=np.float32)
    kpis = np.zeros(plr.shape + (len(XR_KPI_NAMES),), np.float32)
    kpis[..., PLR] = plr
    b = plr.shape[0]
    return Observation(np.zeros((b, 3, 5)), np.zeros((b, 15)), np.ones((b, 3, 10), bool), {"kpis": kpis})


def test_aps_rule_halves_keeps_and_raises():
    aps = APSPolicy(SPEC, APSConfig(start="mid"))
    aps.reset(1)
    start = aps.rates_mbps.copy()  # AR 5.25, VR 20, CG 20
    aps.act(step_with_plr([[0.20, 0.05, 0.01]]))
    np.testing.assert_allclose(aps.rates_mbps, start * [0.5, 1.0, 1.1])
    # boundaries: exactly 10 % keeps, exactly 2 % keeps
    before = aps.rates_mbps.copy()
    aps.act(step_with_plr([[0.10, 0.02, 0.02]]))
    np.testing.assert_allclose(aps.rates_mbps, before)


def test_aps_clips_to_the_codec_range_and_accumulates_small_increases():
    aps = APSPolicy(SPEC, APSConfig(start="min"))
    aps.reset(1)
    for _ in range(3):
        aps.act(step_with_plr([[0.5, 0.5, 0.5]]))
    np.testing.assert_allclose(aps.rates_mbps, [[0.5, 10.0, 10.0]])  # floor
    actions = [aps.act(step_with_plr([[0.0, 0.0, 0.0]]))[0, 1] for _ in range(40)]
    assert actions[0] == 0  # 11 Mbps rounds to the 10 Mbps grid point ...
    assert max(actions) == 9  # ... but x1.1 steps accumulate up to the 30 Mbps ceiling
    np.testing.assert_allclose(aps.rates_mbps, [[10.0, 30.0, 30.0]])


def test_nearest_action_maps_rates_to_the_grid():
    values = np.array([[0.5, 1.0, 2.0]])
    np.testing.assert_array_equal(nearest_action(values, np.array([[0.6], [1.6], [9.0]])), [[0], [2], [2]])


def test_aps_config_is_validated():
    with pytest.raises(ValueError, match="thresholds"):
        APSConfig(loss_low=0.2, loss_high=0.1).validate()


def test_fixed_and_random_respect_availability():
    obs = step_with_plr(np.zeros((4, 3)))
    obs.avail_actions[:, 1, 7:] = False
    assert (make_policy("max", SPEC).act(obs)[:, 1] == 6).all()
    assert (make_policy("min", SPEC).act(obs) == 0).all()
    rnd = make_policy("random", SPEC)
    rnd.reset(4, seed=0)
    draws = np.concatenate([rnd.act(obs) for _ in range(50)])
    assert draws[:, 1].max() <= 6 and len(np.unique(draws[:, 0])) == 10


def test_unknown_policy_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown policy 'nope'; allowed: aps, aps-x1.5, best-fixed, max, min, random"):
        make_policy("nope", SPEC)
