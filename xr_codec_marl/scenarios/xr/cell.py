"""One cell's downlink over a window: RLC queues, proportional-fair time sharing, packet KPIs.

The model is event-driven at the frame period (1/fps): every frame period each UE's video
flow delivers one frame (a burst of MTU packets spread over ``spread_ms`` as they arrive from
the core) into its RLC transmit buffer, which tail-drops what does not fit. The cell's time
is shared between backlogged UEs by water-filling (proportional fair with full buffers gives
each UE an equal share of time; a UE that needs less leaves its rest to the others). Inside a
frame period each UE is served as a fluid at its share of its own full-cell rate, and packet
delays follow in closed form from FIFO service of the burst:

    finish_j = max(Q + (j + 1) m, c * a_j + m) / c,   a_j = j * spread / n,
    delay_j  = finish_j - a_j  (+ slot quantisation and a fixed processing delay)

so per-packet mean delay and jitter (mean |d_j - d_{j-1}|, RFC 3550 style as ns-3's
FlowMonitor counts it) are exact sums over packets without looping over them. Side flows
(AR audio and pose) are small periodic packets on their own logical channels, served first.
Everything is vectorised over ``[B, N]`` (environments x UEs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class BackgroundLoad:
    """``K`` non-agent downlink users sharing the cell (issue 14's load; see
    :mod:`xr_codec_marl.scenarios.xr.dynamics`): their RLC queues and this window's channel
    and arrivals, which their owner sets before each window."""

    backlog_bytes: np.ndarray  # [B, K] bytes waiting in their RLC buffers
    buffer_bytes: float  # their RLC buffer (tail drop beyond it)
    full_rate_bps: np.ndarray  # [B, K, P] rate with the whole cell, per frame period
    arrival_bytes: np.ndarray  # [B, K, P] bytes arriving per frame period
    served_bytes: np.ndarray  # [B, K] served this window (reset by the owner)


@dataclass
class CellState:
    """What carries over from one window to the next, per environment and UE."""

    backlog_bytes: np.ndarray  # [B, N] video bytes waiting in the RLC buffer
    last_video_delay_ms: np.ndarray  # [B, N] delay of the last delivered video packet (nan: none)
    last_side_delay_ms: np.ndarray  # [B, N]
    #: background users taking their share of the cell's time (None: none, the default)
    load: BackgroundLoad | None = None

    @classmethod
    def zeros(cls, b: int, n: int) -> "CellState":
        nan = np.full((b, n), np.nan)
        return cls(np.zeros((b, n)), nan.copy(), nan.copy())


@dataclass
class WindowStats:
    """Per-UE packet accounting of one window (all ``[B, N]``)."""

    sent_pkts: np.ndarray
    delivered_pkts: np.ndarray
    delivered_bytes: np.ndarray
    delay_sum_ms: np.ndarray
    jitter_sum_ms: np.ndarray
    jitter_pairs: np.ndarray
    occupancy_sum: np.ndarray  # sum over frame periods of peak RLC occupancy ratio
    n_periods: int


@dataclass(frozen=True)
class CellParams:
    """Knobs of the queueing/scheduling model (the free parameters calibration tunes)."""

    mtu_bytes: int = 1500
    buffer_bytes: int = 60_000
    spread_ms: float = 4.0  # a frame's packets reach the gNB over this span
    slot_ms: float = 0.25  # numerology 2
    base_delay_ms: float = 1.0  # core network + gNB processing, fixed part
    harq_bler: float = 0.1  # first-transmission block error rate (link adaptation target)
    harq_rtt_ms: float = 1.0  # extra delay of a retransmitted packet
    max_delay_ms: float = 500.0  # cap on a packet's delay in the statistics (stalled UE)

    def packet_noise(self) -> tuple[float, float]:
        """Mean extra delay and mean |D_i - D_{i-1}| from HARQ and slot quantisation.

        A packet is retransmitted with probability p (+rtt), independently; its transmission
        starts at a uniformly random point of a slot. For two consecutive packets the delay
        difference these add has mean |.| of 2 p (1 - p) rtt + slot / 3.
        """
        p, rtt = self.harq_bler, self.harq_rtt_ms
        return p * rtt, 2.0 * p * (1.0 - p) * rtt + self.slot_ms / 3.0


def waterfill(demand_s: np.ndarray, capacity_s: float) -> np.ndarray:
    """Max-min fair split of ``capacity_s`` seconds among UEs needing ``demand_s`` ``[..., N]``.

    Each UE gets ``min(demand, level)`` where the level makes the total equal the capacity
    (or every demand is met). This is proportional-fair time sharing with finite buffers.
    """
    n = demand_s.shape[-1]
    t = np.sort(demand_s, axis=-1)
    before = np.cumsum(t, axis=-1) - t
    level_k = (capacity_s - before) / np.arange(n, 0, -1)
    over = t > level_k
    first = np.argmax(over, axis=-1)[..., None]
    level = np.where(over.any(-1, keepdims=True), np.take_along_axis(level_k, first, -1), np.inf)
    return np.minimum(demand_s, level)


def gps_busy_time(demand_s: np.ndarray, capacity_s: float) -> np.ndarray:
    """How long each UE stays backlogged when all start together under equal-weight GPS.

    With needs ``t`` sorted ascending, the k-th UE (0-based) finishes at
    ``sum_{i<k} t_i + (N - k) t_k`` (each active UE gets 1/active of the cell); UEs not done
    by ``capacity_s`` are busy for all of it. ``alloc / busy`` is then the share of the cell a
    UE sees *while* it is being served, which is what its packets' delays depend on.
    """
    n = demand_s.shape[-1]
    order = np.argsort(demand_s, axis=-1)
    t = np.take_along_axis(demand_s, order, -1)
    done_sorted = np.cumsum(t, axis=-1) - t + np.arange(n, 0, -1) * t
    done = np.empty_like(done_sorted)
    np.put_along_axis(done, order, done_sorted, -1)
    return np.minimum(done, capacity_s)


def _burst_delays(
    q: np.ndarray, n: np.ndarray, spread_s: float, c: np.ndarray, m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum, first and last of the delays (s) of ``n`` packets of one burst behind ``q`` bytes.

    ``c`` is the service rate (bytes/s). Delays are ``max(alpha + beta j, m / c)`` for
    ``j = 0..n-1``: linear while the queue builds, then one packet time once it has drained.
    """
    n_safe = np.maximum(n, 1.0)
    floor = m / c
    alpha = (q + m) / c
    beta = floor - spread_s / n_safe
    rising = beta >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        j_star = np.where(rising, n_safe, (alpha - floor) / np.where(rising, 1.0, -beta))
    last_lin = np.clip(np.floor(j_star), 0, n_safe - 1)  # last index still on the linear part
    jj = np.where(rising, n_safe - 1, last_lin)
    total = (jj + 1) * alpha + beta * jj * (jj + 1) / 2 + (n_safe - 1 - jj) * floor
    first = alpha
    last = np.maximum(alpha + beta * (n_safe - 1), floor)
    has = n > 0
    return np.where(has, total, 0.0), first, last


def _share_with_load(load: BackgroundLoad, k: int, need_s: np.ndarray, period_s: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The XR users' ``(alloc_s, busy_s)`` of frame period ``k`` when the background users
    compete for the same time; serves the background queues as a side effect."""
    n = need_s.shape[-1]
    l_rate = np.maximum(load.full_rate_bps[:, :, k] / 8.0, 1.0)  # bytes/s
    l_q = np.minimum(load.backlog_bytes + load.arrival_bytes[:, :, k], load.buffer_bytes)
    need = np.concatenate([need_s, l_q / l_rate], axis=-1)
    alloc = waterfill(need, period_s)
    busy = gps_busy_time(need, period_s)
    served = np.minimum(alloc[..., n:] * l_rate, l_q)
    load.served_bytes = load.served_bytes + served
    load.backlog_bytes = l_q - served
    return alloc[..., :n], busy[..., :n]


def simulate_window(
    state: CellState,
    frame_bytes: np.ndarray,
    frame_gap_s: np.ndarray,
    full_rate_bps: np.ndarray,
    side_bytes: np.ndarray,
    side_pkts: np.ndarray,
    params: CellParams,
) -> WindowStats:
    """Advance ``state`` in place through one window of ``P`` frame periods.

    Args:
      frame_bytes: ``[B, N, P]`` video frame sizes (one frame per UE per period).
      frame_gap_s: ``[B, N, P]`` time from each frame to the next (1/fps plus jitter).
      full_rate_bps: ``[B, N, P]`` the UE's rate if it had the whole cell (after fading).
      side_bytes, side_pkts: ``[N]`` side-flow bytes and packets per frame period.
    """
    b, n, p = frame_bytes.shape
    m = float(params.mtu_bytes)
    spread_s = params.spread_ms * 1e-3
    slot_ms = params.slot_ms
    harq_mean_ms, pair_noise_ms = params.packet_noise()
    # processing + mean slot quantisation + expected HARQ retransmission delay
    fixed_ms = params.base_delay_ms + slot_ms / 2.0 + harq_mean_ms
    zeros = np.zeros((b, n))
    acc = {k: zeros.copy() for k in ("sent", "deliv", "bytes", "dsum", "jsum", "jpairs", "occ")}
    side_b = np.broadcast_to(side_bytes, (b, n))
    side_n = np.broadcast_to(side_pkts, (b, n))
    period_s = frame_gap_s.mean()

    for k in range(p):
        s = frame_bytes[:, :, k]
        gap = frame_gap_s[:, :, k]
        rate = np.maximum(full_rate_bps[:, :, k] / 8.0, 1.0)  # bytes/s
        q = state.backlog_bytes
        # --- scheduling: water-fill the period's time over the UEs' needs ---
        need_s = (q + s + side_b) / rate
        if state.load is None:
            alloc_s = waterfill(need_s, period_s)
            busy_s = gps_busy_time(need_s, period_s)
        else:  # background users join the water-filling with their own queues
            alloc_s, busy_s = _share_with_load(state.load, k, need_s, period_s)
        share = np.clip(alloc_s / np.maximum(busy_s, 1e-12), 1e-6, 1.0)  # while backlogged
        cap_bytes = alloc_s * rate * (gap / period_s)  # bytes served until the next frame
        video_cap = np.maximum(cap_bytes - side_b, 0.0)
        video_rate = np.maximum(share * rate, 1.0)  # bytes/s seen by the burst
        # --- RLC tail drop: the burst arrives over spread_s while the queue drains ---
        n_pkt = np.ceil(s / m)
        peak = q + s - video_rate * min(spread_s, period_s)
        overflow = np.maximum(peak - params.buffer_bytes, 0.0)
        n_drop = np.minimum(np.ceil(overflow / m), n_pkt)
        n_acc = n_pkt - n_drop
        acc_bytes = np.maximum(s - n_drop * m, 0.0)
        acc["occ"] += np.clip(np.maximum(peak, q), 0.0, params.buffer_bytes) / params.buffer_bytes
        # --- video packet delays (closed-form FIFO of the burst) ---
        dsum_s, first_s, last_s = _burst_delays(q, n_acc, spread_s, video_rate, m)
        cap_ms = params.max_delay_ms
        first_ms = np.minimum(first_s * 1e3 + fixed_ms, cap_ms)
        last_ms = np.minimum(last_s * 1e3 + fixed_ms, cap_ms)
        dsum_ms = np.minimum(dsum_s * 1e3 + fixed_ms * n_acc, cap_ms * n_acc)
        has = n_acc > 0
        prev = state.last_video_delay_ms
        link = has & ~np.isnan(prev)
        acc["jsum"] += np.where(has, np.abs(last_ms - first_ms), 0.0)
        acc["jsum"] += np.where(link, np.abs(first_ms - np.nan_to_num(prev)), 0.0)
        acc["jpairs"] += np.maximum(n_acc - 1, 0) + link
        state.last_video_delay_ms = np.where(has, last_ms, prev)
        # --- side flows: wait for the UE's next scheduling opportunity, never dropped ---
        side_ms = fixed_ms + slot_ms * (1.0 / share - 1.0) / 2.0  # wait for the UE's turn
        side_ms = np.minimum(side_ms, cap_ms)
        sprev = state.last_side_delay_ms
        shas = side_n > 0
        slink = shas & ~np.isnan(sprev)
        acc["jsum"] += np.where(slink, np.abs(side_ms - np.nan_to_num(sprev)), 0.0)
        acc["jpairs"] += np.maximum(side_n - 1, 0) + slink
        state.last_side_delay_ms = np.where(shas, side_ms, sprev)
        # --- accounting and the queue carried to the next period ---
        acc["sent"] += n_pkt + side_n
        acc["deliv"] += n_acc + side_n
        acc["bytes"] += acc_bytes + side_b
        acc["dsum"] += dsum_ms + side_ms * side_n
        state.backlog_bytes = np.clip(q + acc_bytes - video_cap, 0.0, params.buffer_bytes)

    acc["jsum"] += acc["jpairs"] * pair_noise_ms  # per-packet HARQ/slot delay variation
    return WindowStats(
        sent_pkts=acc["sent"],
        delivered_pkts=acc["deliv"],
        delivered_bytes=acc["bytes"],
        delay_sum_ms=acc["dsum"],
        jitter_sum_ms=acc["jsum"],
        jitter_pairs=acc["jpairs"],
        occupancy_sum=acc["occ"],
        n_periods=p,
    )
