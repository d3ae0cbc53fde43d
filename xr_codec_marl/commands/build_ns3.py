"""`xr-marl build-ns3`: configure and compile the C++ ns-3 scenarios and the bridge probe."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xr_codec_marl.commands.common import positive_int
from xr_codec_marl.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build-ns3",
        help="configure and compile the C++ ns-3 scenarios (CMake)",
        description="Build ns3_scenarios/ (every registered scenario's simulator and the bridge "
        "probe) against ns-3 from the "
        "`ns3` PyPI package of this Python, or an ns-3 tree given with --ns3-root. The build "
        "directory defaults to $XRMARL_NS3_BUILD or ~/.cache/xr-codec-marl/ns3-build, where "
        "the launcher looks for the binaries.",
    )
    p.add_argument("--build-dir", default=None, metavar="DIR",
                   help="build directory (default: $XRMARL_NS3_BUILD or "
                        "~/.cache/xr-codec-marl/ns3-build)")
    p.add_argument("--jobs", "-j", type=positive_int, default=2, metavar="J",
                   help="parallel compile jobs (default 2)")
    p.add_argument("--ns3-root", default=None, metavar="PATH",
                   help="ns-3 install prefix or source tree (default: the ns3 PyPI package)")
    p.add_argument("--nr", action="store_true",
                   help="build the scenarios on 5G-LENA's nr module (needs --ns3-root with it)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xr_codec_marl.bridge.build import BuildError, binaries, build_ns3

    if args.ns3_root is not None and not Path(args.ns3_root).expanduser().is_dir():
        raise UsageError(f"--ns3-root {args.ns3_root!r} is not a directory")
    if args.nr and args.ns3_root is None:
        raise UsageError("--nr needs --ns3-root: the ns3 PyPI package has no 5G-LENA nr module")
    if args.build_dir is not None:
        bdir = Path(args.build_dir).expanduser()
        if bdir.exists() and not bdir.is_dir():
            raise UsageError(f"--build-dir {args.build_dir!r} exists and is not a directory")
    try:
        out = build_ns3(args.build_dir, jobs=args.jobs, nr=args.nr, ns3_root=args.ns3_root,
                        quiet=False)
    except BuildError as exc:
        print(f"xr-marl build-ns3: {exc}", file=sys.stderr)
        return 1
    for name in binaries():
        print(out / name)
    return 0
