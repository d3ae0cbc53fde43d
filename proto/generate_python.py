#!/usr/bin/env python3
"""Regenerate (or check) the committed Python protobuf code for the bridge wire contract.

The generated module is committed so the package installs without a protobuf compiler. The
generator is pinned: grpcio-tools' bundled ``protoc`` (``GRPCIO_TOOLS_VERSION`` below), so that
regenerating gives the same bytes on every machine; ``--check`` (used by the tests) fails when
the committed file differs from a fresh generation.

Usage::

    python proto/generate_python.py          # write xr_codec_marl/bridge/proto/bridge_pb2.py(i)
    python proto/generate_python.py --check  # exit 1 if the committed files are stale
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from importlib import metadata
from pathlib import Path

#: The generator every committed file was made with. Bump together with the committed files.
GRPCIO_TOOLS_VERSION = "1.85.1"

ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = ROOT / "proto"
PROTO_FILE = "xrmarl/v1/bridge.proto"
OUT_DIR = ROOT / "xr_codec_marl" / "bridge" / "proto"
OUTPUTS = ("bridge_pb2.py", "bridge_pb2.pyi")


def _header(protoc_version: str) -> str:
    return (
        f"# Generated from proto/{PROTO_FILE} by grpcio-tools=={GRPCIO_TOOLS_VERSION}"
        f" ({protoc_version}).\n"
        "# Do not edit: regenerate with `python proto/generate_python.py`"
        " (`--check` verifies it).\n"
    )


def generate() -> dict[str, bytes]:
    """Run the pinned protoc and return ``{file name: bytes}`` of the outputs (with header)."""
    try:
        installed = metadata.version("grpcio-tools")
    except metadata.PackageNotFoundError:
        raise SystemExit(
            f"grpcio-tools is not installed: `pip install grpcio-tools=={GRPCIO_TOOLS_VERSION}` "
            "(the pinned generator of the committed code)"
        ) from None
    if installed != GRPCIO_TOOLS_VERSION:
        raise SystemExit(
            f"grpcio-tools {installed} is installed but the committed code is pinned to "
            f"{GRPCIO_TOOLS_VERSION}: `pip install grpcio-tools=={GRPCIO_TOOLS_VERSION}` "
            "(or bump GRPCIO_TOOLS_VERSION and commit the regenerated files)"
        )
    from grpc_tools import protoc  # imported late: only the generator needs grpcio-tools

    with tempfile.TemporaryDirectory() as tmp:
        rc = protoc.main(
            ["protoc", f"-I{PROTO_ROOT}", f"--python_out={tmp}", f"--pyi_out={tmp}", PROTO_FILE]
        )
        if rc != 0:
            raise SystemExit(f"protoc failed with exit code {rc}")
        out = Path(tmp) / Path(PROTO_FILE).parent
        version_line = next(
            (ln for ln in (out / "bridge_pb2.py").read_text().splitlines()
             if ln.startswith("# Protobuf Python Version:")),
            "# Protobuf Python Version: unknown",
        )
        protoc_version = "Python gencode " + version_line.split(":", 1)[1].strip()
        header = _header(protoc_version).encode()
        return {name: header + (out / name).read_bytes() for name in OUTPUTS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    fresh = generate()
    if args.check:
        stale = [n for n, data in fresh.items() if (OUT_DIR / n).read_bytes() != data]
        if stale:
            print(f"stale generated files: {', '.join(stale)}; run proto/generate_python.py",
                  file=sys.stderr)
            return 1
        print("generated protobuf code is up to date")
        return 0
    for name, data in fresh.items():
        (OUT_DIR / name).write_bytes(data)
        print(f"wrote {OUT_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
