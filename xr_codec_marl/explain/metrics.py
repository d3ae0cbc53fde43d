"""Reward-decomposition explanation metrics: RDX, RDFX (inc/dec), MSX+ and MSX− (seed 002).

Every function is vectorised over arbitrary leading dimensions (time, env, agent, ...): Q-values
are ``q [..., C, A]`` (C reward components, A actions, ``-inf`` for unavailable actions), action
indices ``[...]`` and RDX vectors ``delta [..., C]``. Inputs may be numpy arrays or torch
tensors; torch inputs are computed in numpy (these are tiny arrays, the maths is identical) and
returned as torch tensors on the input's device.

Definitions (seed 002 §III-F, §V-G; REFERENCE.md §1):

- RDX (eq. in §III-F): ``Δ_c(s, a_x, a_y) = Q_c(s, a_x) − Q_c(s, a_y)``, why ``a_x`` over ``a_y``.
- RDFX (eqs. 28–29): ``RDFX_c(s, k, fluct) = Q_c[k] − Q̃_c`` with ``k`` the chosen action and
  ``Q̃_c = Q_c[k+1]`` for ``"inc"`` (the next higher action of an *ordered* action space) and ``Q_c[k−1]`` for ``"dec"``.
  Eq. 29's fallback when the fluctuation set is empty is the last (inc) / first (dec) element.
  (The paper defines the dec set as Q minus the inc set, which contains ``Q[k]`` itself;
  comparing with ``Q[k]`` would make RDFX dec identically 0, so ``Q̃_dec`` is read as the
  element next to ``k``, ``Q[k−1]``, as REFERENCE.md §1 states.)
  The fluctuation set is empty exactly when ``k`` *is* the last (first) action, so the fallback
  compares ``k`` with itself: **RDFX inc is 0 for every component when the chosen action is the
  highest action, and RDFX dec is 0 when it is the lowest** ("no higher/lower action to
  prefer it over"). With an availability mask, "higher"/"lower"/"last"/"first" range over *available*
  actions only, so an unavailable (``-inf``) action is never a comparison point.
  RDFX needs an ordered action space ("higher"/"lower" must mean something); for any discrete
  space, :func:`runner_up` gives the comparison RDX and MSX can always make: the chosen action
  vs its strongest alternative (the best other available action by ``Σ_c w_c Q_c``).
- MSX+ (eq. 10): the disadvantage ``d = Σ_c |min(Δ_c, 0)|``; MSX+ is a smallest set of components
  with ``Δ_c > 0`` whose sum is strictly greater than ``d``. Found by sorting the positive ``Δ``
  in decreasing order and taking the shortest prefix whose cumulative sum exceeds ``d``
  (O(C log C)): any k-set sums to at most the top-k sum, so no smaller set can be sufficient.
- MSX− (eqs. 11–12): ``v = Σ_{MSX+} Δ − min_{MSX+} Δ`` (the "just insufficient" advantage);
  MSX− is a smallest set of components with ``Δ_c < 0`` whose magnitudes sum to more than ``v``
  (sorted by decreasing magnitude, shortest sufficient prefix).

Conventions that make the sets well defined (and the brute-force property test exact):

- **Empty set = no sufficient set exists.** MSX+ is empty when the positive Δ do not strictly
  outweigh the disadvantage (e.g. all Δ = 0, the RDFX edge case above; the paper reads this as
  "all components equally important"). MSX− is empty when the negative Δ cannot outweigh ``v``
  (the paper's finding "MSX− = ∅": the chosen action dominates) and also whenever MSX+ is empty
  (``v`` is undefined without MSX+).
- **Ties** between equal Δ are broken towards the lower component index (stable sort). Hence the
  returned set is, among all minimum-size sufficient sets, the one with the largest Δ sum and,
  among those, the lexicographically smallest sorted index tuple.
- Comparisons are strict (``>``), as in eqs. 10 and 12.

Boolean set masks ``[..., C]`` are returned (``mask.sum(-1)`` is the set size).
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import numpy as np

Fluct = Literal["inc", "dec"]
T = TypeVar("T")

__all__ = [
    "available_from_q",
    "explain_q",
    "greedy_actions",
    "msx",
    "msx_minus",
    "msx_plus",
    "rdfx",
    "rdfx_neighbours",
    "rdx",
    "runner_up",
]


# ----------------------------------------------------------------------------- numpy/torch glue
def _to_numpy(x: Any) -> tuple[np.ndarray, Any]:
    """Return ``(array, torch_device_or_None)``; torch tensors are detached to CPU numpy."""
    if type(x).__module__.startswith("torch"):
        return x.detach().cpu().numpy(), x.device
    return np.asarray(x), None


def _back(x: np.ndarray, device: Any) -> Any:
    """Inverse of :func:`_to_numpy` for one result."""
    if device is None:
        return x
    import torch

    return torch.from_numpy(np.ascontiguousarray(x)).to(device)


def _take(q: np.ndarray, action: np.ndarray) -> np.ndarray:
    """``q[..., :, action[...]]`` -> ``[..., C]`` (gather along the action axis)."""
    idx = np.broadcast_to(action[..., None, None], q.shape[:-1] + (1,))
    return np.take_along_axis(q, idx.astype(np.int64), axis=-1)[..., 0]


# ---------------------------------------------------------------------------------------- RDX
def rdx(q: T, a_x: Any, a_y: Any) -> T:
    """RDX ``Δ_c = Q_c(a_x) − Q_c(a_y)``: ``q [..., C, A]``, actions ``[...]`` -> ``[..., C]``."""
    qn, dev = _to_numpy(q)
    ax, _ = _to_numpy(a_x)
    ay, _ = _to_numpy(a_y)
    return _back(_take(qn, np.asarray(ax)) - _take(qn, np.asarray(ay)), dev)


def available_from_q(q: np.ndarray) -> np.ndarray:
    """Availability ``[..., A]`` implied by Q-values: an action is available if all its Q are finite."""
    qn, _ = _to_numpy(q)
    return np.isfinite(qn).all(axis=-2)


def greedy_actions(q: T, avail: Any = None) -> T:
    """The decomposed learners' greedy action ``argmax_u Σ_c Q_c(u)`` (Algorithms 1–2, line 16).

    Unavailable actions (``avail`` False, or any ``-inf`` Q) are never chosen; ties go to the
    lowest action index (numpy/torch argmax convention).
    """
    qn, dev = _to_numpy(q)
    av = available_from_q(qn) if avail is None else _to_numpy(avail)[0].astype(bool)
    total = np.where(av, np.where(np.isfinite(qn), qn, 0.0).sum(axis=-2), -np.inf)
    return _back(total.argmax(axis=-1).astype(np.int64), dev)


# --------------------------------------------------------------------------------------- RDFX
def rdfx_neighbours(chosen: np.ndarray, avail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Comparison actions of eq. 29 for chosen actions ``[...]`` and availability ``[..., A]``.

    Returns ``(inc, dec)``: the next higher available action (``k`` itself when ``k`` is the last
    available one, eq. 29's "last element" fallback) and the next lower available action (``k``
    itself when ``k`` is the first available one).
    """
    chosen = np.asarray(chosen, dtype=np.int64)
    avail = np.asarray(avail, dtype=bool)
    a = avail.shape[-1]
    idx = np.arange(a)
    k = chosen[..., None]
    above = np.where(avail & (idx > k), idx, a).min(axis=-1)
    below = np.where(avail & (idx < k), idx, -1).max(axis=-1)
    inc = np.where(above < a, above, chosen)
    dec = np.where(below >= 0, below, chosen)
    return inc, dec


def rdfx(q: T, chosen: Any, fluct: Fluct, avail: Any = None) -> T:
    """RDFX (eqs. 28–29) per component ``[..., C]`` of the chosen action vs its inc/dec neighbour.

    Positive ``RDFX_c`` means component ``c`` prefers the chosen action over the next higher
    (``"inc"``) or lower (``"dec"``) one. Zero at the edges (see the module docstring).
    """
    if fluct not in ("inc", "dec"):
        raise ValueError(f"fluct must be 'inc' or 'dec', got {fluct!r}")
    qn, dev = _to_numpy(q)
    ch = np.asarray(_to_numpy(chosen)[0], dtype=np.int64)
    av = available_from_q(qn) if avail is None else _to_numpy(avail)[0].astype(bool)
    inc, dec = rdfx_neighbours(ch, av)
    other = inc if fluct == "inc" else dec
    return _back(_take(qn, ch) - _take(qn, other), dev)


def runner_up(q: T, chosen: Any, avail: Any = None, weights: Any = None) -> T:
    """The strongest alternative to ``chosen [...]``: the available action other than it with
    the largest ``Σ_c w_c Q_c`` (``weights [C]``, default all 1); ``chosen`` itself when no
    other action is available. Works on any discrete action space (no order needed)."""
    qn, dev = _to_numpy(q)
    qn = qn.astype(np.float64, copy=False)
    ch = np.asarray(_to_numpy(chosen)[0], dtype=np.int64)
    av = available_from_q(qn) if avail is None else _to_numpy(avail)[0].astype(bool)
    w = np.ones(qn.shape[-2]) if weights is None else np.asarray(weights, np.float64).reshape(-1)
    total = (np.where(np.isfinite(qn), qn, 0.0) * w[:, None]).sum(axis=-2)
    others = av & (np.arange(qn.shape[-1]) != ch[..., None])
    best = np.where(others, total, -np.inf).argmax(axis=-1)
    return _back(np.where(others.any(axis=-1), best, ch).astype(np.int64), dev)


# ---------------------------------------------------------------------------------------- MSX
def _smallest_exceeding(values: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """Mask ``[..., C]`` of the smallest set of (non-negative) ``values`` whose sum > ``threshold``.

    Sort decreasing (stable: ties -> lower index first), take the shortest prefix whose
    cumulative sum exceeds the threshold; all-False when even the full sum does not.
    """
    order = np.argsort(-values, axis=-1, kind="stable")
    csum = np.cumsum(np.take_along_axis(values, order, axis=-1), axis=-1)
    enough = csum > threshold[..., None]
    # prefix size = number of prefixes that are NOT yet sufficient (+1 if any is sufficient)
    size = np.where(enough[..., -1], (~enough).sum(axis=-1) + 1, 0)
    rank = np.argsort(order, axis=-1)  # position of each component in the sorted order
    return rank < size[..., None]


def _msx_both(dn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MSX+ and MSX− masks of float64 RDX vectors ``dn [..., C]`` (the shared numpy core)."""
    neg = np.maximum(-dn, 0.0)
    pos = np.maximum(dn, 0.0)
    plus = _smallest_exceeding(pos, neg.sum(axis=-1))
    return plus, _minus_given_plus(dn, neg, plus)


def _minus_given_plus(dn: np.ndarray, neg: np.ndarray, plus: np.ndarray) -> np.ndarray:
    has_plus = plus.any(axis=-1)
    plus_sum = np.where(plus, dn, 0.0).sum(axis=-1)
    plus_min = np.where(plus, dn, np.inf).min(axis=-1)
    v = np.where(has_plus, plus_sum - np.where(has_plus, plus_min, 0.0), 0.0)
    return _smallest_exceeding(neg, v) & has_plus[..., None]


def msx_plus(delta: T) -> T:
    """MSX+ mask ``[..., C]`` of RDX vectors ``delta [..., C]`` (eq. 10, sorting, O(C log C))."""
    dn, dev = _to_numpy(delta)
    dn = dn.astype(np.float64)
    return _back(_smallest_exceeding(np.maximum(dn, 0.0), np.maximum(-dn, 0.0).sum(axis=-1)), dev)


def msx_minus(delta: T, plus: Any = None) -> T:
    """MSX− mask ``[..., C]`` (eqs. 11–12); ``plus`` is MSX+ (computed when not given).

    Empty wherever MSX+ is empty (``v`` needs a non-empty MSX+).
    """
    dn, dev = _to_numpy(delta)
    dn = dn.astype(np.float64)
    if plus is None:
        return _back(_msx_both(dn)[1], dev)
    pm = _to_numpy(plus)[0].astype(bool)
    return _back(_minus_given_plus(dn, np.maximum(-dn, 0.0), pm), dev)


def msx(delta: T) -> tuple[T, T]:
    """``(MSX+, MSX−)`` masks ``[..., C]`` of RDX vectors ``delta [..., C]``."""
    dn, dev = _to_numpy(delta)
    plus, minus = _msx_both(dn.astype(np.float64))
    return _back(plus, dev), _back(minus, dev)


# ---------------------------------------------------------------------------- all in one pass
def explain_q(q: Any, chosen: Any = None, avail: Any = None, alt: bool = False,
              weights: Any = None) -> dict[str, np.ndarray]:
    """Every per-step explanation of ``q [..., C, A]`` in one vectorised pass (numpy outputs).

    ``chosen`` defaults to the greedy action ``argmax_u Σ_c Q_c``. Returns ``chosen [...]``,
    ``inc``/``dec`` comparison actions ``[...]``, ``q_chosen``, ``rdfx_inc``, ``rdfx_dec``
    ``[..., C]`` (float) and ``msx_plus_inc``, ``msx_minus_inc``, ``msx_plus_dec``,
    ``msx_minus_dec`` ``[..., C]`` (bool). The inc and dec comparisons share one MSX pass.

    ``alt=True`` adds the comparison with the strongest alternative (:func:`runner_up`, ranked
    by ``Σ_c w_c Q_c`` with ``weights``): ``alt [...]``, ``rdx_alt [..., C]`` and
    ``msx_plus_alt``, ``msx_minus_alt`` ``[..., C]``.
    """
    qn = _to_numpy(q)[0].astype(np.float64, copy=False)
    av = available_from_q(qn) if avail is None else _to_numpy(avail)[0].astype(bool)
    ch = greedy_actions(qn, av) if chosen is None else np.asarray(_to_numpy(chosen)[0], np.int64)
    inc, dec = rdfx_neighbours(ch, av)
    cmp = [ch, inc, dec]
    if alt:
        cmp.append(runner_up(qn, ch, av, weights))
    k = len(cmp)
    idx = np.stack(cmp, axis=-1)[..., None, :]  # [..., 1, k]
    g = np.take_along_axis(qn, np.broadcast_to(idx, qn.shape[:-1] + (k,)), axis=-1)  # [..., C, k]
    q_ch = g[..., 0]
    deltas = np.stack([q_ch - g[..., j] for j in range(1, k)])  # [k-1, ..., C]: inc, dec(, alt)
    plus, minus = _msx_both(deltas)
    out = {"chosen": ch, "inc": inc, "dec": dec, "q_chosen": q_ch,
           "rdfx_inc": deltas[0], "rdfx_dec": deltas[1],
           "msx_plus_inc": plus[0], "msx_minus_inc": minus[0],
           "msx_plus_dec": plus[1], "msx_minus_dec": minus[1]}  # fmt: skip
    if alt:
        out.update({"alt": cmp[3], "rdx_alt": deltas[2], "msx_plus_alt": plus[2],
                    "msx_minus_alt": minus[2]})
    return out
