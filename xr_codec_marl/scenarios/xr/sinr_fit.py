"""``sinr-fit``: a channel-aware rule, the reference that knows what the learners must learn.

Every window each UE's codec rate is set to fit a share of what its channel carries: the
highest codec rate at or below ``eta`` x (its equal share of the cell at the last window's
mean SINR, by the analytic twin's link model: the spectral efficiency of the MCS table
times the useful bandwidth) minus its side flows. It reads the ``sinr_db`` KPI the agents see
with ``--observation channel``, so it needs nothing a learner could not have; it knows the
SINR -> rate map exactly, which a learner has to discover. ``eta`` trades throughput for
delay and loss: ``sinr-fit`` tunes it (highest team reward on the twin's tuning seeds, as
``best-fixed`` tunes its constant); ``SinrFitPolicy(spec, eta=x)`` traces the trade-off.
"""

from __future__ import annotations

import numpy as np

from xr_codec_marl.baselines.best_constant import TUNE_EPISODES, TUNE_SEED, twin_scores
from xr_codec_marl.core.api import EnvSpec, Observation

#: The eta values ``sinr-fit`` tries when tuning.
ETA_GRID: tuple[float, ...] = tuple(np.round(np.arange(0.2, 2.01, 0.1), 2))


class SinrFitPolicy:
    """Codec rates fitted to each UE's share of the cell at its last SINR (see the module)."""

    def __init__(self, spec: EnvSpec, eta: float | None = None,
                 episodes: int = TUNE_EPISODES, seed: int = TUNE_SEED) -> None:
        from xr_codec_marl.scenarios.xr import channel
        from xr_codec_marl.scenarios.xr.analytic import _SE_TABLES, PROFILES
        from xr_codec_marl.scenarios.xr.scenario import XR

        if "sinr_db" not in spec.kpi_names:
            raise ValueError("sinr-fit needs the sinr_db KPI (this simulator does not report it)")
        settings, options = XR.analytic_twin(spec)
        params = PROFILES[options.get("profile", "nr")]
        self.spec = spec
        self._sinr = spec.kpi_index("sinr_db")
        self._values = np.array([a.action_values for a in spec.agents], np.float64)  # [N, A]
        self._side = np.array([sum(u.side_flows_mbps) for u in settings.users])
        useful_hz = settings.bandwidth_mhz * 1e6 * (1.0 - params.overhead)
        n = spec.n_agents

        def share_mbps(sinr_db: np.ndarray) -> np.ndarray:
            se = channel.spectral_efficiency(sinr_db, params.shannon_alpha,
                                             _SE_TABLES[params.mcs_table])
            return se * useful_hz / n / 1e6

        self._share = share_mbps
        if eta is None:
            self.scores = twin_scores(spec, [SinrFitPolicy(spec, e) for e in ETA_GRID],
                                      episodes, seed)
            eta = float(ETA_GRID[int(np.argmax(self.scores))])
        if not eta > 0:
            raise ValueError(f"sinr-fit needs eta > 0, got {eta}")
        self.eta = float(eta)
        self.name = f"sinr-fit:{self.eta:g}"

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        """Stateless: each window's choice depends on the last window's SINR only."""

    def act(self, step: Observation, explore: bool = False) -> np.ndarray:
        kpis = step.info.get("kpis")
        if kpis is None:
            raise ValueError("sinr-fit needs per-UE KPIs in info['kpis'] (the backend sent none)")
        budget = self.eta * self._share(np.asarray(kpis[..., self._sinr], np.float64)) - self._side
        fits = self._values[None, :, :] <= budget[..., None]  # [B, N, A], values ascending
        return np.maximum(fits.sum(-1) - 1, 0).astype(np.int64)
