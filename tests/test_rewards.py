"""Reward components, XQI (Table I) and shaping (eqs. 15-23)."""

import numpy as np
import pytest

from xr_codec_marl.scenarios.xr import rewards as R


@pytest.mark.parametrize(
    "delay,expected",
    [(0.0, 1.0), (7.0, 1.0), (7.01, 0.75), (10.0, 0.75), (12.9, 0.5), (13.0, 0.5),
     (19.99, 0.25), (20.0, 0.25), (20.01, 0.0), (500.0, 0.0)],
)
def test_delay_reward_intervals(delay, expected):
    assert R.delay_reward(np.array(delay)) == expected


@pytest.mark.parametrize(
    "pdr,expected", [(1.0, 1.0), (0.99, 1.0), (0.9899, 0.5), (0.95, 0.5), (0.9499, 0.0), (0.0, 0.0)]
)
def test_pdr_reward_intervals(pdr, expected):
    assert R.pdr_reward(np.array(pdr)) == expected


def test_xqi_follows_table_one_exactly():
    # Table I: (PDR %, PDB ms) -> XQI; PDR < 95 or PDB > 20 -> 1.
    def table(p, d):
        if p >= 0.99 and d <= 7:
            return 5
        if p >= 0.99 and d <= 10:
            return 4
        if p >= 0.95 and d <= 13:
            return 3
        if p >= 0.95 and d <= 20:
            return 2
        return 1

    pdrs = np.array([0.0, 0.5, 0.9499, 0.95, 0.97, 0.9899, 0.99, 0.995, 1.0])
    delays = np.array([0.0, 5.0, 7.0, 7.01, 9.0, 10.0, 10.5, 13.0, 13.01, 15.0, 20.0, 20.01, 80.0])
    p, d = np.meshgrid(pdrs, delays, indexing="ij")
    got = R.xr_quality_index(p, d)
    want = np.vectorize(table)(p, d)
    np.testing.assert_array_equal(got, want)


def test_drr_and_team_minimum():
    kpis = {
        "delay_ms": np.array([[5.0, 11.0, 25.0]]),
        "pdr": np.array([[1.0, 0.96, 0.999]]),
        "throughput_mbps": np.array([[5.0, 30.0, 15.0]]),
    }
    team = R.team_rewards(kpis, np.array([10.0, 30.0, 30.0]))
    # delay: min(1, 0.5, 0) = 0; pdr: min(1, 0.5, 1) = 0.5; drr: min(0.5, 1, 0.5) = 0.5
    np.testing.assert_allclose(team, [[0.0, 0.5, 0.5]])


def test_shaping_rewards_improvement_within_an_interval():
    # delay 9 -> 8 ms stays in (7, 10]: the plain reward is flat, the shaped one rises.
    assert R.delay_reward(np.array(9.0)) == R.delay_reward(np.array(8.0))
    assert R.shaping_term("delay", np.array(9.0), np.array(8.0)) > 0
    assert R.shaping_term("delay", np.array(8.0), np.array(9.0)) < 0
    # PDR 0.96 -> 0.98 stays in [0.95, 0.99): better PDR, positive bonus.
    assert R.shaping_term("pdr", np.array(0.96), np.array(0.98)) > 0
    assert R.shaping_term("drr", np.array(0.4), np.array(0.6)) > 0
    # No change in the KPI, no bonus (gamma_p = 1).
    for comp, x in (("delay", 8.0), ("pdr", 0.97), ("drr", 0.5)):
        assert R.shaping_term(comp, np.array(x), np.array(x)) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="unknown reward component"):
        R.shaping_term("latency", np.array(1.0), np.array(1.0))


def test_team_rewards_with_shaping_add_the_bonus_before_the_minimum():
    prev = {"delay_ms": np.array([9.0]), "pdr": np.array([0.97]), "throughput_mbps": np.array([4.0])}
    now = {"delay_ms": np.array([8.0]), "pdr": np.array([0.98]), "throughput_mbps": np.array([6.0])}
    plain = R.team_rewards(now, np.array([10.0]))
    shaped = R.team_rewards(now, np.array([10.0]), kpis_prev=prev, shaping=True)
    assert np.all(shaped > plain)
