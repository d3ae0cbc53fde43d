"""The multi-MEC models (REFERENCE.md §7), as vectorised numpy functions of arrays.

Units: bits, cycles, seconds, hertz (cycles/s and bandwidth), watts, joules, metres. Every
function broadcasts over its arguments, so the analytic twin applies them to whole batches
of devices, servers and environments at once; the tests check them against hand-worked
numbers (1 Mbit at 1000 cycles/bit: 1 s and 1 J locally at 1 GHz with κ = 1e-27, 50 ms at a
20 GHz server, 50 ms over a 20 Mbps uplink).
"""

from __future__ import annotations

import math

import numpy as np

#: Thermal noise density, dBm/Hz.
NOISE_DBM_PER_HZ = -174.0


def dbm_to_w(dbm: np.ndarray | float) -> np.ndarray:
    return 10.0 ** ((np.asarray(dbm, np.float64) - 30.0) / 10.0)


def local_time(cycles: np.ndarray, f_local_hz: np.ndarray | float) -> np.ndarray:
    """t_l = c / f_l: seconds to run ``cycles`` on the device's CPU."""
    return np.asarray(cycles, np.float64) / f_local_hz


def local_energy(cycles: np.ndarray, f_local_hz: np.ndarray | float,
                 kappa: float = 1e-27) -> np.ndarray:
    """E_l = κ f_l² c: joules of the device's CPU for ``cycles`` (κ: effective capacitance)."""
    return kappa * np.asarray(f_local_hz, np.float64) ** 2 * np.asarray(cycles, np.float64)


def path_loss_db(distance_m: np.ndarray, model: str = "macro", carrier_ghz: float = 3.5,
                 ue_height_m: float = 1.5, bs_height_m: float = 25.0) -> np.ndarray:
    """Path loss in dB at 2-D distance ``distance_m``.

    ``macro``: 128.1 + 37.6 log10(d km) (3GPP TR 36.814 macro cell at 2 GHz, the MEC
    literature's usual choice). ``uma-nlos``: 3GPP TR 38.901 UMa NLoS,
    max(PL_LoS, 13.54 + 39.08 log10 d3D + 20 log10 fc − 0.6 (h_UT − 1.5)), with the LoS
    formula below the breakpoint distance (valid 10 m – 5 km).
    """
    d2 = np.maximum(np.asarray(distance_m, np.float64), 1.0)
    return path_loss_db_sq(d2 * d2, model, carrier_ghz, ue_height_m, bs_height_m)


def path_loss_db_sq(distance_sq_m2: np.ndarray, model: str = "macro", carrier_ghz: float = 3.5,
                    ue_height_m: float = 1.5, bs_height_m: float = 25.0) -> np.ndarray:
    """:func:`path_loss_db` of squared 2-D distances (floored at 1 m), with one logarithm
    per element: every branch is affine in log10 of the distance, so the batched radio
    spends one ``log10`` where a direct transcription spends four."""
    sq = np.maximum(np.asarray(distance_sq_m2), 1.0)
    if model == "macro":
        return 128.1 - 37.6 * 3.0 + 18.8 * np.log10(sq)
    if model == "uma-nlos":
        dh2 = (bs_height_m - ue_height_m) ** 2
        log_d3 = 0.5 * np.log10(sq + dh2)
        fc = 20 * math.log10(carrier_ghz)  # Python floats keep a float32 array float32
        breakpoint = 4 * (bs_height_m - 1.0) * (ue_height_m - 1.0) * carrier_ghz * 1e9 / 3e8
        near = 28.0 + fc + 22 * log_d3
        far = 28.0 + fc - 9 * math.log10(breakpoint**2 + dh2) + 40 * log_d3
        los = np.where(sq <= breakpoint**2, near, far)
        nlos = 13.54 + fc - 0.6 * (ue_height_m - 1.5) + 39.08 * log_d3
        return np.maximum(los, nlos)
    raise ValueError(f"unknown path-loss model {model!r}; allowed: macro, uma-nlos")


def noise_w(bandwidth_hz: np.ndarray | float, noise_figure_db: float = 0.0) -> np.ndarray:
    """N0 B: thermal noise power (W) in ``bandwidth_hz`` behind a receiver noise figure."""
    return dbm_to_w(NOISE_DBM_PER_HZ + noise_figure_db) * np.asarray(bandwidth_hz, np.float64)


def uplink_rate(bandwidth_hz: np.ndarray, tx_power_w: np.ndarray, gain: np.ndarray,
                noise_figure_db: float = 0.0, interference_w: np.ndarray | float = 0.0) -> np.ndarray:
    """Shannon rate (bit/s): B log2(1 + P h / (N0 B + I)); ``gain`` is linear (10^(−PL/10))."""
    b = np.asarray(bandwidth_hz, np.float64)
    snr = tx_power_w * gain / (noise_w(b, noise_figure_db) + interference_w)
    return b * np.log2(1.0 + snr)


def tx_time(bits: np.ndarray, rate_bps: np.ndarray) -> np.ndarray:
    """d / r: seconds to upload ``bits`` (inf at rate 0)."""
    r = np.asarray(rate_bps, np.float64)
    with np.errstate(divide="ignore"):
        return np.where(r > 0, np.asarray(bits, np.float64) / np.where(r > 0, r, 1.0), np.inf)


def tx_energy(bits: np.ndarray, rate_bps: np.ndarray, tx_power_w: np.ndarray) -> np.ndarray:
    """P d / r: joules of the device's radio to upload ``bits``."""
    return np.asarray(tx_power_w, np.float64) * tx_time(bits, rate_bps)


def partial_offload(alpha: np.ndarray, bits: np.ndarray, cycles: np.ndarray, f_local_hz,
                    rate_bps: np.ndarray, f_server_hz, wait_s: np.ndarray | float = 0.0,
                    tx_power_w=0.0, kappa: float = 1e-27) -> tuple[np.ndarray, np.ndarray]:
    """Completion time and device energy when a fraction ``alpha`` of a task is offloaded:
    T = max((1−α) c / f_l, α (d / r + c / f_s) + W_q), E = (1−α) κ f_l² c + α P d / r
    (both parts start at once; α = 0 is local, α = 1 full offload)."""
    a = np.asarray(alpha, np.float64)
    local = (1 - a) * local_time(cycles, f_local_hz)
    with np.errstate(invalid="ignore"):
        remote = np.where(a > 0, a * (tx_time(bits, rate_bps) + np.asarray(cycles) / f_server_hz)
                          + wait_s, 0.0)
        energy = (1 - a) * local_energy(cycles, f_local_hz, kappa) + np.where(
            a > 0, a * tx_energy(bits, rate_bps, tx_power_w), 0.0)
    return np.maximum(local, remote), energy


def balanced_split(local_s: np.ndarray, offload_s: np.ndarray) -> np.ndarray:
    """α* = t_l / (t_l + t_o): the fraction that makes both parts finish together."""
    t_l, t_o = np.asarray(local_s, np.float64), np.asarray(offload_s, np.float64)
    return np.where(np.isfinite(t_o), t_l / (t_l + t_o), 0.0)


def jain_index(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """(Σx)² / (n Σx²) over ``axis``: 1 for equal shares, 1/n when one takes everything;
    1 when every share is zero (nothing to be unfair about)."""
    x = np.asarray(x, np.float64)
    n = x.shape[axis]
    s, s2 = x.sum(axis=axis), (x**2).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s2 > 0, s**2 / (n * np.where(s2 > 0, s2, 1.0)), 1.0)


def priority_score(t_remaining_s: np.ndarray, deadline_s: np.ndarray, cycles: np.ndarray,
                   c_max: float, sla: np.ndarray, alpha: float = 0.4, beta: float = 0.3,
                   gamma: float = 0.3) -> np.ndarray:
    """Seed 001: P = α(1 − t_rem/τ) + β c/C_max + γ·SLA (urgency, size, service class)."""
    urgency = 1.0 - np.asarray(t_remaining_s, np.float64) / np.asarray(deadline_s, np.float64)
    return alpha * urgency + beta * np.asarray(cycles, np.float64) / c_max + gamma * np.asarray(sla)


def mm1_mean_wait(arrival_rate: float, service_rate: float) -> float:
    """M/M/1 mean time in queue before service, ρ / (μ − λ) (inf when ρ ≥ 1)."""
    if arrival_rate >= service_rate:
        return float("inf")
    return (arrival_rate / service_rate) / (service_rate - arrival_rate)
