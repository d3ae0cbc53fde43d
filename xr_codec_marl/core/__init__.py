"""The seam every other package plugs into: specs, action spaces, KPI declarations, scenarios.

Depends on nothing else of the project but :mod:`xr_codec_marl.errors`; everything else
(bridge, env, scenarios, learners, experiments, explain, commands) depends on it.
"""
