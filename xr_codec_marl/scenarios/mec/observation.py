"""Observations and state of the MEC twin, every feature scaled to about [0, 1].

``multi-mec`` (per device, ``8 + 3K``): has a task; its size, work and slack (of the largest
in range); its priority; the device's CPU and uplink backlog; its AoI; then per server the
spectral efficiency it would get at full power (with the server's current uploads sharing
the cell), the server's backlog and whether it is up.

``aiot`` (per edge node, the seed's 5 features): the node's own backlog (s), the share of its
memory in use, the pending task's work (s at the mean node speed) and its slack (s), and the
smallest backlog among the other nodes that are up. These are what run / forward / reject
turns on: can this node finish the task in time (backlog, memory, work, slack), and would
another do better (the least-loaded other node). ``observation="full"`` adds every node's
backlog and up state (``5 + 2K``).
"""

from __future__ import annotations

import numpy as np

from xr_codec_marl.scenarios.mec.settings import MECSettings


def obs_size(s: MECSettings) -> int:
    if s.preset == "multi-mec":
        return 8 + 3 * s.servers
    return 5 + (2 * s.servers if s.observation == "full" else 0)


def state_size(s: MECSettings) -> int:
    if s.preset == "multi-mec":
        return 4 * s.servers + 4 * s.devices
    return 6 * s.servers + s.devices


def scales(s: MECSettings) -> dict[str, float]:
    return {"bits": s.data_bits[1], "cycles": s.data_bits[1] * s.cycles_per_bit[1],
            "tau": s.deadline_s[1], "f": s.f_server_hz[1]}


def build(s: MECSettings, view: "dict[str, np.ndarray]") -> tuple[np.ndarray, np.ndarray]:
    """``obs [B, A, O]`` and ``state [B, S]`` from the twin's view (see ``MECView``)."""
    sc = scales(s)
    tau = sc["tau"]
    has = view["has"].astype(np.float64)
    slack = np.clip(view["slack_s"] / tau, -1.0, 1.0) * has
    backlog = np.clip(view["server_backlog_s"] / tau, 0.0, 5.0) / 5.0
    up = view["up"].astype(np.float64)
    mem = np.clip(view["server_mem_used"] / view["server_mem_cap"], 0.0, 1.0)
    if s.preset == "multi-mec":
        b, n = has.shape
        k = s.servers
        obs = np.empty((b, n, 8 + 3 * k), np.float32)  # filled in place: no big temporaries
        obs[..., 0] = has
        obs[..., 1] = view["bits"] / sc["bits"] * has
        obs[..., 2] = view["cycles"] / sc["cycles"] * has
        obs[..., 3] = slack
        obs[..., 4] = view["priority"] * has
        obs[..., 5] = np.clip(view["local_wait_s"] / tau, 0.0, 5.0) / 5.0
        obs[..., 6] = np.clip(view["uplink_wait_s"] / tau, 0.0, 5.0) / 5.0
        obs[..., 7] = np.clip(view["aoi_s"] / s.aoi_max_s, 0.0, 1.0)
        se = obs[..., 8:8 + k]  # spectral efficiency at full power, bit/s/Hz / 10
        np.log2(1.0 + view["snr_full"], out=se, casting="same_kind")
        se *= 0.1
        np.clip(se, 0.0, 2.0, out=se)
        obs[..., 8 + k:8 + 2 * k] = backlog[:, None, :]
        obs[..., 8 + 2 * k:] = up[:, None, :]
        state = np.concatenate([backlog, up, view["server_speed"] / sc["f"], mem, has, slack,
                                obs[..., 5], obs[..., 7]], axis=-1)
        return obs, state.astype(np.float32)
    b, k = has.shape
    mean_f = 0.5 * (s.f_server_hz[0] + s.f_server_hz[1])
    other = np.where(up[:, None, :] > 0, backlog[:, None, :], np.inf)
    other = np.where(np.eye(k, dtype=bool)[None], np.inf, other).min(-1)
    other = np.where(np.isfinite(other), other, 1.0)
    work = np.clip(view["cycles"] / mean_f / tau, 0.0, 5.0) / 5.0 * has
    obs = np.stack([backlog, mem, work, slack, other], axis=-1)
    if s.observation == "full":
        obs = np.concatenate([obs, np.broadcast_to(backlog[:, None], (b, k, k)),
                              np.broadcast_to(up[:, None], (b, k, k))], axis=-1)
    state = np.concatenate([backlog, up, view["server_speed"] / sc["f"], mem, has, slack,
                            np.clip(view["aoi_s"] / s.aoi_max_s, 0.0, 1.0)], axis=-1)
    return obs.astype(np.float32), state.astype(np.float32)
