"""The XR scenario on the generic ns-3 session env: the xr-codec binary, its arguments and the
KPI glue, for code that builds :class:`~xr_codec_marl.env.ns3_env.Ns3Env` directly (tests,
benchmarks); commands go through :func:`xr_codec_marl.env.factory.make_env`."""

from __future__ import annotations

from typing import Any

from xr_codec_marl.env.factory import ns3_settings
from xr_codec_marl.env.ns3_env import Ns3Env
from xr_codec_marl.scenarios.xr.scenario import XR
from xr_codec_marl.scenarios.xr.settings import XRScenario


def xr_ns3_env(settings: XRScenario | None = None, **kwargs: Any) -> Ns3Env:
    """``Ns3Env`` for the XR scenario with ``settings`` (defaults: Table III; RAN: the build's
    default); ``kwargs`` go to :class:`Ns3Env` (``binary`` defaults to xr-codec, ``spec`` to
    the settings' spec)."""
    settings = ns3_settings(XR, (settings or XRScenario()).validate())
    spec = kwargs.pop("spec", None) or XR.env_spec(settings)
    kwargs.setdefault("binary", XR.binary)
    kwargs.setdefault("scenario_args", XR.ns3_argv(settings))
    kwargs.setdefault("glue", XR.ns3_glue(spec, settings))
    return Ns3Env(spec, **kwargs)
