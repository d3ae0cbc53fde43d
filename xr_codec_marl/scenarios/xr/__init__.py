"""The XR/CG codec adaptation scenario (seed 002): settings, channel, traffic, cell, rewards,
observation, analytic twin, ns-3 glue, APS and CLI flags. Importing it registers ``xr``."""

from xr_codec_marl.core.registry import register_scenario
from xr_codec_marl.scenarios.xr.scenario import XR

register_scenario(XR)
