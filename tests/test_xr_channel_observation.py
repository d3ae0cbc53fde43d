"""The XR scenario's channel information: the ``sinr_db`` KPI on both backends and
``observation="channel"`` (eq. 13 plus the UE's own SINR), built by the same maths on both."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from xr_codec_marl.scenarios.xr.analytic import PROFILES, AnalyticXREnv
from xr_codec_marl.scenarios.xr.glue import KpiFeatures, with_channel_sizes
from xr_codec_marl.scenarios.xr.observation import sinr_feature
from xr_codec_marl.scenarios.xr.scenario import XR
from xr_codec_marl.scenarios.xr.settings import XRScenario


def test_channel_observation_sizes_and_bad_value():
    sc = XRScenario(observation="channel")
    spec = sc.env_spec()
    assert spec.obs_size == 3 + 3 and spec.state_size == 6 * 3
    assert XRScenario().env_spec().obs_size == 5
    with pytest.raises(ValueError, match="observation must be one of eq13, channel"):
        XRScenario(observation="oracle").validate()


def test_analytic_sinr_kpi_falls_with_distance_and_feeds_the_observation():
    sc = XRScenario(ring_m=400.0, observation="channel", episode_limit=4)
    env = AnalyticXREnv(sc, num_envs=64, params=PROFILES["ns3-nr"])
    k = env.spec.kpi_index
    first = env.reset(seed=3)
    # nothing is measured at reset (as in ns-3's start-up report): zeros
    assert (first.info["kpis"][..., k("sinr_db")] == 0).all() and (first.obs[:, :, -1] == 0).all()
    res = env.step(np.full((64, 3), 5))
    sinr = res.info["kpis"][..., k("sinr_db")]
    dist = res.info["distance_m"]
    # path loss dominates 6 dB shadowing over 35..400 m: strongly negative correlation
    assert np.corrcoef(dist.ravel(), sinr.ravel())[0, 1] < -0.5
    np.testing.assert_allclose(res.obs[:, :, -1], sinr_feature(sinr), rtol=1e-6)
    np.testing.assert_allclose(res.state.reshape(64, 3, 6)[..., 5], sinr_feature(sinr), rtol=1e-6)


def test_eq13_observation_is_unchanged_by_the_sinr_kpi():
    """The default observation has no SINR column and the default analytic run draws the
    same random numbers as before the KPI existed (no extra draws at reset)."""
    base = AnalyticXREnv(XRScenario(episode_limit=3), num_envs=4)
    chan = AnalyticXREnv(XRScenario(episode_limit=3, observation="channel"), num_envs=4)
    a, b = base.reset(seed=5), chan.reset(seed=5)
    np.testing.assert_array_equal(a.obs, b.obs[..., :-1])
    for _ in range(3):
        act = np.full((4, 3), 7)
        ra, rb = base.step(act), chan.step(act)
        np.testing.assert_array_equal(ra.info["kpis"], rb.info["kpis"])
        np.testing.assert_array_equal(ra.obs, rb.obs[..., :-1])
        np.testing.assert_array_equal(ra.rewards, rb.rewards)


def test_ns3_glue_builds_the_analytic_channel_observation_from_kpis():
    """The glue the ns-3 backend uses gives exactly the analytic backend's obs and state."""
    sc = XRScenario(observation="channel", episode_limit=3)
    env = AnalyticXREnv(sc, num_envs=8, params=PROFILES["ns3-nr"])
    env.reset(seed=9)
    act = np.random.default_rng(0).integers(0, 10, (8, 3))
    res = env.step(act)
    glue = XR.ns3_glue(sc.env_spec("xr-codec"), sc)
    assert glue.problems() == []
    obs, state = glue.observe(act, res.info["kpis"])
    np.testing.assert_allclose(obs, res.obs, rtol=1e-6)
    np.testing.assert_allclose(state, res.state, rtol=1e-6)


def test_simulators_announce_eq13_sizes_and_serve_upgrades_them():
    sc = XRScenario(observation="channel")
    env_spec = sc.env_spec("xr-codec")
    wire = XR.ns3_glue(env_spec, sc).wire_spec()
    assert wire.obs_size == 5 and wire.state_size == 15
    assert with_channel_sizes(wire) == env_spec
    # serve builds the glue from a simulator's (eq. 13) spec: it upgrades it to the env's
    glue = XR.ns3_glue(wire, sc)
    assert glue.spec == env_spec and glue.problems() == []
    # without the channel the glue passes the spec through
    eq13 = XRScenario().env_spec("xr-codec")
    assert XR.ns3_glue(eq13, XRScenario()).wire_spec() == eq13


def test_glue_without_sinr_kpi_says_so():
    sc = XRScenario(observation="channel")
    spec = sc.env_spec("xr-codec")
    names = tuple(n for n in spec.kpi_names if n != "sinr_db")
    from dataclasses import replace

    glue = KpiFeatures(replace(spec, kpi_names=names, kpis=()), channel=True)
    assert "KPI 'sinr_db' missing" in glue.problems()


def test_cli_flag_sets_the_observation():
    from xr_codec_marl.scenarios.xr import cli

    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    args = p.parse_args(["--observation", "channel"])
    args.backend = "analytic"
    assert cli.kwargs_from_args(args)["observation"] == "channel"
    with pytest.raises(SystemExit):
        p.parse_args(["--observation", "oracle"])
