"""Adaptation diagnostics (issue 14): a collapsed policy must be visible at a glance."""

from __future__ import annotations

import numpy as np
import pytest

from xr_codec_marl.baselines import make_policy
from xr_codec_marl.env.factory import make_env
from xr_codec_marl.experiments.actions import action_diagnostics, describe
from xr_codec_marl.experiments.evaluation import evaluate_policy


def diag(actions, choice=None, kpis=None, n_actions=4):
    a = np.asarray(actions)[:, None, None]  # [T] -> [T, 1, 1]
    c = np.ones_like(a, bool) if choice is None else np.asarray(choice)[:, None, None]
    k = np.zeros((*a.shape, 1)) if kpis is None else np.asarray(kpis, float)[:, None, None, None]
    return action_diagnostics(a, c, k, n_actions, ("x",), ("state",))["x"]


def test_a_constant_policy_has_no_entropy_no_changes_and_follows_nothing():
    d = diag([2] * 10, kpis=np.arange(10))
    assert d["histogram"] == [0, 0, 10, 0] and d["modal"] == 2
    assert d["off_modal"] == 0 and d["entropy_bits"] == 0 and d["changes"] == 0
    assert d["follows"]["state"] is None  # a constant action correlates with nothing


def test_alternating_actions_have_one_bit_and_change_every_window():
    d = diag([0, 3] * 5)
    assert d["entropy_bits"] == pytest.approx(1.0) and d["changes"] == 1.0
    assert d["off_modal"] == pytest.approx(0.5)


def test_follows_measures_how_the_action_tracks_the_state_before_it():
    state = np.array([0, 3, 1, 2, 2, 3, 0, 3, 1, 2, 0, 1], float)
    tracking = np.r_[0, state[:-1]].astype(int)  # action t = the state of window t - 1
    assert diag(tracking, kpis=state)["follows"]["state"] == pytest.approx(1.0)
    against = 3 - tracking
    assert diag(against, kpis=state)["follows"]["state"] == pytest.approx(-1.0)


def test_windows_without_a_choice_do_not_count():
    d = diag([1, 1, 2, 2], choice=[True, True, False, False])
    assert d["windows"] == 2 and d["histogram"] == [0, 2, 0, 0] and d["entropy_bits"] == 0


def test_a_kpi_that_only_echoes_the_action_is_not_called_state():
    actions = np.array([0, 1, 2, 3, 2, 1, 0, 1, 2, 3])
    d = diag(actions, kpis=actions * 10.0)  # e.g. the codec rate of the window's action
    assert d["follows"]["state"] is None


def test_evaluation_reports_them_and_they_tell_a_constant_from_aps():
    spec = make_env("xr", "analytic", num_envs=1, ring_m=400.0).spec
    out = {}
    for name in ("fixed:5", "aps"):
        r = evaluate_policy(lambda n: make_env("xr", "analytic", num_envs=n, ring_m=400.0),
                            make_policy(name, spec), episodes=6, seed=1, backend="analytic")
        out[name] = r.summary()["actions"]
    assert all(d["entropy_bits"] == 0 and d["modal"] == 5 for d in out["fixed:5"].values())
    assert any(d["entropy_bits"] > 0.2 and d["changes"] > 0 for d in out["aps"].values())
    assert "in 100 % of 240 windows" in describe(out["fixed:5"])


def test_mec_agents_without_a_task_have_no_choice():
    spec = make_env("mec", "analytic", num_envs=1, devices=5, servers=2).spec
    r = evaluate_policy(lambda n: make_env("mec", "analytic", num_envs=n, devices=5,
                                           servers=2, arrival_rate_hz=0.5),
                        make_policy("random", spec), episodes=2, seed=0, backend="analytic")
    d = r.summary()["actions"]
    # 0.5 tasks/s for 10 s: far fewer decisions than the 200 windows per agent
    assert all(0 < v["windows"] < 150 for v in d.values())
    assert all(v["entropy_bits"] > 1.0 for v in d.values())  # random over many actions


def test_best_fixed_is_the_constant_of_highest_team_reward_on_its_own_tuning_seeds():
    from xr_codec_marl.baselines.best_constant import TUNE_SEED

    spec = make_env("xr", "analytic", num_envs=1, ring_m=400.0).spec
    best = make_policy("best-fixed", spec)
    assert best.scores.shape == (spec.n_actions,) and best.k == int(np.argmax(best.scores))
    assert best.name == f"best-fixed:{best.k}" and TUNE_SEED > 10_000  # far from eval seeds
    obs = make_env("xr", "analytic", num_envs=2, ring_m=400.0).reset(seed=0)
    assert (best.act(obs) == best.k).all()

    def team(policy):  # on evaluation seeds the tuning never saw
        r = evaluate_policy(lambda n: make_env("xr", "analytic", num_envs=n, ring_m=400.0),
                            policy, episodes=8, seed=0, backend="analytic")
        return float(r.episode_rewards.sum(-1).mean())

    assert team(best) >= max(team(make_policy("fixed:0", spec)),
                             team(make_policy("fixed:9", spec)))


def test_best_fixed_tunes_on_the_twin_of_the_env_it_plays():
    """An analytic env's profile and an ns-3 env's RAN pick the model best-fixed tunes on:
    the ns-3 NR spec and the ns3-nr twin give the same scores, the paper profile others."""
    from xr_codec_marl.scenarios.xr.scenario import XR
    from xr_codec_marl.scenarios.xr.settings import XRScenario

    twin = make_env("xr", "analytic", num_envs=1, ring_m=400.0, profile="ns3-nr").spec
    ns3 = XRScenario(ring_m=400.0, ran="nr", ns3_args=(("shadowing", "true"),))
    settings, options = XR.analytic_twin(ns3.env_spec("xr-codec"))
    assert options == {"profile": "ns3-nr"} and settings.ran == "" and not settings.ns3_args
    a = make_policy("best-fixed", twin, episodes=4)
    b = make_policy("best-fixed", ns3.env_spec("xr-codec"), episodes=4)
    paper = make_policy("best-fixed", make_env("xr", "analytic", num_envs=1, ring_m=400.0).spec,
                        episodes=4)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert not np.allclose(a.scores, paper.scores)
    assert XR.analytic_twin(XRScenario(ran="lte").env_spec())[1] == {"profile": "ns3-lte"}


def test_aps_sibling_with_a_faster_increase():
    spec = make_env("xr", "analytic", num_envs=1).spec
    p = make_policy("aps-x1.5", spec)
    assert p.name == "aps-x1.5" and p.config.increase_factor == 1.5
    assert make_policy("aps", spec).config.increase_factor == 1.1


def test_table4_compares_the_team_reward_beside_the_kpis():
    import pandas as pd

    from xr_codec_marl.core.kpis import KpiSpec
    from xr_codec_marl.experiments.compare import compare_to_reference, with_team_reward

    rows = pd.DataFrame({
        "policy": ["ref"] * 4 + ["p"] * 4, "seed": 0, "episode": [0, 1, 2, 3] * 2,
        "agent": "a", "xr_index": [1.0, 1.1, 0.9, 1.0, 1.2, 1.3, 1.1, 1.2],
        "reward_delay": [0.5] * 4 + [0.6] * 4, "reward_pdr": [0.4] * 4 + [0.2] * 4})
    kpis = (KpiSpec("xr_index", "", "higher", "agent", True),)
    rows2, kpis2 = with_team_reward(rows, kpis)
    assert [k.key for k in kpis2] == ["xr_index", "team_reward"]
    np.testing.assert_allclose(rows2["team_reward"], [0.9] * 4 + [0.8] * 4)
    cmp = compare_to_reference(rows2, "ref", kpis2)
    tr = cmp[(cmp["kpi"] == "team_reward") & (cmp["policy"] == "p")].iloc[0]
    # a KPI won, the objective lost: the table must say both
    assert tr["change_pct"] == pytest.approx(-100 / 9, rel=1e-6) and tr["worse"]
    assert with_team_reward(rows.drop(columns=["reward_delay", "reward_pdr"]), kpis)[1] == kpis
