"""Building 5G-LENA's ``nr`` module against the ns-3 of the ``ns3`` wheel, once, cached.

No package registry carries 5G-LENA, so the user gives its source: a release tarball (e.g.
``5g-lena-nr-v4.0.tar.gz``, checked against the known releases' sha256) or a checkout of the
upstream branch (:data:`UPSTREAM`). :func:`resolve_source` checks it — hash, and the ns-3
release its notes say it is for against the ns-3 found here — and :func:`build_nr` compiles
it with the CMake project ``ns3_scenarios/nr/`` into a cache directory keyed by (source hash,
ns-3 version, flags, compiler), so a second build costs nothing. The result is an *NR root*
(``include/ns3/nr-module.h``, ``lib/libns3.<v>-nr.so``) that the scenarios' build links
(``-DXRMARL_NR_ROOT``). Every refusal is one :class:`NrSourceError` line.

Cache: ``$XRMARL_NR_CACHE``, else ``~/.cache/xr-codec-marl/nr`` (``$XDG_CACHE_HOME`` honoured),
shared by every scenario build directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from xr_codec_marl.bridge.build import BuildError, locked, source_dir

#: sha256 of the 5G-LENA release tarballs this project knows -> their nr release.
KNOWN_TARBALLS: dict[str, str] = {
    "b09335086eb01316d87a205b6a55dbbc9142e6db519a5b449c79b96ece893b90": "NR-v4.0",
}
#: Where to get nr (said whenever no source is given or one is refused).
UPSTREAM = ("5G-LENA nr: the `nr` repository of the cttc-lena group on GitLab, branch "
            "5g-lena-v4.0.y (release v4.0, for ns-3.44), as a checkout or a `git archive` tarball")
#: Files whose contents identify a source tree (what the library is built from).
_TREE_PARTS = ("CMakeLists.txt", "RELEASE_NOTES.md", "model", "helper", "utils")
_STAMP = ".xrmarl-nr-built"


class NrSourceError(BuildError):
    """The nr source is missing, unknown, or for another ns-3 release (one line)."""


@dataclass(frozen=True)
class NrSource:
    """A checked nr source, ready to build."""

    given: str  #: what the user gave (tarball or directory)
    tree: Path  #: the source tree (unpacked into the cache for a tarball)
    kind: str  #: "tarball" or "checkout"
    digest: str  #: sha256 of the tarball, or of the tree's files
    release: str  #: e.g. "NR-v4.0" (RELEASE_NOTES.md)
    ns3_release: str  #: the ns-3 release it is for, e.g. "3.44"


def cache_root() -> Path:
    """``$XRMARL_NR_CACHE``, else ``$XDG_CACHE_HOME``/``~/.cache`` + ``xr-codec-marl/nr``: one
    cache for every build directory, so another ``$XRMARL_NS3_BUILD`` compiles nothing again."""
    env = os.environ.get("XRMARL_NR_CACHE")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "xr-codec-marl" / "nr"


def default_source(repo: Path | None = None) -> Path | None:
    """``$XRMARL_NR_SOURCE``, else the newest ``vendor/5g-lena-nr-*.tar.gz`` or a
    ``vendor/nr`` checkout in the repository (the Docker build context puts it there)."""
    env = os.environ.get("XRMARL_NR_SOURCE")
    if env:
        return Path(env).expanduser()
    vendor = (repo or source_dir().parent) / "vendor"
    tarballs = sorted(vendor.glob("5g-lena-nr-*.tar.gz"))
    if tarballs:
        return tarballs[-1]
    if (vendor / "nr" / "model").is_dir():
        return vendor / "nr"
    return None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tree_files(tree: Path) -> Iterator[Path]:
    for part in _TREE_PARTS:
        p = tree / part
        if p.is_file():
            yield p
        elif p.is_dir():
            yield from sorted(q for q in p.rglob("*") if q.is_file())


def tree_digest(tree: Path) -> str:
    """sha256 over the relative paths and contents of the files nr is built from."""
    h = hashlib.sha256()
    for f in _tree_files(tree):
        h.update(str(f.relative_to(tree)).encode() + b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()


def release_of(tree: Path) -> tuple[str, str]:
    """(nr release, ns-3 release it is for) from the newest section of ``RELEASE_NOTES.md``."""
    notes = tree / "RELEASE_NOTES.md"
    if not (tree / "model" / "nr-gnb-phy.h").is_file() or not notes.is_file():
        raise NrSourceError(f"{tree} is not a 5G-LENA nr source tree (no model/nr-gnb-phy.h or "
                            f"RELEASE_NOTES.md); get {UPSTREAM}")
    text = notes.read_text(errors="replace")
    m = re.search(r"^Release (NR-v[\w.\-]+)\s*$", text, re.M)
    if m is None:
        raise NrSourceError(f"{notes}: no 'Release NR-v...' heading, cannot tell the nr release")
    section = text[m.end():]
    nxt = re.search(r"^Release NR-v", section, re.M)
    section = section[: nxt.start()] if nxt else section
    ns3 = re.search(r"compatible with ns-(3\.\d+)", section)
    if ns3 is None:
        raise NrSourceError(f"{notes}: release {m.group(1)} does not say which ns-3 it is for")
    return m.group(1), ns3.group(1)


def ns3_release(python: str | None = None, ns3_root: str | os.PathLike[str] | None = None) -> str:
    """The ns-3 release (e.g. "3.44") of ``ns3_root`` or of ``python``'s ``ns3`` package,
    from its core library's name (``libns3.44-core.so``)."""
    root = Path(ns3_root) if ns3_root else _wheel_dir(python or sys.executable)
    for sub in ("lib64", "lib", "build/lib", "build/lib64"):
        for lib in sorted((root / sub).glob("libns3*-core*.so")):
            m = re.match(r"libns(3\.\d+)", lib.name)
            if m:
                return m.group(1)
    raise BuildError(f"ns-3 libraries (libns3.*-core.so) not found under {root}")


def ns3_package_version(python: str | None = None) -> str | None:
    """The ``ns3`` distribution's version in ``python`` (e.g. "3.44.post0"), None if absent."""
    out = subprocess.run(
        [python or sys.executable, "-c",
         "import importlib.metadata as m\ntry: print(m.version('ns3'))\nexcept Exception: print()"],
        capture_output=True, text=True, check=False)
    return out.stdout.strip() or None


def _wheel_dir(python: str) -> Path:
    code = ("import importlib.util as u; s = u.find_spec('ns3'); "
            "print(list(s.submodule_search_locations)[0] if s and s.submodule_search_locations else '')")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    path = out.stdout.strip()
    if not path:
        raise BuildError(f"`{python}` has no `ns3` package (pip install ns3==3.44.post0)")
    return Path(path)


def _safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract with the ``data`` filter where this Python has it (3.11.4+, 3.12+); on older
    releases (Debian bookworm's 3.11.2) refuse by hand what that filter refuses: absolute
    paths, ``..``, links leaving the tree, devices."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = dest.resolve()
    for m in tar.getmembers():
        target = (root / m.name).resolve()
        if m.name.startswith("/") or not target.is_relative_to(root):
            raise tarfile.TarError(f"member {m.name!r} would land outside the tree")
        if m.isdev():
            raise tarfile.TarError(f"member {m.name!r} is a device")
        if m.issym() or m.islnk():
            base = target.parent if m.issym() else root
            if os.path.isabs(m.linkname) or not (base / m.linkname).resolve().is_relative_to(root):
                raise tarfile.TarError(f"link {m.name!r} -> {m.linkname!r} leaves the tree")
    tar.extractall(dest)


def _unpack(tarball: Path, digest: str) -> Path:
    """The tarball's source tree under the cache (unpacked once, atomically)."""
    dest = cache_root() / "src" / digest[:16]
    if (dest / "model").is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest.parent))
    try:
        with tarfile.open(tarball) as tar:
            _safe_extract(tar, tmp)
        top = tmp
        entries = [p for p in tmp.iterdir()]
        if not (tmp / "model").is_dir() and len(entries) == 1 and entries[0].is_dir():
            top = entries[0]  # `git archive --prefix=nr/`
        try:
            top.rename(dest)
        except OSError:  # another process unpacked it first
            if not (dest / "model").is_dir():
                raise
    except (tarfile.TarError, OSError) as exc:
        raise NrSourceError(f"cannot unpack nr tarball {tarball}: {exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def resolve_source(
    path: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    python: str | None = None,
    ns3_root: str | os.PathLike[str] | None = None,
) -> NrSource:
    """Check an nr tarball or checkout against the ns-3 here and return it ready to build.

    A tarball must have a known release's sha256 (:data:`KNOWN_TARBALLS`), or ``sha256``
    when given; a source of any kind must be the nr release for this ns-3 (its release
    notes say "compatible with ns-3.NN"). Raises :class:`NrSourceError` (one line).
    """
    p = Path(path).expanduser()
    if p.is_dir():
        kind, tree, digest = "checkout", p.resolve(), tree_digest(p)
    elif p.is_file():
        if not tarfile.is_tarfile(p):
            raise NrSourceError(f"nr source {p} is neither a directory nor a tar archive")
        digest = sha256_file(p)
        want = sha256.lower() if sha256 else None
        if want is not None and digest != want:
            raise NrSourceError(f"nr tarball {p}: sha256 {digest} does not match the expected {want}")
        if want is None and digest not in KNOWN_TARBALLS:
            known = ", ".join(f"{v} {h}" for h, v in KNOWN_TARBALLS.items())
            raise NrSourceError(f"nr tarball {p}: sha256 {digest} is not a known 5G-LENA release "
                                f"({known}); pass --nr-sha256 to build it anyway")
        kind, tree = "tarball", _unpack(p, digest)
    else:
        raise NrSourceError(f"nr source {p} does not exist; get {UPSTREAM}")
    release, for_ns3 = release_of(tree)
    here = ns3_release(python, ns3_root)
    if for_ns3 != here:
        raise NrSourceError(f"nr {release} ({p}) is for ns-3.{for_ns3.split('.', 1)[1]}, but this "
                            f"ns-3 is {here}: use the nr release made for ns-{here}")
    return NrSource(str(p.resolve()), tree, kind, digest, release, for_ns3)


def _compiler() -> str:
    cxx = os.environ.get("CXX") or shutil.which("c++") or "c++"
    out = subprocess.run([cxx, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout.splitlines() or [cxx])[0]


def eigen_available() -> bool:
    """Debian's libeigen3-dev (what ``ENABLE_EIGEN`` needs) is installed."""
    return Path("/usr/include/eigen3/Eigen/Dense").is_file()


def build_key(source: NrSource, *, ns3_version: str, eigen: bool) -> dict[str, str]:
    """What the cached library depends on; its hash names the cache directory."""
    project = source_dir() / "nr" / "CMakeLists.txt"
    finder = source_dir() / "cmake" / "XrMarlFindNs3.cmake"
    recipe = hashlib.sha256(project.read_bytes() + finder.read_bytes()).hexdigest()
    # a checkout is rebuilt in place (incrementally) when it changes: keyed by its path
    ident = source.digest if source.kind == "tarball" else str(source.tree)
    return {"source": ident, "ns3": ns3_version, "eigen": str(eigen), "recipe": recipe,
            "compiler": _compiler(), "flags": "-std=c++20 -O2 -DNDEBUG -fPIC"}


def cached_root(root: Path, source: NrSource) -> bool:
    """True when ``root`` holds a finished build of exactly this source."""
    try:
        info = json.loads((root / _STAMP).read_text())
    except (OSError, ValueError):
        return False
    return info.get("digest") == source.digest and (root / "include/ns3/nr-module.h").is_file()


def _progress(quiet: bool):
    from tqdm import tqdm

    return tqdm(total=100, desc="nr", unit="%", file=sys.stderr, disable=quiet,
                bar_format="{desc}: {percentage:3.0f}% |{bar:20}| {elapsed} {postfix}")


def build_nr(
    source: NrSource,
    *,
    jobs: int = 2,
    eigen: bool | None = None,
    python: str | None = None,
    ns3_root: str | os.PathLike[str] | None = None,
    quiet: bool = True,
) -> Path:
    """Compile ``source`` into its cache directory (a no-op when cached); return the NR root.

    ``eigen`` None: on when libeigen3-dev is installed. A progress line runs while it
    compiles; a failure raises :class:`BuildError` with the tail of the log
    (``<root>/xrmarl-nr-build.log``).
    """
    cmake = shutil.which("cmake")
    if cmake is None:
        raise BuildError("cmake not found on PATH (Debian: apt-get install cmake g++)")
    use_eigen = eigen_available() if eigen is None else eigen
    version = ns3_package_version(python) if ns3_root is None else None
    version = version or f"{ns3_release(python, ns3_root)} at {Path(ns3_root or '').resolve()}"
    key = build_key(source, ns3_version=version, eigen=use_eigen)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    root = cache_root() / f"{source.release}-{digest}"
    with locked(root):
        if cached_root(root, source):
            if not quiet:
                print(f"nr: {source.release} cached at {root}", file=sys.stderr)
            return root
        log = root / "xrmarl-nr-build.log"
        configure = [
            cmake, "-S", str(source_dir() / "nr"), "-B", str(root),
            "-DCMAKE_BUILD_TYPE=Release", f"-DNR_SOURCE_DIR={source.tree}",
            f"-DXRMARL_PYTHON={python or sys.executable}",
            f"-DNS3_ROOT={Path(ns3_root).resolve() if ns3_root else ''}",
            f"-DENABLE_EIGEN={'ON' if use_eigen else 'OFF'}",
        ]
        started = time.monotonic()
        with open(log, "w") as fh:
            _stream(configure, fh, "nr CMake configure", log, None)
            if not quiet:
                print(f"nr: compiling {source.release} from {source.given} into {root} "
                      f"(-j{jobs}; about 10 CPU-minutes)", file=sys.stderr, flush=True)
            with _progress(quiet) as bar:
                _stream([cmake, "--build", str(root), "-j", str(jobs)], fh, "nr build", log, bar)
        info = {**asdict(source), "tree": str(source.tree), "key": key, "eigen": use_eigen,
                "seconds": round(time.monotonic() - started, 1)}
        tmp = root / (_STAMP + ".tmp")
        tmp.write_text(json.dumps(info, indent=1))
        tmp.replace(root / _STAMP)
    return root


_PCT = re.compile(r"^\[\s*(\d+)%\]\s+Building CXX object .*/([^/]+?)\.o$")


def _stream(cmd: list[str], log, what: str, log_path: Path, bar) -> None:
    """Run ``cmd`` with its output into ``log``, moving ``bar`` on make's ``[ NN%]`` lines."""
    log.write("+ " + " ".join(cmd) + "\n")
    log.flush()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        log.write(line)
        m = _PCT.match(line.strip())
        if bar is not None and m:
            bar.update(max(0, int(m.group(1)) - bar.n))
            bar.set_postfix_str(m.group(2), refresh=True)
    rc = proc.wait()
    log.flush()
    if rc != 0:
        tail = "\n".join(log_path.read_text(errors="replace").strip().splitlines()[-30:])
        raise BuildError(f"{what} failed (exit {rc}; log {log_path}):\n{tail}")
