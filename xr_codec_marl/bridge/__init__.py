"""The live co-simulation bridge between ns-3 simulators (C++) and the agent server (Python).

- :mod:`~xr_codec_marl.bridge.proto`: generated code of ``proto/xrmarl/v1/bridge.proto``
- :mod:`~xr_codec_marl.bridge.wire`: wire format only (encode/decode/validate envelopes)
- :mod:`~xr_codec_marl.bridge.server`: one ROUTER socket serving many simulator sessions
- :mod:`~xr_codec_marl.bridge.launcher`: simulator subprocesses with logs, always reaped
- :mod:`~xr_codec_marl.bridge.build`: building the C++ side and finding its binaries

Kept import-free so that ``xr_codec_marl.bridge.build`` works without ZeroMQ or protobuf.
"""
