"""`xr-marl build-ns3`: build 5G-LENA's nr library (cached) and the C++ ns-3 scenarios on it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xr_codec_marl.commands.common import positive_int
from xr_codec_marl.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build-ns3",
        help="build 5G-LENA nr (cached) and the C++ ns-3 scenarios (CMake)",
        description="Build ns3_scenarios/ (every registered scenario's simulator and the bridge "
        "probe) against ns-3 from the `ns3` PyPI package of this Python, or an ns-3 tree given "
        "with --ns3-root. With a 5G-LENA nr source (--nr-source, $XRMARL_NR_SOURCE, or "
        "vendor/5g-lena-nr-*.tar.gz in the repository) it first builds the nr library against "
        "that ns-3 — cached by source hash, ns-3 version and flags, so a rebuild costs nothing — "
        "and the scenarios run NR by default (LTE with --ran lte). The build directory "
        "defaults to $XRMARL_NS3_BUILD or ~/.cache/xr-codec-marl/ns3-build, where the launcher "
        "looks for the binaries, and remembers its NR library until --lte-only.",
    )
    p.add_argument("--build-dir", default=None, metavar="DIR",
                   help="build directory (default: $XRMARL_NS3_BUILD or "
                        "~/.cache/xr-codec-marl/ns3-build)")
    p.add_argument("--jobs", "-j", type=positive_int, default=2, metavar="J",
                   help="parallel compile jobs (default 2)")
    p.add_argument("--ns3-root", default=None, metavar="PATH",
                   help="ns-3 install prefix or source tree (default: the ns3 PyPI package)")
    nr = p.add_mutually_exclusive_group()
    nr.add_argument("--nr-source", default=None, metavar="PATH",
                    help="5G-LENA nr release tarball (e.g. 5g-lena-nr-v4.0.tar.gz) or checkout "
                         "of its branch for this ns-3 (default: $XRMARL_NR_SOURCE, then "
                         "vendor/ in the repository)")
    nr.add_argument("--lte-only", action="store_true",
                    help="build the scenarios without NR (and forget a previous NR build)")
    p.add_argument("--nr-sha256", default=None, metavar="HEX",
                   help="accept an nr tarball that is not a known release if it has this sha256")
    eig = p.add_mutually_exclusive_group()
    eig.add_argument("--eigen", dest="eigen", action="store_true", default=None,
                     help="build nr's MIMO code on Eigen (libeigen3-dev; default: when installed)")
    eig.add_argument("--no-eigen", dest="eigen", action="store_false",
                     help="build nr without Eigen (no MIMO feedback)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xr_codec_marl.bridge.build import BuildError, binaries, build_ns3, built_rans, nr_root_of
    from xr_codec_marl.bridge.nr_build import UPSTREAM, build_nr, default_source, resolve_source

    if args.ns3_root is not None and not Path(args.ns3_root).expanduser().is_dir():
        raise UsageError(f"--ns3-root {args.ns3_root!r} is not a directory")
    if args.build_dir is not None:
        bdir = Path(args.build_dir).expanduser()
        if bdir.exists() and not bdir.is_dir():
            raise UsageError(f"--build-dir {args.build_dir!r} exists and is not a directory")
    if args.nr_sha256 is not None and len(args.nr_sha256) != 64:
        raise UsageError(f"--nr-sha256 must be 64 hex digits, got {args.nr_sha256!r}")
    try:
        nr_root = None  # keep what the build directory has
        source = None if args.lte_only else (args.nr_source or default_source())
        if args.lte_only:
            nr_root = False
        elif source is not None:
            src = resolve_source(source, sha256=args.nr_sha256, ns3_root=args.ns3_root)
            nr_root = build_nr(src, jobs=args.jobs, eigen=args.eigen, ns3_root=args.ns3_root,
                               quiet=False)
        elif nr_root_of(args.build_dir) is None:
            print(f"xr-marl build-ns3: no nr source given: building LTE only (for NR get {UPSTREAM}"
                  " and pass --nr-source)", file=sys.stderr)
        out = build_ns3(args.build_dir, jobs=args.jobs, ns3_root=args.ns3_root, nr_root=nr_root,
                        quiet=False)
    except BuildError as exc:
        print(f"xr-marl build-ns3: {exc}", file=sys.stderr)
        return 1
    ran = "NR (default) and LTE" if "nr" in built_rans(out) else "LTE only"
    print(f"xr-marl build-ns3: {ran}", file=sys.stderr)
    for name in binaries():
        print(out / name)
    return 0
