"""The nr source checks of ``build-ns3`` (no compiling) and, where NR is built, what it made.

A tarball must be a known 5G-LENA release (sha256) or match ``--nr-sha256``; any source must
be the nr release for the ns-3 found here. Each refusal is one line.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from xr_codec_marl.bridge import nr_build
from xr_codec_marl.bridge.nr_build import NrSourceError, release_of, resolve_source
from xr_codec_marl.cli import main as cli_main

from nr_support import require_nr

NOTES = """5G-LENA Release Notes
=====================

Release NR-v{v}
---------------

This release will be compatible with ns-{ns3}.

Release NR-v3.3
---------------

This release will be compatible with ns-3.42.
"""


def fake_tree(root: Path, ns3: str = "3.44", v: str = "4.0") -> Path:
    (root / "model").mkdir(parents=True)
    (root / "model" / "nr-gnb-phy.h").write_text("// fake\n")
    (root / "RELEASE_NOTES.md").write_text(NOTES.format(v=v, ns3=ns3))
    (root / "CMakeLists.txt").write_text("# fake\n")
    return root


def fake_tarball(tmp_path: Path, **kw) -> Path:
    tree = fake_tree(tmp_path / "tree", **kw)
    out = tmp_path / "nr.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for f in sorted(tree.rglob("*")):
            tar.add(f, arcname=f"nr/{f.relative_to(tree)}", recursive=False)
    return out


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """Unpack test tarballs into the test's folder, not the user's cache."""
    monkeypatch.setenv("XRMARL_NR_CACHE", str(tmp_path / "cache"))


def test_release_notes_name_the_release_and_its_ns3(tmp_path):
    assert release_of(fake_tree(tmp_path / "t", ns3="3.45", v="4.1")) == ("NR-v4.1", "3.45")


def test_a_checkout_for_this_ns3_is_accepted(tmp_path):
    src = resolve_source(fake_tree(tmp_path / "nr"))
    assert (src.kind, src.release, src.ns3_release) == ("checkout", "NR-v4.0", "3.44")
    assert len(src.digest) == 64


def test_a_checkout_for_another_ns3_is_refused_in_one_line(tmp_path):
    with pytest.raises(NrSourceError) as err:
        resolve_source(fake_tree(tmp_path / "nr", ns3="3.45"))
    msg = str(err.value)
    assert "\n" not in msg and "ns-3.45" in msg and "this ns-3 is 3.44" in msg


def test_an_unknown_tarball_is_refused_unless_its_hash_is_given(own_cache, tmp_path):
    tarball = fake_tarball(tmp_path)
    with pytest.raises(NrSourceError, match="not a known 5G-LENA release.*--nr-sha256"):
        resolve_source(tarball)
    digest = nr_build.sha256_file(tarball)
    with pytest.raises(NrSourceError, match="does not match the expected"):
        resolve_source(tarball, sha256="0" * 64)
    src = resolve_source(tarball, sha256=digest)
    assert src.kind == "tarball" and src.digest == digest
    assert (src.tree / "model" / "nr-gnb-phy.h").is_file()  # unpacked below the top folder
    assert src.tree.is_relative_to(tmp_path / "cache")


def test_a_tarball_for_another_ns3_is_refused_even_with_its_hash(own_cache, tmp_path):
    tarball = fake_tarball(tmp_path, ns3="3.45")
    with pytest.raises(NrSourceError, match="is for ns-3.45"):
        resolve_source(tarball, sha256=nr_build.sha256_file(tarball))


def test_not_nr_and_not_there_are_refused(tmp_path):
    (tmp_path / "other").mkdir()
    with pytest.raises(NrSourceError, match="not a 5G-LENA nr source tree"):
        resolve_source(tmp_path / "other")
    with pytest.raises(NrSourceError, match="does not exist; get 5G-LENA nr"):
        resolve_source(tmp_path / "missing.tar.gz")
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(NrSourceError, match="neither a directory nor a tar archive"):
        resolve_source(tmp_path / "junk.tar.gz")


def test_build_command_refuses_a_bad_source_in_one_line(own_cache, tmp_path, capsys):
    tarball = fake_tarball(tmp_path)
    assert cli_main(["build-ns3", "--build-dir", str(tmp_path / "b"), "--nr-source",
                     str(tarball)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a known 5G-LENA release" in err
    assert not (tmp_path / "b").exists()  # refused before anything was configured


def test_a_tampered_release_tarball_is_refused(own_cache, tmp_path):
    """A tarball named like the release whose bytes differ (one member added)."""
    tarball = fake_tarball(tmp_path)
    with tarfile.open(tarball) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar]
    fake = tmp_path / "5g-lena-nr-v4.0.tar.gz"
    with tarfile.open(fake, "w:gz") as tar:
        for m, data in members:
            tar.addfile(m, io.BytesIO(data) if data is not None else None)
        extra = tarfile.TarInfo("nr/model/backdoor.cc")
        extra.size = 3
        tar.addfile(extra, io.BytesIO(b"x;\n"))
    with pytest.raises(NrSourceError, match="not a known 5G-LENA release"):
        resolve_source(fake)


@pytest.mark.ns3
@pytest.mark.nr
def test_the_nr_build_is_cached_and_says_what_it_was_built_from():
    """What `build-ns3 --nr-source` made: the stamp names the source, release, ns-3 and
    flags; the library and the headers are there; building again is a cache hit."""
    from xr_codec_marl.bridge.build import nr_root_of

    require_nr()
    root = nr_root_of()
    assert root is not None, "NR here comes from an ns-3 tree, not from build-ns3 --nr-source"
    info = json.loads((root / ".xrmarl-nr-built").read_text())
    assert info["release"].startswith("NR-v") and info["key"]["ns3"].startswith(info["ns3_release"])
    assert list((root / "lib").glob("libns3*-nr.so"))
    assert (root / "include" / "ns3" / "nr-module.h").is_file()
    # the same source again: found in the cache, nothing compiled
    src = resolve_source(info["given"], sha256=info["digest"])
    stamp = (root / ".xrmarl-nr-built").stat().st_mtime_ns
    assert nr_build.build_nr(src) == root
    assert (root / ".xrmarl-nr-built").stat().st_mtime_ns == stamp


def _tarball(path: Path, members: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for m in members:
            data = b"x" if m.isfile() else None
            if data is not None:
                m.size = len(data)
            tar.addfile(m, io.BytesIO(data) if data is not None else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    m = tarfile.TarInfo(name)
    m.type, m.linkname = kind, link
    return m


@pytest.mark.parametrize("has_data_filter", [True, False])
def test_unpacking_refuses_members_that_leave_the_tree(tmp_path, monkeypatch, has_data_filter):
    """Pythons before 3.11.4 (Debian bookworm's 3.11.2, the Docker base) lack the ``data``
    filter: the hand-written check must refuse what it refuses and unpack what it allows."""
    if not has_data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tarfile data filter")  # only on Python < 3.11.4
    good = _tarball(tmp_path / "good.tar.gz", [_member("nr/model/a.cc"),
                                               _member("nr/model/b.cc", tarfile.SYMTYPE, "a.cc")])
    out = tmp_path / "out"
    out.mkdir()
    with tarfile.open(good) as tar:
        nr_build._safe_extract(tar, out)
    assert (out / "nr/model/a.cc").read_bytes() == b"x" and (out / "nr/model/b.cc").is_symlink()
    bad_cases = [[_member("../evil.cc")], [_member("nr/link", tarfile.SYMTYPE, "../../outside")]]
    if not has_data_filter:  # the data filter strips a leading / instead; ours refuses it
        bad_cases.append([_member("/abs.cc")])
    for bad in bad_cases:
        tb = _tarball(tmp_path / "bad.tar.gz", bad)
        with tarfile.open(tb) as tar, pytest.raises(tarfile.TarError):
            nr_build._safe_extract(tar, tmp_path / "out2")
        assert not (tmp_path / "evil.cc").exists()
