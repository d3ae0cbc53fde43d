"""RDX / RDFX / MSX: hand-computed cases, edge cases, and MSX-by-sorting vs brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from xr_codec_marl.explain.metrics import (
    explain_q,
    greedy_actions,
    msx,
    msx_minus,
    msx_plus,
    rdfx,
    rdfx_neighbours,
    rdx,
)

# One agent, C = 3 components (delay, pdr, drr), A = 4 actions.
Q = np.array(
    [
        [1.0, 2.0, 0.0, 0.5],  # delay
        [3.0, 5.0, 4.0, 1.0],  # pdr
        [0.0, -1.0, 2.0, 3.0],  # drr
    ]
)  # column sums: 4, 6, 6, 4.5 -> greedy action 1 (tie with 2 goes to the lower index)


def test_rdx_hand_computed() -> None:
    np.testing.assert_allclose(rdx(Q, np.int64(1), np.int64(3)), [1.5, 4.0, -4.0])
    np.testing.assert_allclose(rdx(Q, np.int64(3), np.int64(1)), [-1.5, -4.0, 4.0])


def test_greedy_is_argmax_of_summed_components_lowest_index_on_ties() -> None:
    assert int(greedy_actions(Q)) == 1
    masked = Q.copy()
    masked[:, 1] = -np.inf  # action 1 unavailable -> 2 wins
    assert int(greedy_actions(masked)) == 2


def test_rdfx_inc_dec_hand_computed() -> None:
    np.testing.assert_allclose(rdfx(Q, 1, "inc"), [2.0, 1.0, -3.0])  # vs action 2
    np.testing.assert_allclose(rdfx(Q, 1, "dec"), [1.0, 2.0, -1.0])  # vs action 0
    np.testing.assert_allclose(rdfx(Q, 2, "inc"), [-0.5, 3.0, -1.0])  # vs action 3
    with pytest.raises(ValueError, match="fluct"):
        rdfx(Q, 1, "up")  # type: ignore[arg-type]


def test_rdfx_edges_fall_back_to_the_chosen_action_itself() -> None:
    # Eq. 29: chosen is the last action -> Q_inc is empty -> compare with the last element,
    # which is the chosen one: RDFX inc is exactly 0. Same for dec at the first action.
    np.testing.assert_array_equal(rdfx(Q, 3, "inc"), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(rdfx(Q, 3, "dec"), [0.5, -3.0, 1.0])
    np.testing.assert_array_equal(rdfx(Q, 0, "dec"), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(rdfx(Q, 0, "inc"), [-1.0, -2.0, 1.0])


def test_rdfx_skips_unavailable_neighbours() -> None:
    avail = np.array([True, True, False, True])
    np.testing.assert_allclose(rdfx(Q, 1, "inc", avail), [1.5, 4.0, -4.0])  # vs action 3
    np.testing.assert_allclose(rdfx(Q, 3, "dec", avail), [-1.5, -4.0, 4.0])  # vs action 1
    # last *available* action: inc falls back to itself even though action 3 exists
    q2 = Q.copy()
    q2[:, 3] = -np.inf
    np.testing.assert_array_equal(rdfx(q2, 2, "inc"), [0.0, 0.0, 0.0])  # -inf never used
    inc, dec = rdfx_neighbours(np.array([0, 1, 2, 3]), np.array([True, False, True, True]))
    np.testing.assert_array_equal(inc, [2, 2, 3, 3])
    np.testing.assert_array_equal(dec, [0, 0, 0, 2])


def test_msx_hand_computed() -> None:
    # dec deltas [1, 2, -1]: d = 1; {pdr} alone (2 > 1) suffices. v = 2 - 2 = 0, so the single
    # negative component (1 > 0) forms MSX-.
    plus, minus = msx(np.array([1.0, 2.0, -1.0]))
    np.testing.assert_array_equal(plus, [False, True, False])
    np.testing.assert_array_equal(minus, [False, False, True])
    # inc deltas [2, 1, -3]: d = 3 and the positives sum to exactly 3, not > 3: no MSX+.
    plus, minus = msx(np.array([2.0, 1.0, -3.0]))
    assert not plus.any() and not minus.any()
    # [3, 2, 2, -4]: d = 4; {0} = 3 is not enough, {0, 1} = 5 is (ties 2/2 -> lower index 1).
    # v = 5 - 2 = 3; negatives {3} with 4 > 3 -> MSX- = {3}.
    plus, minus = msx(np.array([3.0, 2.0, 2.0, -4.0]))
    np.testing.assert_array_equal(plus, [True, True, False, False])
    np.testing.assert_array_equal(minus, [False, False, False, True])
    # All positive: d = 0, the largest alone suffices; no negatives -> MSX- empty (paper's case).
    plus, minus = msx(np.array([0.5, 2.0, 1.0]))
    np.testing.assert_array_equal(plus, [False, True, False])
    assert not minus.any()
    # All zero (the RDFX edge case): nothing is sufficient.
    plus, minus = msx(np.zeros(3))
    assert not plus.any() and not minus.any()


def test_msx_minus_is_empty_when_negatives_cannot_outweigh_v() -> None:
    # [4, 3, -2, -2]: d = 4; {0}: 4 > 4? no; {0,1}: 7 > 4 -> MSX+ = {0, 1}; v = 7 - 3 = 4;
    # negatives sum to 4, not > 4 -> MSX- empty.
    plus, minus = msx(np.array([4.0, 3.0, -2.0, -2.0]))
    np.testing.assert_array_equal(plus, [True, True, False, False])
    assert not minus.any()


def test_explain_q_matches_the_single_metrics_and_is_batched() -> None:
    rng = np.random.default_rng(0)
    q = rng.normal(size=(5, 4, 3, 3, 6))  # [T, B, N, C, A]
    q[1, 2, 0, :, 5] = -np.inf  # one unavailable action
    out = explain_q(q)
    assert out["q_chosen"].shape == (5, 4, 3, 3) and out["msx_plus_inc"].dtype == bool
    for idx in itertools.product(range(5), range(4), range(3)):
        qi = q[idx]
        k = int(greedy_actions(qi))
        assert out["chosen"][idx] == k
        np.testing.assert_allclose(out["q_chosen"][idx], qi[:, k])
        for f in ("inc", "dec"):
            r = rdfx(qi, k, f)
            np.testing.assert_allclose(out[f"rdfx_{f}"][idx], r)
            np.testing.assert_array_equal(out[f"msx_plus_{f}"][idx], msx_plus(r))
            np.testing.assert_array_equal(out[f"msx_minus_{f}"][idx], msx_minus(r))
    assert np.isfinite(out["rdfx_inc"]).all() and np.isfinite(out["rdfx_dec"]).all()


def test_torch_inputs_give_torch_outputs_with_the_same_values() -> None:
    rng = np.random.default_rng(1)
    q = rng.normal(size=(2, 3, 3, 5)).astype(np.float32)
    qt = torch.from_numpy(q)
    k = greedy_actions(qt)
    assert isinstance(k, torch.Tensor)
    np.testing.assert_array_equal(k.numpy(), greedy_actions(q))
    r = rdfx(qt, k, "inc")
    assert isinstance(r, torch.Tensor)
    np.testing.assert_allclose(r.numpy(), rdfx(q, k.numpy(), "inc"))
    p, m = msx(r)
    assert isinstance(p, torch.Tensor) and p.dtype == torch.bool
    np.testing.assert_array_equal(p.numpy(), msx_plus(r.numpy()))
    np.testing.assert_array_equal(m.numpy(), msx_minus(r.numpy()))


# ------------------------------------------------------------------ brute force (the definition)
def _brute_smallest(values: np.ndarray, candidates: list[int], threshold: float) -> set[int]:
    """Smallest subset of ``candidates`` with sum(values) > threshold, by enumeration.

    Among minimum-size sets: the largest sum, then the lexicographically smallest sorted index
    tuple (the documented tie-breaking). Empty when no subset is sufficient.
    """
    for size in range(1, len(candidates) + 1):
        ok = [
            s
            for s in itertools.combinations(sorted(candidates), size)
            if sum(values[i] for i in s) > threshold
        ]
        if ok:
            best = max(sum(values[i] for i in s) for s in ok)
            return set(min(s for s in ok if sum(values[i] for i in s) == best))
    return set()


def _brute_msx(delta: np.ndarray) -> tuple[set[int], set[int]]:
    c = len(delta)
    d = sum(-x for x in delta if x < 0)
    plus = _brute_smallest(delta, [i for i in range(c) if delta[i] > 0], d)
    if not plus:
        return plus, set()
    v = sum(delta[i] for i in plus) - min(delta[i] for i in plus)
    minus = _brute_smallest(-delta, [i for i in range(c) if delta[i] < 0], v)
    return plus, minus


# Multiples of 1/4 in [-6, 6]: sums are exact in floating point, so "> d" is decided exactly and
# ties (equal deltas, sums equal to the threshold) are frequent.
_quarter = st.integers(-24, 24).map(lambda i: i / 4.0)


@settings(max_examples=400, deadline=None)
@given(st.lists(_quarter, min_size=1, max_size=8))
def test_msx_by_sorting_equals_brute_force(values: list[float]) -> None:
    delta = np.array(values)
    plus, minus = msx(delta)
    bp, bm = _brute_msx(delta)
    assert set(np.flatnonzero(plus)) == bp
    assert set(np.flatnonzero(minus)) == bm


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 6)),
        elements=_quarter,
    )
)
def test_msx_batched_equals_brute_force_per_row(delta: np.ndarray) -> None:
    plus, minus = msx(delta)
    for idx in np.ndindex(*delta.shape[:-1]):
        bp, bm = _brute_msx(delta[idx])
        assert set(np.flatnonzero(plus[idx])) == bp
        assert set(np.flatnonzero(minus[idx])) == bm


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False, width=32), min_size=1, max_size=8))
def test_msx_on_arbitrary_floats_is_minimal_and_sufficient(values: list[float]) -> None:
    """Generic floats: the set is sufficient, uses only positive deltas, and no smaller set is."""
    delta = np.array(values, dtype=np.float64)
    plus = msx_plus(delta)
    d = np.abs(np.minimum(delta, 0)).sum()
    pos = np.sort(delta[delta > 0])[::-1]
    if plus.any():
        assert (delta[plus] > 0).all()
        assert delta[plus].sum() > d or np.isclose(delta[plus].sum(), d)
        k = int(plus.sum())
        assert not pos[: k - 1].sum() > d * (1 + 1e-12) + 1e-9
    else:
        assert not pos.sum() > d * (1 + 1e-12) + 1e-9


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 7)), elements=_quarter))
def test_greedy_rdfx_sums_are_non_negative(q: np.ndarray) -> None:
    """For the greedy action the summed RDFX is >= 0 (it beats both neighbours on Σ_c Q_c)."""
    k = greedy_actions(q)
    assert rdfx(q, k, "inc").sum() >= 0
    assert rdfx(q, k, "dec").sum() >= 0


def test_runner_up_is_the_best_other_available_action() -> None:
    from xr_codec_marl.explain.metrics import runner_up

    q = np.array([[1.0, 2.0, 0.0, 0.5], [3.0, 5.0, 4.0, 1.0], [0.0, -1.0, 2.0, 3.0]])  # sums 4 6 6 4.5
    assert int(runner_up(q, np.int64(1))) == 2  # the tie at 6 goes to the lower other index
    assert int(runner_up(q, np.int64(2))) == 1
    assert int(runner_up(q, np.int64(1), weights=[0.0, 0.0, 1.0])) == 3  # ranked by sum_c w_c Q_c
    avail = np.array([False, True, False, True])
    assert int(runner_up(q, np.int64(1), avail)) == 3
    assert int(runner_up(q, np.int64(1), np.array([False, True, False, False]))) == 1  # no other
    out = explain_q(q[None], chosen=np.array([1]), alt=True)
    np.testing.assert_array_equal(out["alt"], [2])
    np.testing.assert_allclose(out["rdx_alt"][0], q[:, 1] - q[:, 2])
    assert "alt" not in explain_q(q[None])  # only on request: ordered spaces keep inc/dec only
    t = runner_up(torch.tensor(q), torch.tensor(1))
    assert isinstance(t, torch.Tensor) and int(t) == 2
