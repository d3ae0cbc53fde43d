"""Radio channel of the XR cell: UMa NLoS path loss (3GPP TR 38.901), shadowing, SINR -> rate.

Vectorised numpy over any leading dims. The functions are pure; the analytic environment owns
the random state (UE positions, shadowing) and calls them every window / tick.
"""

from __future__ import annotations

import numpy as np

SPEED_OF_LIGHT = 299_792_458.0

#: 3GPP TS 38.214 CQI table 2 (256QAM) spectral efficiencies, bit/s/Hz (CQI 1..15).
NR_CQI_TABLE2_SE = np.array(
    [0.1523, 0.3770, 0.8770, 1.4766, 1.9141, 2.4063, 2.7305, 3.3223, 3.9023, 4.5234,
     5.1152, 5.5547, 6.2266, 6.9141, 7.4063]
)
#: 3GPP TS 36.213 CQI table (64QAM, LTE), bit/s/Hz (CQI 1..15).
LTE_CQI_SE = np.array(
    [0.1523, 0.2344, 0.3770, 0.6016, 0.8770, 1.1758, 1.4766, 1.9141, 2.4063, 2.7305,
     3.3223, 3.9023, 4.5234, 5.1152, 5.5547]
)


def uma_nlos_pathloss_db(
    d2d_m: np.ndarray, fc_ghz: float, h_bs_m: float = 25.0, h_ut_m: float = 1.5
) -> np.ndarray:
    """TR 38.901 Table 7.4.1-1 UMa NLoS: PL = max(PL_UMa-LOS, PL'_UMa-NLOS), dB.

    Valid for 10 m <= d2D <= 5 km; callers keep UEs beyond 35 m. The LOS term uses PL1
    below the breakpoint distance and PL2 beyond it.
    """
    d2d = np.asarray(d2d_m, dtype=np.float64)
    d3d = np.sqrt(d2d**2 + (h_bs_m - h_ut_m) ** 2)
    d_bp = 4.0 * (h_bs_m - 1.0) * (h_ut_m - 1.0) * fc_ghz * 1e9 / SPEED_OF_LIGHT
    pl1 = 28.0 + 22.0 * np.log10(d3d) + 20.0 * np.log10(fc_ghz)
    pl2 = (
        28.0 + 40.0 * np.log10(d3d) + 20.0 * np.log10(fc_ghz)
        - 9.0 * np.log10(d_bp**2 + (h_bs_m - h_ut_m) ** 2)
    )
    pl_los = np.where(d2d <= d_bp, pl1, pl2)
    pl_nlos = 13.54 + 39.08 * np.log10(d3d) + 20.0 * np.log10(fc_ghz) - 0.6 * (h_ut_m - 1.5)
    return np.maximum(pl_los, pl_nlos)


def thermal_noise_dbm(bandwidth_hz: float, noise_figure_db: float) -> float:
    """kTB + NF at 290 K: -174 dBm/Hz + 10 log10(B) + NF."""
    return -174.0 + 10.0 * np.log10(bandwidth_hz) + noise_figure_db


def spectral_efficiency(
    sinr_db: np.ndarray, alpha: float = 0.6, se_table: np.ndarray = NR_CQI_TABLE2_SE
) -> np.ndarray:
    """Attenuated Shannon (TR 36.942 style) quantised down to the MCS/CQI table, bit/s/Hz.

    ``alpha * log2(1 + SINR)`` is the link-level efficiency; the scheduler can only use a
    table entry at or below it (0 below the lowest CQI: the UE is out of coverage).
    """
    shannon = alpha * np.log2(1.0 + 10.0 ** (np.asarray(sinr_db) / 10.0))
    idx = np.searchsorted(se_table, shannon, side="right") - 1
    return np.where(idx >= 0, se_table[np.clip(idx, 0, None)], 0.0)


def array_gain_db(rows: int, cols: int) -> float:
    """Ideal beamforming gain of an ``rows x cols`` array, dB (10 log10 of the element count)."""
    return 10.0 * np.log10(rows * cols)
