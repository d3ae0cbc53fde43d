"""The XR scenario on the generic ns-3 session env: the xr-codec binary, its arguments and the
KPI glue, for code that builds :class:`~xr_codec_marl.env.ns3_env.Ns3Env` directly (tests,
benchmarks); commands go through :func:`xr_codec_marl.env.factory.make_env`."""

from __future__ import annotations

from typing import Any

from xr_codec_marl.env.factory import scenario_ns3_env
from xr_codec_marl.env.ns3_env import Ns3Env
from xr_codec_marl.scenarios.xr.scenario import XR
from xr_codec_marl.scenarios.xr.settings import XRScenario


def xr_ns3_env(settings: XRScenario | None = None, **kwargs: Any) -> Ns3Env:
    """``Ns3Env`` for the XR scenario with ``settings`` (defaults: Table III; RAN: the build's
    default); ``kwargs`` go to :class:`Ns3Env` (``binary`` defaults to xr-codec, ``spec`` to
    the settings' spec)."""
    return scenario_ns3_env(XR, (settings or XRScenario()).validate(), **kwargs)
