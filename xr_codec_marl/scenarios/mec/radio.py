"""The MEC scenario's radio: where servers and devices are, how devices walk, and the uplink
rate each device gets to each server's cell, batched ``[B, N, K]``.

Servers sit on a grid over a square area (one cell each); devices start uniform and walk at
``speed_mps`` in a random direction, reflected at the borders. Channel gain = path loss
(:func:`.models.path_loss_db`) plus log-normal shadowing drawn per episode. The devices that
upload to the same server in a step share its bandwidth equally (OFDMA), and each sees
``interference_dbm`` from other cells.
"""

from __future__ import annotations

import math

import numpy as np

from xr_codec_marl.scenarios.mec import models
from xr_codec_marl.scenarios.mec.settings import MECSettings


def server_positions(n_servers: int, area_m: float) -> np.ndarray:
    """``[K, 2]`` centres of the cells of a ``ceil(sqrt(K))``-wide grid filled row by row."""
    cols = math.ceil(math.sqrt(n_servers))
    rows = math.ceil(n_servers / cols)
    k = np.arange(n_servers)
    x = (k % cols + 0.5) * area_m / cols
    y = (k // cols + 0.5) * area_m / rows
    return np.stack([x, y], axis=-1)


def uploads_per_server(mask: np.ndarray, server: np.ndarray, n_servers: int) -> np.ndarray:
    """``[B, K]`` how many devices of ``mask [B, N]`` upload to their ``server [B, N]``."""
    load = np.zeros((mask.shape[0], n_servers))
    bb, nn = np.nonzero(mask)
    np.add.at(load, (bb, server[bb, nn]), 1.0)
    return load


class Radio:
    """Positions, mobility and uplink rates of ``num_envs`` copies of the deployment."""

    def __init__(self, settings: MECSettings, num_envs: int, n_devices: int, n_servers: int,
                 rng: np.random.Generator) -> None:
        self.s, self.rng = settings, rng
        self.servers = server_positions(n_servers, settings.area_m)
        self.pos = rng.uniform(0.0, settings.area_m, (num_envs, n_devices, 2))
        heading = rng.uniform(0.0, 2 * np.pi, (num_envs, n_devices))
        self.vel = settings.speed_mps * np.stack([np.cos(heading), np.sin(heading)], axis=-1)
        self.shadow_db = rng.normal(0.0, settings.shadowing_db,
                                    (num_envs, n_devices, n_servers)).astype(np.float32)
        self.interference_w = float(models.dbm_to_w(settings.interference_dbm))

    def move(self, dt_s: float) -> None:
        """Walk ``dt_s`` seconds, reflecting off the area's borders."""
        a = self.s.area_m
        p = self.pos + self.vel * dt_s
        over, under = p > a, p < 0
        p = np.where(over, 2 * a - p, np.where(under, -p, p))
        self.vel = np.where(over | under, -self.vel, self.vel)
        self.pos = np.clip(p, 0.0, a)

    def distances_sq(self) -> np.ndarray:
        """``[B, N, K]`` squared device–server distances in m²."""
        dx = self.pos[:, :, None, 0] - self.servers[None, None, :, 0]
        dy = self.pos[:, :, None, 1] - self.servers[None, None, :, 1]
        dx *= dx
        dy *= dy
        dx += dy
        return dx

    def distances(self) -> np.ndarray:
        """``[B, N, K]`` device–server distances in metres."""
        return np.sqrt(self.distances_sq())

    def gains(self) -> np.ndarray:
        """``[B, N, K]`` linear channel gains (path loss and shadowing), float32: the radio
        is the twin's widest array and single precision is far finer than shadowing."""
        sq = self.distances_sq().astype(np.float32)
        pl = models.path_loss_db_sq(sq, self.s.path_loss, self.s.carrier_ghz)
        pl += self.shadow_db
        pl *= -math.log(10.0) / 10.0
        return np.exp(pl, out=pl)

    def rates(self, server: np.ndarray, tx_power_w: np.ndarray | float,
              gains: np.ndarray | None = None,
              extra_load: np.ndarray | None = None) -> np.ndarray:
        """Uplink rate (bit/s) ``[B, N]`` of each device to its chosen ``server [B, N]``
        (−1: not uploading, rate 0) at ``tx_power_w``, sharing each server's bandwidth
        equally among the devices uploading to it this step and ``extra_load [B, K]`` others
        (e.g. uploads still in progress from earlier steps)."""
        g = self.gains() if gains is None else gains
        uploading = server >= 0
        idx = np.where(uploading, server, 0)
        load = uploads_per_server(uploading, idx, g.shape[2])
        if extra_load is not None:
            load += extra_load
        share = self.s.bandwidth_hz / np.maximum(np.take_along_axis(load, idx, axis=1), 1.0)
        gain = np.take_along_axis(g, idx[..., None], axis=2)[..., 0]
        rate = models.uplink_rate(share, tx_power_w, gain, self.s.noise_figure_db,
                                  self.interference_w)
        return np.where(uploading, rate, 0.0)

    def nearest(self, gains: np.ndarray | None = None) -> np.ndarray:
        """``[B, N]`` the server of best channel gain for each device."""
        g = self.gains() if gains is None else gains
        return g.argmax(axis=-1)
