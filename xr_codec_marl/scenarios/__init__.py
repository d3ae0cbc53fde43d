"""Built-in scenarios, one package (or module) each, registered on import.

- :mod:`~xr_codec_marl.scenarios.xr`: XR/CG codec adaptation (seed 002).
- :mod:`~xr_codec_marl.scenarios.matrix`: the cooperative matrix games (learner sanity checks).
"""
