"""Dynamics where codec adaptation matters (issue 14), in the analytic twin.

All three are off by default (the paper's setting); the ns-3 scenario has the same
(``ns3_scenarios/xr-codec/xr-dynamics.*``), calibrated against this by
``benchmarks/xr_dynamics.py``:

- **load**: ``K`` background (non-agent) downlink users, placed and moving like the XR users,
  each sending ``load_mbps`` during exponential on periods (mean ``load_on_s``) separated by
  exponential off periods (mean ``load_off_s``). They queue in their own RLC buffers and take
  their share of cell time in :func:`~xr_codec_marl.scenarios.xr.cell.simulate_window`'s
  proportional-fair water-filling (:class:`~xr_codec_marl.scenarios.xr.cell.BackgroundLoad`).
- **cross** mobility: each leg goes straight from where the UE is, past the base station at a
  random distance ``h`` in ``[r_min, max(r_min, R / 4)]``, to the ring edge; the next leg
  starts there. The distance to the base station swings between the edge and ``h``.
- **blockage**: per XR user, onsets at ``blockage_rate_hz`` (Poisson), exponential durations
  of mean ``blockage_s``, ``blockage_db`` extra path loss while blocked; a two-state Markov
  chain sampled every frame period, starting from its stationary distribution.

Each has its own random generator (:func:`dynamics_rngs`), so the model's own draws — and
every result with the dynamics off — are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xr_codec_marl.scenarios.xr import channel


def dynamics_rngs(seed: int | None) -> tuple[np.random.Generator, ...]:
    """Generators for the load, the cross mobility and the blockage, independent of the
    model's own ``default_rng(seed)`` and of each other (fresh entropy when ``seed`` is None)."""
    return tuple(
        np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x14D, i)))
        for i in range(3)
    )


def place_in_annulus(rng: np.random.Generator, shape: tuple[int, ...], r_min: float,
                     r_max: float) -> np.ndarray:
    """``[*shape, 2]`` positions uniform by area in the annulus ``[r_min, r_max]``."""
    radius = np.sqrt(rng.uniform(r_min**2, r_max**2, shape))
    angle = rng.uniform(0, 2 * np.pi, shape)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], -1)


def walk_step(pos: np.ndarray, heading: np.ndarray, rng: np.random.Generator, step_m: float,
              turn_prob: float, r_min: float, r_max: float) -> tuple[np.ndarray, np.ndarray]:
    """One window of the random walk: turn at random, step, reflect radially at the ring.

    Returns the new positions and headings. (The XR users' walk, with the draws in this
    order, is what the analytic model has always done.)
    """
    turn = rng.random(heading.shape) < turn_prob
    heading = np.where(turn, rng.uniform(0, 2 * np.pi, heading.shape), heading)
    new = pos + step_m * np.stack([np.cos(heading), np.sin(heading)], -1)
    r = np.linalg.norm(new, axis=-1, keepdims=True)
    out = (r > r_max) | (r < r_min)
    r_ref = np.where(r > r_max, 2 * r_max - r, np.where(r < r_min, 2 * r_min - r, r))
    new = np.where(out, new / np.maximum(r, 1e-9) * r_ref, new)
    heading = np.where(out[..., 0], heading + np.pi, heading)
    return new, heading


def chord_leg(pos: np.ndarray, rng: np.random.Generator, r_min: float,
              r_max: float) -> tuple[np.ndarray, np.ndarray]:
    """A new cross leg from each position: ``(unit direction [..., 2], length [...])``.

    The leg passes the base station at ``h`` (uniform in ``[r_min, max(r_min, R / 4)]``,
    at most the current distance), on a random side, and ends on the ring edge.
    """
    r = np.maximum(np.linalg.norm(pos, axis=-1), 1e-9)
    hi = np.minimum(max(r_min, r_max / 4), r)
    lo = np.minimum(r_min, hi)
    h = lo + rng.random(r.shape) * (hi - lo)
    side = np.where(rng.random(r.shape) < 0.5, -1.0, 1.0)
    a = np.arctan2(pos[..., 1], pos[..., 0]) + np.pi + side * np.arcsin(np.minimum(h / r, 1.0))
    u = np.stack([np.cos(a), np.sin(a)], -1)
    pu = (pos * u).sum(-1)
    length = -pu + np.sqrt(np.maximum(pu**2 - r**2 + r_max**2, 0.0))
    return u, length


def cross_step(pos: np.ndarray, direction: np.ndarray, left_m: np.ndarray,
               rng: np.random.Generator, step_m: float, r_min: float,
               r_max: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Move ``step_m`` along the chords, starting new legs where one ends (in place of the
    walk). Returns the new positions, directions and lengths left of the current legs."""
    pos, direction, left = pos.copy(), direction.copy(), left_m.copy()
    todo = np.full(left.shape, float(step_m))
    for _ in range(8):  # legs are far longer than a window's step: one or two suffice
        go = np.minimum(todo, left)
        pos = pos + go[..., None] * direction
        left, todo = left - go, todo - go
        ended = (left <= 1e-9) & (todo > 1e-9)
        if not ended.any():
            break
        u, length = chord_leg(pos, rng, r_min, r_max)
        direction = np.where(ended[..., None], u, direction)
        left = np.where(ended, np.maximum(length, 1e-3), left)
    return pos, direction, left


def shadow_step(shadow_db: np.ndarray, moved_m: np.ndarray, rng: np.random.Generator,
                std_db: float, decorrelation_m: float) -> np.ndarray:
    """Gudmundson-correlated shadowing after moving ``moved_m``."""
    rho = np.exp(-moved_m / decorrelation_m)
    return rho * shadow_db + np.sqrt(1 - rho**2) * rng.normal(0.0, std_db, rho.shape)


def markov_on_off(rng: np.random.Generator, state: np.ndarray, periods: int, dt_s: float,
                  mean_on_s: float, mean_off_s: float) -> np.ndarray:
    """``[..., periods]`` on/off states of a two-state chain with exponential sojourns
    (means ``mean_on_s`` / ``mean_off_s``) sampled every ``dt_s``, continuing from ``state``."""
    p_end_on = -np.expm1(-dt_s / mean_on_s)
    p_end_off = -np.expm1(-dt_s / mean_off_s)
    u = rng.random(state.shape + (periods,))
    out = np.empty(state.shape + (periods,), dtype=bool)
    s = state
    for k in range(periods):
        s = np.where(s, u[..., k] >= p_end_on, u[..., k] < p_end_off)
        out[..., k] = s
    return out


@dataclass
class Movers:
    """Positions of UEs that move as the scenario says (walk or cross), with shadowing."""

    pos: np.ndarray  # [B, K, 2]
    heading: np.ndarray  # [B, K] (walk)
    direction: np.ndarray  # [B, K, 2] (cross)
    left_m: np.ndarray  # [B, K] (cross)
    shadow_db: np.ndarray  # [B, K]


class LoadModel:
    """The background users of one batch of cells (see the module comment)."""

    def __init__(self, scenario, params, rng: np.random.Generator, num_envs: int,
                 periods: int) -> None:
        sc = scenario
        b, k = num_envs, sc.load_users
        self.sc, self.params, self.rng, self.periods = sc, params, rng, periods
        pos = place_in_annulus(rng, (b, k), sc.min_distance_m, sc.ring_m)
        heading = rng.uniform(0, 2 * np.pi, (b, k))
        direction, left = chord_leg(pos, rng, sc.min_distance_m, sc.ring_m)
        shadow = rng.normal(0.0, params.shadowing_std_db, (b, k))
        self.m = Movers(pos, heading, direction, left, shadow)
        p_on = sc.load_on_s / (sc.load_on_s + sc.load_off_s)
        self.on = rng.random((b, k)) < p_on
        self.bytes_per_period = sc.load_mbps * 1e6 / 8.0 / sc.fps

    def move(self) -> None:
        sc, p, m = self.sc, self.params, self.m
        step = sc.ue_speed_mps * sc.window_s
        old = m.pos
        if sc.mobility == "cross":
            m.pos, m.direction, m.left_m = cross_step(m.pos, m.direction, m.left_m, self.rng,
                                                      step, sc.min_distance_m, sc.ring_m)
        else:
            m.pos, m.heading = walk_step(m.pos, m.heading, self.rng, step,
                                         sc.window_s / p.direction_change_s,
                                         sc.min_distance_m, sc.ring_m)
        moved = np.linalg.norm(m.pos - old, axis=-1)
        m.shadow_db = shadow_step(m.shadow_db, moved, self.rng, p.shadowing_std_db,
                                  p.shadowing_decorrelation_m)

    def window(self, sinr_offset_db: float, noise_dbm: float, se_of, useful_hz: float
               ) -> tuple[np.ndarray, np.ndarray]:
        """This window's ``(full_rate_bps [B, K, P], arrival_bytes [B, K, P])``."""
        sc = self.sc
        d2d = np.linalg.norm(self.m.pos, axis=-1)
        pl = channel.uma_nlos_pathloss_db(d2d, sc.carrier_ghz, sc.gnb_height_m, sc.ue_height_m)
        sinr = sc.gnb_tx_dbm + sinr_offset_db - pl - self.m.shadow_db - noise_dbm
        fading = self.rng.normal(0.0, self.params.fast_fading_std_db, sinr.shape + (self.periods,))
        rate = se_of(sinr[..., None] + fading) * useful_hz
        on = markov_on_off(self.rng, self.on, self.periods, 1.0 / sc.fps, sc.load_on_s,
                           sc.load_off_s)
        self.on = on[..., -1]
        return rate, on * self.bytes_per_period


class BlockageModel:
    """Per-UE blockage of the XR users (see the module comment)."""

    def __init__(self, scenario, rng: np.random.Generator, shape: tuple[int, int],
                 periods: int) -> None:
        sc = scenario
        self.sc, self.rng, self.periods = sc, rng, periods
        x = sc.blockage_rate_hz * sc.blockage_s
        self.blocked = rng.random(shape) < x / (1.0 + x)
        #: ``[B, N, P]`` blocked per frame period of the last window
        self.last = np.zeros(shape + (periods,), dtype=bool)

    def window_loss_db(self) -> np.ndarray:
        """``[B, N, P]`` extra loss this window (``blockage_db`` where blocked, else 0)."""
        sc = self.sc
        self.last = markov_on_off(self.rng, self.blocked, self.periods, 1.0 / sc.fps,
                                  sc.blockage_s, 1.0 / sc.blockage_rate_hz)
        self.blocked = self.last[..., -1]
        return self.last * sc.blockage_db
