"""Generated protobuf code of the bridge wire contract (proto/xrmarl/v1/bridge.proto).

``bridge_pb2`` is generated and committed (see proto/generate_python.py for the pinned
generator); import messages from here, e.g. ``from xr_codec_marl.bridge.proto import bridge_pb2``.
"""

from xr_codec_marl.bridge.proto import bridge_pb2

__all__ = ["bridge_pb2"]
