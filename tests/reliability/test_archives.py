"""Hostile tar and zip archives: every escape is rejected before anything is written, in or out of the target."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from course_utils.core.errors import UnsafeArchiveError
from course_utils.data.download import check_archive, safe_extract
from tests.reliability_summary import tally

_TYPES = {tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE}


def _tar(path: Path, members: list[tuple[str, bytes, str]]) -> Path:
    """``(name, data or a tarfile type constant, linkname)`` members into a gzipped tar."""
    with tarfile.open(path, "w:gz") as tf:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if data not in _TYPES:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                info.type, info.linkname = data, link
                if data in (tarfile.CHRTYPE, tarfile.BLKTYPE):
                    info.devmajor, info.devminor = 1, 3
                tf.addfile(info)
    return path


def _zip(path: Path, members: list[tuple[str, bytes, int]]) -> Path:
    """``(name, data, unix mode)`` members into a zip (mode 0: a plain file)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            info.external_attr = (mode or (stat.S_IFREG | 0o644)) << 16
            zf.writestr(info, data)
    return path


def _snapshot(folder: Path) -> dict[str, bytes | str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = f"-> {p.readlink()}" if p.is_symlink() else (p.read_bytes() if p.is_file() else "dir")
    return out


def _hostile(world: Path) -> dict[str, tuple[str, list]]:
    """name → (kind, members). Absolute paths point into ``world`` so that an escape would be seen."""
    ok = ("data/ok.txt", b"fine", "")
    return {
        "tar-dotdot": ("tar", [ok, ("../evil.txt", b"x", "")]),
        "tar-dotdot-nested": ("tar", [ok, ("data/../../evil.txt", b"x", "")]),
        "tar-absolute": ("tar", [ok, (str(world / "abs-evil.txt"), b"x", "")]),
        "tar-symlink-out": ("tar", [ok, ("data/link", tarfile.SYMTYPE, "../../outside")]),
        "tar-symlink-absolute": ("tar", [ok, ("data/link", tarfile.SYMTYPE, str(world / "sentinel.txt"))]),
        "tar-symlink-then-write": ("tar", [("esc", tarfile.SYMTYPE, ".."), ("esc/evil.txt", b"x", "")]),
        "tar-symlink-chain": ("tar", [("a", tarfile.SYMTYPE, "."), ("b", tarfile.SYMTYPE, "a/../..")]),
        "tar-hardlink-out": ("tar", [ok, ("data/hl", tarfile.LNKTYPE, "../sentinel.txt")]),
        "tar-hardlink-absolute": ("tar", [ok, ("data/hl", tarfile.LNKTYPE, str(world / "sentinel.txt"))]),
        "tar-char-device": ("tar", [ok, ("data/null", tarfile.CHRTYPE, "")]),
        "tar-block-device": ("tar", [ok, ("data/disk", tarfile.BLKTYPE, "")]),
        "tar-fifo": ("tar", [ok, ("data/pipe", tarfile.FIFOTYPE, "")]),
        "zip-dotdot": ("zip", [("data/ok.txt", b"fine", 0), ("../evil.txt", b"x", 0)]),
        "zip-dotdot-nested": ("zip", [("data/../../evil.txt", b"x", 0)]),
        "zip-absolute": ("zip", [(str(world / "abs-evil.txt"), b"x", 0)]),
        "zip-drive-letter": ("zip", [("C:/evil.txt", b"x", 0)]),
        "zip-symlink-out": (
            "zip",
            [("data/ok.txt", b"fine", 0), ("data/link", b"../../outside", stat.S_IFLNK | 0o777)],
        ),
        "zip-char-device": ("zip", [("data/null", b"", stat.S_IFCHR | 0o666)]),
        "zip-fifo": ("zip", [("data/pipe", b"", stat.S_IFIFO | 0o666)]),
    }


@pytest.fixture()
def world(tmp_path):
    """A folder with files that must survive; archives are extracted to world/extract/out."""
    w = tmp_path / "world"
    (w / "extract").mkdir(parents=True)
    (w / "sentinel.txt").write_text("keep me")
    (w / "extract" / "neighbour.txt").write_text("keep me too")
    return w


def test_every_hostile_archive_is_rejected_and_nothing_is_written(world, tmp_path):
    cases = _hostile(world)
    assert len(cases) >= 15
    before = _snapshot(tmp_path)
    accepted, lost = [], 0
    for name, (kind, members) in cases.items():
        archive = (_tar if kind == "tar" else _zip)(tmp_path / f"{name}.{'tgz' if kind == 'tar' else 'zip'}", members)
        before[archive.name] = archive.read_bytes()
        with pytest.raises(UnsafeArchiveError) as info:
            check_archive(archive)
        assert "refusing" in str(info.value) or "links" in str(info.value), str(info.value)
        target = world / "extract" / "out"
        try:
            safe_extract(archive, target)
            accepted.append(name)
        except UnsafeArchiveError as exc:
            assert exc.__cause__ is None
        assert not target.exists(), f"{name}: the target folder was created"
        after = _snapshot(tmp_path)
        extra = sorted(set(after) - set(before) - {"world/extract/out.lock"})
        lost += sum(after.get(k) != v for k, v in before.items())
        assert not extra, f"{name}: wrote {extra}"
    tally(inputs=len(cases), faults=len(cases), lost=lost)
    assert not accepted, f"extracted: {accepted}"
    assert lost == 0


def test_a_normal_archive_still_extracts(world, tmp_path):
    """The checks are not blanket refusals: plain files, folders and a link that stays inside are fine."""
    archive = _tar(
        tmp_path / "good.tgz",
        [("data/a.txt", b"one", ""), ("data/sub/b.txt", b"two", ""), ("data/link", tarfile.SYMTYPE, "a.txt")],
    )
    out = safe_extract(archive, world / "extract" / "good")
    assert (out / "data" / "sub" / "b.txt").read_text() == "two" and (out / "data" / "link").read_text() == "one"
    z = _zip(tmp_path / "good.zip", [("data/a.txt", b"one", 0), ("data/sub/b.txt", b"two", 0)])
    assert check_archive(z) == ["data/a.txt", "data/sub/b.txt"]
    assert (safe_extract(z, world / "extract" / "goodzip") / "data" / "a.txt").read_text() == "one"
    assert (world / "sentinel.txt").read_text() == "keep me"
    tally(inputs=2)


def test_damaged_archives_fail_clearly(tmp_path):
    good = _tar(tmp_path / "g.tgz", [("data/a.txt", b"one" * 1000, "")]).read_bytes()
    for name, data in {
        "cut.tgz": good[: len(good) // 2],
        "text.tgz": b"not an archive at all",
        "empty.tgz": b"",
    }.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(Exception) as info:
            safe_extract(path, tmp_path / f"out-{name}")
        assert info.type.__module__.startswith("course_utils"), f"{name}: raw {info.type.__name__}: {info.value}"
        assert str(path) in str(info.value)
        assert not (tmp_path / f"out-{name}").exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".out-{name}")], "a temporary folder was left"
    tally(inputs=3, faults=3)
