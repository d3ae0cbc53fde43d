"""What the XR codec scenario measures and rewards (seed 002), declared once for every backend,
the C++ simulator's handshake and every report."""

from __future__ import annotations

from xr_codec_marl.core.kpis import KpiSpec, RewardSpec

#: The reward components of the XR codec problem (seed 002, eqs. 15-20), in this order.
XR_REWARD_COMPONENTS: tuple[str, ...] = ("delay", "pdr", "drr")

#: Per-UE KPIs every XR backend reports in ``info["kpis"]``, in this order (the xr-codec
#: simulator announces the same names in its Hello).
XR_KPI_NAMES: tuple[str, ...] = (
    "delay_ms",
    "jitter_ms",
    "pdr",
    "plr",
    "throughput_mbps",
    "xqi",
    "buffer_ratio",
    "codec_rate_mbps",
    "sinr_db",
)

#: Declarations, in report order: the paper's four headline KPIs and throughput first (the
#: ``--json`` ``kpis`` of DESIGN.md §4), then the rest.
XR_KPIS: tuple[KpiSpec, ...] = (
    KpiSpec("xqi", "", "higher", headline=True, label="XR index", report_as="xr_index"),
    KpiSpec("jitter_ms", "ms", "lower", headline=True, label="Jitter"),
    KpiSpec("delay_ms", "ms", "lower", headline=True, label="Delay", fmt=".2f"),
    KpiSpec("plr", "", "lower", headline=True, label="PLR", fmt=".4f"),
    KpiSpec("throughput_mbps", "Mbps", "higher", headline=True, label="Throughput", fmt=".2f"),
    KpiSpec("pdr", "", "higher", label="PDR", fmt=".4f"),
    KpiSpec("buffer_ratio", "", "lower", label="RLC buffer ratio"),
    KpiSpec("codec_rate_mbps", "Mbps", "none", label="Codec rate", fmt=".2f"),
    # the UE's own mean downlink SINR over the window (ns-3: what its PHY measured), the
    # channel information ``--observation channel`` gives the agents
    KpiSpec("sinr_db", "dB", "none", label="DL SINR", fmt=".1f"),
)

XR_REWARDS: tuple[RewardSpec, ...] = (
    RewardSpec("delay", "delay reward (eq. 15)"),
    RewardSpec("pdr", "PDR reward (eq. 17)"),
    RewardSpec("drr", "data-rate reward (eq. 19)"),
)
