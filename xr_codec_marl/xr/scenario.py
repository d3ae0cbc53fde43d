"""The XR codec scenario's settings (seed 002 Table III, TR 38.838), shared by every backend.

One dataclass holds what the analytic model and the ns-3 scenario must agree on: users and
their codec ranges, the ring, the window, the traffic model and the radio. Each backend adds
its own knobs on top. ``validate`` turns bad values into one clear ``ValueError``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from xr_codec_marl.env.api import XR_KPI_NAMES, XR_REWARD_COMPONENTS, AgentSpec, EnvSpec


@dataclass(frozen=True)
class UserProfile:
    """One XR user: its agent id, traffic kind, codec range and extra constant flows."""

    agent_id: str
    kind: str  # "xr" (AR/VR) or "cg"
    rate_min_mbps: float
    rate_max_mbps: float
    #: extra constant-rate flows carried for this user (AR: audio + pose control), Mbps each
    side_flows_mbps: tuple[float, ...] = ()
    #: packet period of the side flows, ms (TR 38.838 / 5G-LENA AR preset: 4 ms)
    side_flow_period_ms: float = 4.0
    #: packet delay budget, ms (informative; rewards use Table I thresholds)
    pdb_ms: float = 10.0


#: Table III users: AR (video + audio 0.756 Mbps + pose 100 B / 4 ms = 0.2 Mbps), VR, CG.
DEFAULT_USERS: tuple[UserProfile, ...] = (
    UserProfile("AR", "xr", 0.5, 10.0, side_flows_mbps=(0.756, 0.2), pdb_ms=10.0),
    UserProfile("VR", "xr", 10.0, 30.0, pdb_ms=10.0),
    UserProfile("CG", "cg", 10.0, 30.0, pdb_ms=15.0),
)


@dataclass(frozen=True)
class XRScenario:
    """Settings of the XR codec adaptation scenario (defaults from seed 002 and REFERENCE.md)."""

    ring_m: float = 400.0
    users: tuple[UserProfile, ...] = DEFAULT_USERS
    n_rates: int = 10  # K_o: discrete codec rates per agent (eq. 14)
    window_s: float = 0.5  # t_w, observation window
    episode_limit: int = 40  # windows per episode (20 s of network)
    # --- traffic (TR 38.838) ---
    fps: float = 60.0
    frame_size_std_frac: float = 0.105
    frame_size_trunc: tuple[float, float] = (0.5, 1.5)
    frame_jitter_std_ms: float = 2.0
    frame_jitter_bound_ms: float = 4.0
    mtu_bytes: int = 1500
    # --- radio (Table III; bandwidth 20 MHz by default, see README "Choosing the bandwidth") ---
    bandwidth_mhz: float = 20.0
    carrier_ghz: float = 4.0
    numerology: int = 2
    gnb_tx_dbm: float = 43.0
    gnb_antenna_rows: int = 4
    gnb_antenna_cols: int = 8
    gnb_noise_figure_db: float = 5.0
    ue_tx_dbm: float = 26.0
    ue_noise_figure_db: float = 7.0
    ue_speed_mps: float = 3.0
    gnb_height_m: float = 25.0
    ue_height_m: float = 1.5
    min_distance_m: float = 35.0  # 38.901 UMa validity starts at 35 m (2D)
    rlc_buffer_bytes: int = 60_000
    # --- rewards ---
    reward_shaping: bool = False
    shaping_gamma: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    # ----------------------------------------------------------------------------------
    def validate(self) -> "XRScenario":
        """Raise ``ValueError`` naming the first bad setting; return self when all are fine."""
        if not np.isfinite(self.ring_m) or self.ring_m <= 0:
            raise ValueError(f"ring radius must be > 0 m, got {self.ring_m}")
        if self.ring_m <= self.min_distance_m:
            raise ValueError(
                f"ring radius {self.ring_m} m must exceed the minimum UE distance "
                f"{self.min_distance_m} m"
            )
        if self.n_rates < 2:
            raise ValueError(f"n_rates (K_o) must be >= 2, got {self.n_rates}")
        if self.window_s <= 0 or self.episode_limit <= 0:
            raise ValueError("window_s and episode_limit must be > 0")
        if self.fps <= 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")
        if self.bandwidth_mhz <= 0:
            raise ValueError(f"bandwidth must be > 0 MHz, got {self.bandwidth_mhz}")
        if self.rlc_buffer_bytes < self.mtu_bytes:
            raise ValueError("rlc_buffer_bytes must hold at least one MTU-sized packet")
        for u in self.users:
            if not (0 < u.rate_min_mbps <= u.rate_max_mbps):
                raise ValueError(
                    f"codec range of {u.agent_id} must satisfy 0 < min <= max, "
                    f"got [{u.rate_min_mbps}, {u.rate_max_mbps}] Mbps"
                )
        return self

    def with_(self, **changes: Any) -> "XRScenario":
        """A copy with some settings changed (validated)."""
        return replace(self, **changes).validate()

    # ----------------------------------------------------------------------------------
    @property
    def n_agents(self) -> int:
        return len(self.users)

    def rate_table(self) -> np.ndarray:
        """``[N, K_o]`` codec rates (Mbps) of eq. 14: K_o evenly spaced values in [min, max]."""
        return np.stack(
            [np.linspace(u.rate_min_mbps, u.rate_max_mbps, self.n_rates) for u in self.users]
        )

    def max_rates(self) -> np.ndarray:
        return np.array([u.rate_max_mbps for u in self.users])

    @property
    def obs_size(self) -> int:
        """Eq. 13: team's previous codec choices (N, normalised) + buffer ratio + PDR."""
        return self.n_agents + 2

    @property
    def state_size(self) -> int:
        """Global state: every agent's observation-level facts plus delay and DRR per UE."""
        return self.n_agents * 5

    def env_spec(self, name: str = "xr") -> EnvSpec:
        table = self.rate_table()
        agents = tuple(
            AgentSpec(u.agent_id, u.kind, self.obs_size, self.n_rates, tuple(map(float, table[i])))
            for i, u in enumerate(self.users)
        )
        return EnvSpec(
            name=name,
            agents=agents,
            state_size=self.state_size,
            reward_components=XR_REWARD_COMPONENTS,
            kpi_names=XR_KPI_NAMES,
            step_interval_s=self.window_s,
            episode_limit=self.episode_limit,
            extra={"ring_m": self.ring_m, "bandwidth_mhz": self.bandwidth_mhz},
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra", None)
        return d


def scenario_field_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(XRScenario))
