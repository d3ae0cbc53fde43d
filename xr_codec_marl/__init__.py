"""xr-codec-marl: explainable decomposed-reward MARL co-simulated with ns-3 5G networks (scenarios: xr_codec_marl.scenarios)."""

__version__ = "0.1.0"
