"""The Fig. 6 framework on test doubles with hand-computable Q-values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explain_fakes import CyclePolicy, FakeEnv, TableLearner, fake_spec
from xr_codec_marl.explain.framework import (
    ALT_COLUMNS,
    collect_kpis,
    explain_episodes,
    explanation_columns,
    kpi_columns,
    write_table,
)
from xr_codec_marl.scenarios.xr.kpis import XR_KPIS

COLUMNS = explanation_columns(("ring_m",))
KPI_COLUMNS = kpi_columns(("ring_m",), [k.key for k in XR_KPIS])

# rows: delay, pdr, drr; columns: actions 0..3. Column sums 4, 6, 6, 4.5.
Q = np.array([[1.0, 2.0, 0.0, 0.5], [3.0, 5.0, 4.0, 1.0], [0.0, -1.0, 2.0, 3.0]])
# +t on (pdr, action 3): sums at t=1 -> [4, 6, 6, 5.5] (greedy 1), t=2 -> [.., 6.5] (greedy 3).
DRIFT = np.zeros((3, 4))
DRIFT[1, 3] = 1.0


def _run(
    anchor: str = "learner", episodes: int = 2
) -> tuple[pd.DataFrame, FakeEnv, TableLearner, TableLearner]:
    spec = fake_spec()
    env = FakeEnv(num_envs=2, spec=spec)
    a = TableLearner(spec, Q, DRIFT, name="a")
    b = TableLearner(spec, -Q, name="b")
    table = explain_episodes(env, CyclePolicy(spec, offset=1), {"alg-a": a, "alg-b": b},
                             episodes=episodes, seed=7, settings={"ring_m": 300.0}, backend="fake",
                             anchor=anchor)  # type: ignore[arg-type]  # fmt: skip
    return table, env, a, b


def _row(table: pd.DataFrame, alg: str, t: int, comp: str, episode: int = 0, env: int = 0,
         agent: str = "VR") -> pd.Series:  # fmt: skip
    sel = table[(table.algorithm == alg) & (table.t == t) & (table.component == comp)
                & (table.episode == episode) & (table.env == env) & (table.agent == agent)]  # fmt: skip
    assert len(sel) == 1
    return sel.iloc[0]


def test_table_shape_and_columns() -> None:
    table, _, a, b = _run()
    assert list(table.columns) == list(COLUMNS)
    # 2 learners x 2 episodes x 3 windows x 2 envs x 3 agents x 3 components
    assert len(table) == 2 * 2 * 3 * 2 * 3 * 3
    assert set(table.agent) == {"AR", "VR", "CG"} and set(table.component) == {
        "delay",
        "pdr",
        "drr",
    }
    assert (
        (table.ring_m == 300.0).all()
        and (table.seed == 7).all()
        and (table.backend == "fake").all()
    )
    assert a.resets == 2 and b.resets == 2


def test_learners_see_the_reference_trajectory() -> None:
    table, env, a, _ = _run(episodes=1)
    # reference plays (t + 1) % 4; the env stepped with exactly those actions
    np.testing.assert_array_equal([s[0, 0] for s in env.steps_taken], [1, 2, 3])
    # learners were fed windows t = 0, 1, 2 with prev_actions = none yet, then 1, then 2
    assert [float(t[0, 0]) for t, _ in a.calls] == [0.0, 1.0, 2.0]
    assert a.calls[0][1] is None
    assert [int(p[0, 0]) for _, p in a.calls[1:]] == [1, 2]
    ref = table[(table.algorithm == "alg-a") & (table.component == "pdr")]
    assert (ref.reference_action.to_numpy() == (ref.t.to_numpy() + 1) % 4).all()


def test_metrics_match_hand_computation() -> None:
    table, *_ = _run()
    # t = 0 and 1: greedy action 1; inc vs 2: [2, 1, -3], dec vs 0: [1, 2, -1]
    for t in (0, 1):
        r = {c: _row(table, "alg-a", t, c) for c in ("delay", "pdr", "drr")}
        assert all(
            x.chosen_action == 1 and x.inc_action == 2 and x.dec_action == 0 for x in r.values()
        )
        assert [r[c].q_chosen for c in ("delay", "pdr", "drr")] == [2.0, 5.0, -1.0]
        assert [r[c].rdfx_inc for c in ("delay", "pdr", "drr")] == [2.0, 1.0, -3.0]
        assert [r[c].rdfx_dec for c in ("delay", "pdr", "drr")] == [1.0, 2.0, -1.0]
        # inc: positives sum to 3 = d -> no MSX+; dec: MSX+ = {pdr}, v = 0 -> MSX- = {drr}
        assert not any(r[c].msx_plus_inc for c in r) and r["pdr"].msx_plus_inc_size == 0
        assert [r[c].msx_plus_dec for c in ("delay", "pdr", "drr")] == [False, True, False]
        assert [r[c].msx_minus_dec for c in ("delay", "pdr", "drr")] == [False, False, True]
        assert r["delay"].msx_plus_dec_size == 1 and r["delay"].msx_minus_dec_size == 1
    # t = 2: Q_pdr[3] = 3 -> greedy 3 (the highest rate): inc falls back to itself -> 0;
    # dec vs 2: [0.5, -1, 1]; MSX+ = {drr, delay} (1 + 0.5 > 1), v = 1 -> MSX- empty (1 > 1 false)
    r = {
        c: _row(table, "alg-a", 2, c, episode=1, env=1, agent="CG") for c in ("delay", "pdr", "drr")
    }
    assert r["pdr"].chosen_action == 3 and r["pdr"].inc_action == 3 and r["pdr"].dec_action == 2
    assert [r[c].q_chosen for c in ("delay", "pdr", "drr")] == [0.5, 3.0, 3.0]
    assert [r[c].rdfx_inc for c in ("delay", "pdr", "drr")] == [0.0, 0.0, 0.0]
    assert [r[c].rdfx_dec for c in ("delay", "pdr", "drr")] == [0.5, -1.0, 1.0]
    assert [r[c].msx_plus_dec for c in ("delay", "pdr", "drr")] == [True, False, True]
    assert not any(r[c].msx_minus_dec for c in r)
    # the second learner (-Q): greedy 0 (the lowest rate): dec is 0, inc vs 1 = [1, 2, -1]
    r = {c: _row(table, "alg-b", 1, c) for c in ("delay", "pdr", "drr")}
    assert r["pdr"].chosen_action == 0 and r["pdr"].dec_action == 0
    assert [r[c].rdfx_dec for c in ("delay", "pdr", "drr")] == [0.0, 0.0, 0.0]
    assert [r[c].rdfx_inc for c in ("delay", "pdr", "drr")] == [1.0, 2.0, -1.0]


def test_reference_anchor_explains_the_reference_action() -> None:
    table, *_ = _run(anchor="reference")
    # t = 0: reference plays 1 -> same as greedy; t = 2: reference plays 3 -> same as greedy;
    # t = 1: reference plays 2: inc vs 3 = Q[:,2] - (Q[:,3] + [0,1,0]) = [-0.5, 2, -1]
    r = {c: _row(table, "alg-a", 1, c) for c in ("delay", "pdr", "drr")}
    assert r["pdr"].chosen_action == 2 == r["pdr"].reference_action
    assert [r[c].rdfx_inc for c in ("delay", "pdr", "drr")] == [-0.5, 2.0, -1.0]
    with pytest.raises(ValueError, match="anchor"):
        _run(anchor="nobody")


def test_wrong_q_shape_is_reported() -> None:
    spec = fake_spec()
    bad = TableLearner(spec, Q[:2])  # two components while the spec has three
    with pytest.raises(ValueError, match="expected"):
        explain_episodes(FakeEnv(spec=spec), CyclePolicy(spec), {"bad": bad}, episodes=1)


def test_collect_kpis_averages_windows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = fake_spec()
    kpis = collect_kpis(FakeEnv(num_envs=2, spec=spec, ring_m=400.0), CyclePolicy(spec), episodes=2,
                        seed=3, settings={"ring_m": 400.0}, backend="fake", name="aps")  # fmt: skip
    assert list(kpis.columns) == list(KPI_COLUMNS) and len(kpis) == 2 * 2 * 3
    # actions 0, 1, 2 over the three windows -> mean u = 1
    row = kpis.iloc[0]
    assert row.policy == "aps" and row.ring_m == 400.0
    assert row.delay_ms == pytest.approx(6.0) and row.jitter_ms == pytest.approx(2.0)
    assert row.plr == pytest.approx(0.01) and row.xr_index == pytest.approx(4.0)
    assert row.throughput_mbps == pytest.approx(2.0 + 4.0)
    paths = write_table(kpis, str(tmp_path / "kpis"))
    back = pd.read_csv(paths[0])
    assert len(back) == len(kpis) and list(back.columns) == list(KPI_COLUMNS)


def test_importance_weighted_learners_choose_by_weighted_sum() -> None:
    """A learner acting on argmax_u sum_c l_c Q_c is explained at that action."""
    spec = fake_spec()
    learner = TableLearner(spec, Q)
    learner.action_weights = np.array([0.0, 0.0, 1.0])  # only drr counts -> action 3
    table = explain_episodes(FakeEnv(spec=spec), CyclePolicy(spec), {"w": learner}, episodes=1)
    assert (table.chosen_action == 3).all()
    plain = explain_episodes(FakeEnv(spec=spec), CyclePolicy(spec), {"p": TableLearner(spec, Q)}, 1)
    assert (plain.chosen_action == 1).all()


def test_unordered_actions_have_no_inc_dec_but_an_alternative_comparison() -> None:
    """RDFX inc/dec need ordered actions: NaN for unordered agents; 'alt' explains them."""
    spec = fake_spec(ordered=False)
    table = explain_episodes(FakeEnv(spec=spec), CyclePolicy(spec), {"a": TableLearner(spec, Q)},
                             episodes=1)
    assert list(table.columns) == explanation_columns((), alt=True)
    assert set(ALT_COLUMNS) <= set(table.columns)
    for col in ("inc_action", "dec_action", "rdfx_inc", "rdfx_dec", "msx_plus_inc",
                "msx_minus_dec_size"):
        assert table[col].isna().all(), col
    # greedy action 1 (column sums 4, 6, 6, 4.5): the strongest alternative is action 2 (tie
    # at 6 goes to the lower index among the others): RDX = Q[:, 1] - Q[:, 2] = [2, 1, -3]
    t0 = table[(table.t == 0) & (table.env == 0) & (table.agent == "VR")].set_index("component")
    assert (t0.chosen_action == 1).all() and (t0.alt_action == 2).all()
    assert list(t0.rdx_alt) == [2.0, 1.0, -3.0]
    # positives sum to 3 = the disadvantage: no MSX+ (strict), as for 'inc' in the ordered case
    assert (t0.msx_plus_alt_size == 0).all()
    # the ordered spec carries no alt columns and no NaN
    ordered = explain_episodes(FakeEnv(spec=fake_spec()), CyclePolicy(fake_spec()),
                               {"a": TableLearner(fake_spec(), Q)}, episodes=1)
    assert "alt_action" not in ordered and not ordered.isna().any().any()


def test_windows_without_a_choice_are_not_explained() -> None:
    """An agent with a single available action (e.g. an MEC device with no task) chose
    nothing: its rows for that window are left out, the other agents' stay."""

    class OneChoiceForCG(FakeEnv):
        def _obs(self, info: dict):  # type: ignore[no-untyped-def]
            obs = super()._obs(info)
            if self.t % 2 == 0:  # even windows: CG may only take action 0
                obs.avail_actions[:, 2, 1:] = False
            return obs

    class Zero(CyclePolicy):
        def act(self, step, explore=False):  # type: ignore[no-untyped-def]
            return np.zeros(step.avail_actions.shape[:2], np.int64)

    spec = fake_spec()
    env = OneChoiceForCG(num_envs=2, spec=spec)
    table = explain_episodes(env, Zero(spec), {"a": TableLearner(spec, Q)}, episodes=1, seed=0,
                             anchor="reference")  # type: ignore[arg-type]
    cg = table[table.agent == "CG"]
    assert set(cg.t) == {1} and len(cg) == 1 * 2 * 3  # window 1 only, 2 envs x 3 components
    assert set(table[table.agent == "VR"].t) == {0, 1, 2}
