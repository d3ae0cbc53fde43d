"""The XR codec scenario's settings (seed 002 Table III, TR 38.838), shared by every backend.

One dataclass holds what the analytic model and the ns-3 scenario must agree on: users and
their codec ranges, the ring, the window, the traffic model and the radio. Each backend adds
its own knobs on top. ``validate`` turns bad values into one clear ``ValueError``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from xr_codec_marl.core.api import AgentSpec, EnvSpec
from xr_codec_marl.core.spaces import ContinuousDim, HybridSpace
from xr_codec_marl.scenarios.xr.kpis import XR_KPI_NAMES, XR_KPIS, XR_REWARD_COMPONENTS, XR_REWARDS
from xr_codec_marl.scenarios.xr.observation import observation_sizes


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


#: The three user types of Table III, with their default codec ranges: AR (video + audio
#: 0.756 Mbps + pose 100 B / 4 ms = 0.2 Mbps), VR and CG. Both backends know exactly these.
USER_TYPES: dict[str, UserProfile] = {
    "AR": UserProfile("AR", "xr", 0.5, 10.0, side_flows_mbps=(0.756, 0.2), pdb_ms=10.0),
    "VR": UserProfile("VR", "xr", 10.0, 30.0, pdb_ms=10.0),
    "CG": UserProfile("CG", "cg", 10.0, 30.0, pdb_ms=15.0),
}
#: Table III's users: one of each type.
DEFAULT_USERS: tuple[UserProfile, ...] = tuple(USER_TYPES.values())


def user_type(user: UserProfile) -> str:
    """``AR``, ``VR`` or ``CG``: the traffic a user carries (CG kind; XR with or without the AR
    side flows). The ns-3 scenario builds its users from these types."""
    if user.kind == "cg":
        return "CG"
    return "AR" if user.side_flows_mbps else "VR"


def parse_users(text: str) -> tuple[UserProfile, ...]:
    """Users from ``TYPE[:MIN:MAX],...`` (e.g. ``AR:0.5:10,VR,VR:10:50``), ``ValueError`` if bad.

    ``TYPE`` is AR, VR or CG; a missing range is the type's default. Agent ids are the type,
    numbered (VR1, VR2, ...) when a type occurs more than once: the xr-codec simulator's
    ``--users`` names its agents by the same rule, so both sides agree on the spec.
    """
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise ValueError(f"users must be TYPE[:MIN:MAX],... with TYPE in AR, VR, CG; got {text!r}")
    parsed: list[tuple[str, float | None, float | None]] = []
    for item in items:
        kind, *rng = item.split(":")
        kind = kind.upper()
        if kind not in USER_TYPES or len(rng) not in (0, 2):
            raise ValueError(f"user {item!r} must be TYPE or TYPE:MIN:MAX with TYPE in "
                             f"{', '.join(USER_TYPES)}")
        try:
            lo, hi = (float(rng[0]), float(rng[1])) if rng else (None, None)
        except ValueError:
            raise ValueError(f"user {item!r}: codec range MIN:MAX must be numbers (Mbps)") from None
        parsed.append((kind, lo, hi))
    ids = default_user_ids([kind for kind, _, _ in parsed])
    return tuple(
        replace(USER_TYPES[kind], agent_id=uid,
                rate_min_mbps=USER_TYPES[kind].rate_min_mbps if lo is None else lo,
                rate_max_mbps=USER_TYPES[kind].rate_max_mbps if hi is None else hi)
        for uid, (kind, lo, hi) in zip(ids, parsed)
    )


def default_user_ids(types: list[str]) -> list[str]:
    """The agent ids ``parse_users`` (and the simulator) give users of these types."""
    counts, seen = Counter(types), Counter[str]()
    out = []
    for t in types:
        seen[t] += 1
        out.append(t if counts[t] == 1 else f"{t}{seen[t]}")
    return out


#: Radio access networks of the ns-3 backend ("": the build's default).
RANS: tuple[str, ...] = ("", "nr", "lte")

#: UE mobility modes (``XRScenario.mobility``): the paper's random ``walk`` and ``cross``,
#: straight chords across the disc (near the edge -> past the base station -> far edge).
MOBILITIES: tuple[str, ...] = ("walk", "cross")
#: UE speed the CLI gives ``--mobility cross`` without ``--ue-speed`` (m/s, 108 km/h): fast
#: enough to cross a 400 m ring's diameter in about one 20 s episode.
CROSS_SPEED_MPS: float = 30.0
#: Most background load users (the simulator's limit too).
MAX_LOAD_USERS: int = 32

#: What each agent observes. ``eq13``: the paper's eq. 13 (the team's previous codec choices,
#: own RLC buffer ratio, own PDR), the default for comparability. ``channel``: eq. 13 plus the
#: UE's own mean downlink SINR of the last window (the state gets every UE's), the channel
#: information eq. 13 lacks (issue 14: an oracle constant per episode that knows the channel
#: beats the best fixed constant by +0.29 team reward at 400 m).
OBSERVATIONS: tuple[str, ...] = ("eq13", "channel")

#: What each agent chooses every window (issue 15). ``discrete``: one of the K_o codec rates
#: of eq. 14 (the paper's, the default; every learner takes it). ``continuous``: any codec
#: rate in [d_min, d_max] Mbps, one bounded continuous dimension (a hybrid space without
#: categorical heads: the policy-gradient learners take it).
ACTION_FORMS: tuple[str, ...] = ("discrete", "continuous")
#: Name and unit of the continuous action dimension: the codec rate in Mbps.
RATE_DIM, RATE_UNIT = "codec_rate", "Mbps"


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
    #: the ns-3 backend's RAN: "nr" (5G-LENA) or "lte"; "": the build's default (NR when
    #: built with it). The analytic model has profiles instead (``--analytic-profile``).
    ran: str = ""
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
    # --- what the agents see (OBSERVATIONS) ---
    observation: str = "eq13"
    # --- what the agents choose (ACTION_FORMS) ---
    actions: str = "discrete"
    # --- rewards ---
    reward_shaping: bool = False
    shaping_gamma: float = 1.0
    # --- ns-3 backend only ---
    #: further xr-codec CommandLine values ``(name, value)`` without a typed field here (e.g.
    #: ``("scheduler", "ns3::RrFfMacScheduler")``); checked by ``xr.ns3_args``, recorded with
    #: the other settings
    ns3_args: tuple[tuple[str, str], ...] = ()
    # --- dynamics where codec adaptation matters (issue 14); all off by default, the paper's
    # setting, so results stay comparable. Both backends model them (README "Dynamics") ---
    #: background (non-agent) downlink users sharing the cell, placed and moving like the XR
    #: users; each sends constant-rate traffic during exponential on periods
    load_users: int = 0
    load_mbps: float = 10.0  # each background user's rate while on
    load_on_s: float = 2.0  # mean on period
    load_off_s: float = 2.0  # mean off period
    #: ``walk``: random walk at ue_speed_mps (the paper's); ``cross``: straight chords across
    #: the disc from near the ring edge, past the base station, to the far edge, repeated
    mobility: str = "walk"
    #: per-UE blockage (XR users): onsets at this Poisson rate (1/s), exponential durations
    #: of mean blockage_s, blockage_db extra path loss while blocked; 0: none
    blockage_rate_hz: float = 0.0
    blockage_s: float = 1.0
    blockage_db: float = 20.0
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
        if self.ran not in RANS:
            raise ValueError(f"ran must be one of nr, lte (or empty for the build's default), "
                             f"got {self.ran!r}")
        if self.observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {', '.join(OBSERVATIONS)}, "
                             f"got {self.observation!r}")
        if self.actions not in ACTION_FORMS:
            raise ValueError(f"actions must be one of {', '.join(ACTION_FORMS)}, "
                             f"got {self.actions!r}")
        if self.rlc_buffer_bytes < self.mtu_bytes:
            raise ValueError("rlc_buffer_bytes must hold at least one MTU-sized packet")
        if not self.users:
            raise ValueError("the scenario needs at least one user")
        ids = [u.agent_id for u in self.users]
        if len(set(ids)) != len(ids):
            raise ValueError(f"agent ids must be unique, got {', '.join(ids)}")
        for u in self.users:
            if not (0 < u.rate_min_mbps <= u.rate_max_mbps):
                raise ValueError(
                    f"codec range of {u.agent_id} must satisfy 0 < min <= max, "
                    f"got [{u.rate_min_mbps}, {u.rate_max_mbps}] Mbps"
                )
        self._validate_dynamics()
        return self

    def _validate_dynamics(self) -> None:
        """The issue-14 dynamics: one ``ValueError`` line naming the first bad one."""
        if not 0 <= self.load_users <= MAX_LOAD_USERS or int(self.load_users) != self.load_users:
            raise ValueError(f"load_users must be an integer in [0, {MAX_LOAD_USERS}], "
                             f"got {self.load_users}")
        for name in ("load_mbps", "load_on_s", "load_off_s", "blockage_s"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be > 0, got {value}")
        if self.mobility not in MOBILITIES:
            raise ValueError(f"mobility must be one of {', '.join(MOBILITIES)}, "
                             f"got {self.mobility!r}")
        if not (np.isfinite(self.blockage_rate_hz) and self.blockage_rate_hz >= 0):
            raise ValueError(f"blockage_rate_hz must be >= 0 (onsets per second), "
                             f"got {self.blockage_rate_hz}")
        if not (np.isfinite(self.blockage_db) and self.blockage_db >= 0):
            raise ValueError(f"blockage_db must be >= 0 dB, got {self.blockage_db}")

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

    def min_rates(self) -> np.ndarray:
        return np.array([u.rate_min_mbps for u in self.users])

    @property
    def obs_size(self) -> int:
        """Eq. 13: team's previous codec choices (N, normalised) + buffer ratio + PDR (+ own
        SINR with ``observation="channel"``)."""
        return observation_sizes(self.n_agents, self.observation == "channel")[0]

    @property
    def state_size(self) -> int:
        """Global state: every agent's observation-level facts plus delay and DRR per UE (+ SINR
        with ``observation="channel"``)."""
        return observation_sizes(self.n_agents, self.observation == "channel")[1]

    @property
    def continuous(self) -> bool:
        """Agents choose any codec rate in their range (``actions="continuous"``)."""
        return self.actions == "continuous"

    def rate_space(self, user: UserProfile) -> HybridSpace:
        """``actions="continuous"``: one user's action space, the codec rate in
        [d_min, d_max] Mbps as one bounded dimension and no categorical head (its joint
        discrete index has one value, 0)."""
        return HybridSpace((), (ContinuousDim(RATE_DIM, float(user.rate_min_mbps),
                                              float(user.rate_max_mbps), RATE_UNIT),))

    def env_spec(self, name: str = "xr") -> EnvSpec:
        if self.continuous:
            agents = tuple(AgentSpec(u.agent_id, u.kind, self.obs_size, 1,
                                     action_space=self.rate_space(u)) for u in self.users)
        else:
            table = self.rate_table()
            agents = tuple(
                AgentSpec(u.agent_id, u.kind, self.obs_size, self.n_rates,
                          tuple(map(float, table[i])))
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
            extra={"ring_m": self.ring_m, "bandwidth_mhz": self.bandwidth_mhz,
                   "settings": self.to_dict(), "scenario": "xr"},
            kpis=XR_KPIS,
            rewards=XR_REWARDS,
        )

    def to_dict(self) -> dict[str, Any]:
        """Every setting as plain JSON data (lists, not tuples): what results and checkpoints
        record, so a number can always be traced to the scenario that produced it."""
        d = asdict(self)
        d.pop("extra", None)
        d["ns3_args"] = dict(self.ns3_args)
        return json.loads(json.dumps(d))


def scenario_field_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(XRScenario))
