"""A build directory configured from another checkout is reconfigured, not refused."""

from pathlib import Path

from xr_codec_marl.bridge.build import _STAMP, _forget_other_source


def make_cache(bdir: Path, home: Path) -> None:
    (bdir / "CMakeFiles").mkdir(parents=True)
    (bdir / "CMakeCache.txt").write_text(f"FOO:BOOL=ON\nCMAKE_HOME_DIRECTORY:INTERNAL={home}\n")
    (bdir / _STAMP).write_text("")


def test_cache_of_another_source_tree_is_dropped(tmp_path):
    mine, other, bdir = tmp_path / "mine", tmp_path / "other", tmp_path / "build"
    mine.mkdir(), other.mkdir()
    make_cache(bdir, other)
    (bdir / "xr-codec").write_text("binary")
    _forget_other_source(bdir, mine, quiet=True)
    assert not (bdir / "CMakeCache.txt").exists() and not (bdir / "CMakeFiles").exists()
    assert not (bdir / _STAMP).exists()  # forces a rebuild
    assert (bdir / "xr-codec").exists()  # outputs are overwritten by the rebuild, not deleted


def test_cache_of_the_same_source_tree_is_kept(tmp_path):
    mine, bdir = tmp_path / "mine", tmp_path / "build"
    mine.mkdir()
    make_cache(bdir, mine)
    _forget_other_source(bdir, mine, quiet=True)
    assert (bdir / "CMakeCache.txt").exists() and (bdir / _STAMP).exists()
