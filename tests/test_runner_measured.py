"""Training never learns from, nor averages, a window the environment did not measure."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from xr_codec_marl.env.factory import make_env
from xr_codec_marl.learners.runner import EpisodeRunner


class _DiesAtStep3:
    """The analytic env, except copy 1's simulator 'dies' on its 3rd window (placeholder data)."""

    def __init__(self) -> None:
        self.inner = make_env("xr", "analytic", 2, 0, ring_m=400.0, episode_limit=6)
        self.spec, self.num_envs = self.inner.spec, 2
        self.t = 0

    def reset(self, seed=None):
        self.t = 0
        return self.inner.reset(seed=seed)

    def step(self, actions):
        res = self.inner.step(actions)
        self.t += 1
        info = dict(res.info)
        info["measured"] = np.array([True, self.t < 3])
        if self.t == 3:
            kpis = np.array(info["kpis"], np.float64)
            kpis[1] = 0.0  # what a dead simulator's step carries: nothing measured
            rewards = np.array(res.rewards)
            rewards[1] = 999.0
            info["kpis"], info["truncation_reason"] = kpis, ["", "simulator died"]
            res = dataclasses.replace(res, rewards=rewards, info=info,
                                      truncated=np.array([False, True]))
        else:
            res = dataclasses.replace(res, info=info)
        self.measured_kpis = getattr(self, "measured_kpis", []) + [np.array(info["kpis"])]
        return res

    def close(self):
        self.inner.close()


class _ZeroController:
    def __init__(self, spec):
        self.spec = spec

    def reset(self, b):
        pass

    def q_values(self, obs, last):
        s = self.spec
        return torch.zeros(obs.shape[0], s.n_agents, s.n_components, s.n_actions)


def test_an_unmeasured_window_is_not_filled_nor_averaged_nor_summed():
    env = _DiesAtStep3()
    runner = EpisodeRunner(env, _ZeroController(env.spec))
    ep, stats = runner.run(0.0, np.random.default_rng(0), seed=0)
    assert stats.length == 3
    assert ep["filled"][0, :3].all() and ep["filled"][1, :2].all() and not ep["filled"][1, 2]
    assert stats.measured.tolist() == [3, 2]
    seen = env.measured_kpis
    np.testing.assert_allclose(stats.kpis[0], np.mean([k[0] for k in seen], axis=0))
    np.testing.assert_allclose(stats.kpis[1], np.mean([k[1] for k in seen[:2]], axis=0))
    assert np.all(stats.returns < 100), "a placeholder reward of the dead window was summed"
    env.close()
