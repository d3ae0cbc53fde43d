"""Configuring and building the C++ side (``ns3_scenarios/``) with CMake, and finding its binaries.

Build directory, one rule everywhere (``xr-marl build-ns3``, the launcher, tests, benchmarks):

1. an explicit ``build_dir`` argument, else
2. ``$XRMARL_NS3_BUILD`` when set, else
3. ``~/.cache/xr-codec-marl/ns3-build`` (``$XDG_CACHE_HOME`` is honoured).

The binaries (:func:`binaries`: every registered scenario's ns-3 executable and the bridge
probe) land at the top of the build directory. ns-3 comes from the
``ns3`` PyPI package of *this* Python interpreter unless ``ns3_root`` points at an ns-3 install
or source tree. ``nr_root`` (an NR root from :mod:`.nr_build`) adds 5G-LENA NR to the
scenarios, which then run NR by default and LTE with ``--ran=lte``; the build directory
remembers it until ``nr_root=False``. The sources are the repository's ``ns3_scenarios/``
(override with ``$XRMARL_NS3_SOURCE``).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

#: Executables of the C++ build that belong to no scenario.
TOOLS: tuple[str, ...] = ("xrmarl-bridge-probe",)


def binaries() -> tuple[str, ...]:
    """Executables the C++ build produces: the scenarios' (from the registry) and the tools."""
    from xr_codec_marl.core.registry import ns3_binaries

    return (*ns3_binaries(), *TOOLS)

_REPO = Path(__file__).resolve().parents[2]
_STAMP = ".xrmarl-built"


class BuildError(RuntimeError):
    """Configuring or compiling the C++ scenarios failed (message ends with the tool's output)."""


def source_dir() -> Path:
    """The ``ns3_scenarios/`` CMake project (``$XRMARL_NS3_SOURCE`` overrides)."""
    env = os.environ.get("XRMARL_NS3_SOURCE")
    path = Path(env).expanduser() if env else _REPO / "ns3_scenarios"
    if not (path / "CMakeLists.txt").is_file():
        raise BuildError(
            f"C++ sources not found at {path} (need ns3_scenarios/CMakeLists.txt; run from a "
            "clone of the repository or set XRMARL_NS3_SOURCE)"
        )
    return path


def default_build_dir() -> Path:
    """``$XRMARL_NS3_BUILD``, else ``$XDG_CACHE_HOME``/``~/.cache`` + ``xr-codec-marl/ns3-build``."""
    env = os.environ.get("XRMARL_NS3_BUILD")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "xr-codec-marl" / "ns3-build"


def _sources(src: Path) -> Iterator[Path]:
    yield from (p for p in src.rglob("*") if p.is_file() and p.suffix in {".cc", ".h", ".txt"})
    proto = src.parent / "proto"
    if proto.is_dir():
        yield from proto.rglob("*.proto")


def is_up_to_date(build_dir: str | os.PathLike[str] | None = None) -> bool:
    """True when every binary exists and the last successful build is newer than every
    C++/CMake/proto source and the NR library it links, if any (``build_ns3`` stamps the build
    directory when it succeeds)."""
    bdir = Path(build_dir) if build_dir else default_build_dir()
    try:
        if not all((bdir / b).is_file() for b in binaries()) or not built_rans(bdir):
            return False
        built = (bdir / _STAMP).stat().st_mtime
        newest = max(p.stat().st_mtime for p in _sources(source_dir()))
        nr = nr_root_of(bdir)
        if nr is not None:  # the NR library it links must still be there, and not newer
            newest = max(newest, *(p.stat().st_mtime for p in (nr / "lib").glob("lib*nr*.so")),
                         (nr / "include/ns3/nr-module.h").stat().st_mtime)
    except (FileNotFoundError, ValueError):
        return False
    return built >= newest


@contextmanager
def locked(bdir: Path) -> Iterator[None]:
    """One build at a time per build directory (concurrent test sessions, CI steps)."""
    bdir.mkdir(parents=True, exist_ok=True)
    with open(bdir / ".xrmarl-build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(cmd: list[str], what: str, quiet: bool) -> None:
    if not quiet:
        print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not quiet and proc.stdout:
        sys.stderr.write(proc.stdout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-40:])
        raise BuildError(f"{what} failed (exit {proc.returncode}):\n{tail}")


def cached_setting(bdir: Path, name: str) -> str | None:
    """A variable of the build directory's CMake cache (None when unset or unconfigured)."""
    cache = bdir / "CMakeCache.txt"
    if not cache.is_file():
        return None
    for line in cache.read_text(errors="replace").splitlines():
        if line.startswith(f"{name}:"):
            return line.split("=", 1)[1].strip()
    return None


def nr_root_of(build_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The NR root the build directory's scenarios are linked with (None: LTE only)."""
    bdir = Path(build_dir).expanduser() if build_dir else default_build_dir()
    value = cached_setting(bdir, "XRMARL_NR_ROOT")
    return Path(value) if value else None


#: What a successful build says about itself, beside the binaries (copied with them, e.g.
#: into the Docker image): {"rans": [...], "nr_root": ..., "ns3_root": ...}.
BUILD_INFO = "xrmarl-build.json"


def built_rans(build_dir: str | os.PathLike[str] | None = None) -> tuple[str, ...]:
    """The RANs the binaries in the build directory can run (() when not built)."""
    bdir = Path(build_dir).expanduser() if build_dir else default_build_dir()
    try:
        return tuple(json.loads((bdir / BUILD_INFO).read_text())["rans"])
    except (OSError, ValueError, KeyError, TypeError):
        return ()


def default_ran(build_dir: str | os.PathLike[str] | None = None) -> str:
    """What the build directory's scenarios run without ``--ran``: "nr" when linked with
    5G-LENA, else "lte"."""
    return "nr" if "nr" in built_rans(build_dir) else "lte"


def _forget_other_source(bdir: Path, src: Path, quiet: bool) -> None:
    """Drop a CMake cache made for another source tree (another checkout or clone).

    CMake refuses to configure a build directory generated from a different source
    directory; the shared default build directory makes that common (a second clone, CI).
    """
    home = cached_setting(bdir, "CMAKE_HOME_DIRECTORY")
    if home is not None and Path(home).resolve() != src.resolve():
        if not quiet:
            print(f"build directory was configured for {home}; reconfiguring for {src}",
                  file=sys.stderr)
        (bdir / "CMakeCache.txt").unlink()
        shutil.rmtree(bdir / "CMakeFiles", ignore_errors=True)
        (bdir / _STAMP).unlink(missing_ok=True)


def build_ns3(
    build_dir: str | os.PathLike[str] | None = None,
    jobs: int = 2,
    ns3_root: str | os.PathLike[str] | None = None,
    *,
    nr_root: str | os.PathLike[str] | Literal[False] | None = None,
    python: str | None = None,
    quiet: bool = True,
) -> Path:
    """Configure (CMake, Release, -O2) and build the C++ scenarios; return the binaries' directory.

    Incremental: an up-to-date tree costs a CMake re-check and a no-op make (about a second).
    ``python`` is the interpreter whose ``ns3`` package is used (default: this one).
    ``nr_root``: an NR root to link (see :mod:`.nr_build`), ``False`` for LTE only, ``None``
    to keep what the build directory was configured with.
    Raises :class:`BuildError` with the tail of the tool output on failure, ``ValueError`` on
    bad arguments.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    cmake = shutil.which("cmake")
    if cmake is None:
        raise BuildError("cmake not found on PATH (Debian: apt-get install cmake g++)")
    src = source_dir()
    bdir = Path(build_dir).expanduser() if build_dir else default_build_dir()
    bdir = bdir.resolve()
    root = ""
    if ns3_root is not None:
        rp = Path(ns3_root).expanduser().resolve()
        if not rp.is_dir():
            raise ValueError(f"ns-3 root {str(rp)!r} is not a directory")
        root = str(rp)
    configure = [
        cmake, "-S", str(src), "-B", str(bdir),
        "-DCMAKE_BUILD_TYPE=Release",
        f"-DXRMARL_PYTHON={python or sys.executable}",
        f"-DNS3_ROOT={root}",  # empty: locate the PyPI package again
    ]
    with locked(bdir):
        started = time.time()
        keep = nr_root_of(bdir) if nr_root is None else None
        _forget_other_source(bdir, src, quiet)
        if nr_root is False:
            configure.append("-DXRMARL_NR_ROOT=")
        elif nr_root is not None:
            configure.append(f"-DXRMARL_NR_ROOT={Path(nr_root).expanduser().resolve()}")
        elif keep is not None:
            configure.append(f"-DXRMARL_NR_ROOT={keep}")
        _run(configure, "CMake configure", quiet)
        _run([cmake, "--build", str(bdir), "-j", str(jobs)], "C++ build", quiet)
        missing = [b for b in binaries() if not (bdir / b).is_file()]
        if missing:
            raise BuildError(f"build finished but {', '.join(missing)} missing in {bdir}")
        has_nr = cached_setting(bdir, "XRMARL_HAS_NR") == "ON"
        info = {"rans": ["nr", "lte"] if has_nr else ["lte"],
                "nr_root": str(nr_root_of(bdir) or "") or None,
                "ns3_root": cached_setting(bdir, "NS3_ROOT")}
        tmp = bdir / (BUILD_INFO + ".tmp")
        tmp.write_text(json.dumps(info, indent=1) + "\n")
        tmp.replace(bdir / BUILD_INFO)
        stamp = bdir / _STAMP
        stamp.touch()
        os.utime(stamp, (started, started))  # sources edited during the build stay "newer"
    return bdir


def find_binary(name: str, build_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of a built executable (a scenario's binary, ``xrmarl-bridge-probe``).

    Looks in ``build_dir`` or :func:`default_build_dir`. Raises ``FileNotFoundError`` naming the
    directory and the command that builds it.
    """
    bdir = Path(build_dir).expanduser() if build_dir else default_build_dir()
    path = bdir / name
    if path.is_file() and os.access(path, os.X_OK):
        return path.resolve()
    known = ", ".join(binaries())
    raise FileNotFoundError(
        f"simulator binary {name!r} not found in {bdir} (known: {known}); build it with "
        f"`xr-marl build-ns3`{'' if build_dir is None else ' --build-dir ' + str(bdir)} "
        "(the build directory is $XRMARL_NS3_BUILD or ~/.cache/xr-codec-marl/ns3-build)"
    )
