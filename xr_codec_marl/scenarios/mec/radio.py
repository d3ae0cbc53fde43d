"""The MEC scenario's radio: where servers and devices are, how devices walk, and the uplink
rate each device gets to each server's cell, batched ``[B, N, K]``.

Two topologies (``radio``):

- ``per-server`` (the seeds'): servers sit on a grid over a square area, one cell each;
  devices start uniform and walk at ``speed_mps`` in a random direction, reflected at the
  borders; the devices that upload to the same server share its cell's bandwidth equally;
- ``cells`` (the ns-3 scenario's network): ``cells`` base stations on a line ``isd_m`` apart,
  device i around base station i mod cells (uniform in the annulus ``min_distance_m`` ..
  ``cell_radius_m``, walking inside the square around it); every server is reached through
  the device's serving cell, so every upload in progress in a cell shares its bandwidth.

Channel gain = path loss (:func:`.models.path_loss_db`) plus log-normal shadowing drawn per
episode; each device sees ``interference_dbm`` from other cells. The rate is Shannon's times
``rate_efficiency``, capped at ``max_se_bps_hz`` (0: no cap): the free parameters fitted to
the packet-level uplink (``benchmarks/mec_calibrate.py``).
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
        self.n_servers = n_servers
        self.cells = settings.radio == "cells"
        heading = rng.uniform(0.0, 2 * np.pi, (num_envs, n_devices))
        self.vel = settings.speed_mps * np.stack([np.cos(heading), np.sin(heading)], axis=-1)
        if self.cells:
            s = settings
            self.servers = np.stack([np.arange(s.cells) * s.isd_m, np.zeros(s.cells)], axis=-1)
            self.cell = np.arange(n_devices) % s.cells  # [N] serving base station
            centre = self.servers[self.cell]  # [N, 2]
            r = np.sqrt(rng.uniform(s.min_distance_m**2, s.cell_radius_m**2,
                                    (num_envs, n_devices)))
            phi = rng.uniform(0.0, 2 * np.pi, (num_envs, n_devices))
            self.pos = centre[None] + r[..., None] * np.stack([np.cos(phi), np.sin(phi)], -1)
            self.lo = centre - s.cell_radius_m  # walking area: the square around the cell
            self.hi = centre + s.cell_radius_m
            shape = (num_envs, n_devices, 1)  # one serving cell: one shadowing per device
        else:
            self.servers = server_positions(n_servers, settings.area_m)
            self.pos = rng.uniform(0.0, settings.area_m, (num_envs, n_devices, 2))
            self.lo, self.hi = 0.0, settings.area_m
            shape = (num_envs, n_devices, n_servers)
        self.shadow_db = rng.normal(0.0, settings.shadowing_db, shape).astype(np.float32)
        self.interference_w = float(models.dbm_to_w(settings.interference_dbm))

    def move(self, dt_s: float) -> None:
        """Walk ``dt_s`` seconds, reflecting off the walking area's borders."""
        lo, hi = self.lo, self.hi
        p = self.pos + self.vel * dt_s
        over, under = p > hi, p < lo
        p = np.where(over, 2 * hi - p, np.where(under, 2 * lo - p, p))
        self.vel = np.where(over | under, -self.vel, self.vel)
        self.pos = np.clip(p, lo, hi)

    def distances_sq(self) -> np.ndarray:
        """``[B, N, K]`` squared device–server distances in m² (``cells``: to the device's
        serving base station, the same for every server)."""
        if self.cells:
            d = self.pos - self.servers[self.cell][None]
            sq = (d * d).sum(-1)
            return np.broadcast_to(sq[..., None], (*sq.shape, self.n_servers))
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
              extra_load: np.ndarray | None = None,
              active: np.ndarray | None = None) -> np.ndarray:
        """Uplink rate (bit/s) ``[B, N]`` of each device to its chosen ``server [B, N]``
        (−1: not uploading, rate 0) at ``tx_power_w``. ``per-server``: each server's cell is
        shared equally among the devices uploading to it this step and ``extra_load [B, K]``
        others (uploads still in progress from earlier steps); ``cells``: each base station's
        among its devices uploading now or still uploading (``active [B, N]``)."""
        g = self.gains() if gains is None else gains
        uploading = server >= 0
        idx = np.where(uploading, server, 0)
        if self.cells:
            busy = uploading if active is None else uploading | active
            cell = np.broadcast_to(self.cell[None], busy.shape)
            load = uploads_per_server(busy, cell, self.s.cells)
            mine = np.take_along_axis(load, cell, axis=1)
        else:
            load = uploads_per_server(uploading, idx, g.shape[2])
            if extra_load is not None:
                load += extra_load
            mine = np.take_along_axis(load, idx, axis=1)
        share = self.s.bandwidth_hz / np.maximum(mine, 1.0)
        gain = np.take_along_axis(g, idx[..., None], axis=2)[..., 0]
        rate = models.uplink_rate(share, tx_power_w, gain, self.s.noise_figure_db,
                                  self.interference_w)
        rate = rate * self.s.rate_efficiency
        if self.s.max_se_bps_hz > 0:
            rate = np.minimum(rate, share * self.s.max_se_bps_hz)
        return np.where(uploading, rate, 0.0)

    def nearest(self, gains: np.ndarray | None = None) -> np.ndarray:
        """``[B, N]`` the server of best channel gain for each device."""
        g = self.gains() if gains is None else gains
        return g.argmax(axis=-1)
