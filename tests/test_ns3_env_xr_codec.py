"""Ns3Env with the real ns-3 XR scenario (``xr-codec``, built by ``build_ns3()``) and APS.

One real episode of 20 windows per worker, two workers in parallel, through the Python agent
server: KPIs are sane, observations/rewards come out of the shared maths, and APS halves the
codec rate of a user after a window with more than 10 % loss.
"""

from __future__ import annotations

import numpy as np
import pytest

from xr_codec_marl.baselines import make_policy
from xr_codec_marl.env.ns3_env import Ns3Env
from xr_codec_marl.xr.scenario import XRScenario

pytestmark = pytest.mark.ns3
WINDOWS = 20


@pytest.fixture(scope="module")
def built() -> None:
    from xr_codec_marl.bridge.build import build_ns3, is_up_to_date

    if not is_up_to_date():
        build_ns3()


def test_aps_episode_on_ns3_has_sane_kpis_and_adapts(built, tmp_path):
    sc = XRScenario(ring_m=400.0, episode_limit=WINDOWS)
    env = Ns3Env(sc, workers=2, timeout_s=60.0, connect_timeout_s=60.0, log_dir=tmp_path)
    try:
        policy = make_policy("aps", env.spec)
        ob = env.reset(seed=11)
        policy.reset(2, seed=11)
        assert ob.info["seeds"] == [11, 12]
        k = env.spec.kpi_index
        history, rewards = [], []
        for t in range(WINDOWS):
            res = env.step(policy.act(ob))
            history.append(res.info["kpis"])
            rewards.append(res.rewards)
            ob = res
            assert res.done.all() == (t == WINDOWS - 1), res.info["truncation_reason"]
        assert res.info["truncation_reason"] == ["time limit"] * 2
    finally:
        env.close()
    kpis = np.stack(history)  # [T, B, N, K]
    pdr, plr = kpis[..., k("pdr")], kpis[..., k("plr")]
    delay, rate = kpis[..., k("delay_ms")], kpis[..., k("codec_rate_mbps")]
    assert ((0 <= pdr) & (pdr <= 1)).all() and np.allclose(pdr + plr, 1, atol=1e-4)
    assert (delay[pdr > 0] > 0).all()
    assert (kpis[..., k("throughput_mbps")] >= 0).all()
    rew = np.stack(rewards)
    assert rew.shape == (WINDOWS, 2, 3) and np.isfinite(rew).all()
    assert ((rew[..., :2] >= 0) & (rew[..., :2] <= 1)).all()  # delay and PDR rewards
    # APS: a window with > 10 % loss halves that user's rate for the next window (unless at min)
    r_min = np.array([min(a.action_values) for a in env.spec.agents])
    lossy = (plr[:-1] > 0.10) & (rate[:-1] > r_min + 1e-6)
    assert lossy.any(), "400 m at max rates should lose packets at least once"
    assert (rate[1:][lossy] < rate[:-1][lossy]).all()
    # at least one worker saw APS bring loss down again: the rates it ends on are not max
    r_max = np.array([max(a.action_values) for a in env.spec.agents])
    assert (rate[-1] < r_max - 1e-6).any()
