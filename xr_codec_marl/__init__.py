"""xr-codec-marl: explainable decomposed-reward MARL for XR codec adaptation over 5G (ns-3 co-simulation)."""

__version__ = "0.1.0"
