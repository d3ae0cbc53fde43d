"""The MEC scenario on the generic ns-3 session env: the mec-offload binary, its arguments and
the glue, for code that builds :class:`~xr_codec_marl.env.ns3_env.Ns3Env` directly (tests,
benchmarks, calibration); commands go through :func:`xr_codec_marl.env.factory.make_env`."""

from __future__ import annotations

from typing import Any

from xr_codec_marl.core.registry import get_scenario
from xr_codec_marl.env.factory import scenario_ns3_env
from xr_codec_marl.env.ns3_env import Ns3Env
from xr_codec_marl.scenarios.mec.settings import MECSettings, preset


def mec_ns3_env(settings: MECSettings | None = None, **kwargs: Any) -> Ns3Env:
    """``Ns3Env`` for the MEC scenario with ``settings`` (default: the multi-mec preset; RAN:
    the build's default); ``kwargs`` go to :class:`Ns3Env` (``sim_args`` adds raw simulator
    flags, e.g. ``--killServer=0``)."""
    return scenario_ns3_env(get_scenario("mec"), (settings or preset("multi-mec")).validate(),
                            **kwargs)
