"""course_utils.data.download against a real local HTTP server (127.0.0.1 only): verify, retry, lock, extract safely."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from course_utils.core.errors import DownloadError, UnsafeArchiveError
from course_utils.core.files import sha256_file
from course_utils.data.download import check_archive, download_file, safe_extract

PAYLOAD = os.urandom(300_000)
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):  # noqa: N802
        n = self.hits[self.path] = self.hits.get(self.path, 0) + 1
        if self.path == "/slow":
            time.sleep(3)
        if self.path == "/missing" or (self.path == "/flaky" and n == 1):
            self.send_error(404 if self.path == "/missing" else 503)
            return
        if self.path == "/file" and n == 1:
            time.sleep(0.3)  # give concurrent callers time to pile up on the lock
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        try:
            self.wfile.write(PAYLOAD)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (time-out test)
            pass


@pytest.fixture()
def server(monkeypatch):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    _Handler.hits = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.hits
    httpd.shutdown()
    httpd.server_close()


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")]


def test_fetch_verifies_and_writes_atomically(server, tmp_path):
    url, hits = server
    dest = download_file(f"{url}/file", tmp_path / "blob.bin", SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD and sha256_file(dest) == SHA
    assert not _leftovers(tmp_path)
    download_file(f"{url}/file", dest, SHA, progress=False)  # cached: no second request
    assert hits["/file"] == 1


def test_hash_mismatch_removes_file(server, tmp_path):
    url, _ = server
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        download_file(f"{url}/file", tmp_path / "blob.bin", "0" * 64, progress=False)
    assert not (tmp_path / "blob.bin").exists() and not _leftovers(tmp_path)


def test_retries_but_not_after_a_404(server, tmp_path):
    url, hits = server
    download_file(f"{url}/flaky", tmp_path / "a.bin", SHA, retries=2, progress=False)
    assert hits["/flaky"] == 2
    with pytest.raises(DownloadError, match="404"):
        download_file(f"{url}/missing", tmp_path / "b.bin", SHA, retries=3, progress=False)
    assert hits["/missing"] == 1 and not (tmp_path / "b.bin").exists()


def test_timeout_fails_fast_with_fix(server, tmp_path):
    url, _ = server
    start = time.perf_counter()
    with pytest.raises(DownloadError, match="after 1 attempt"):
        download_file(f"{url}/slow", tmp_path / "s.bin", SHA, timeout=0.5, retries=1, progress=False)
    assert time.perf_counter() - start < 2.5
    assert not (tmp_path / "s.bin").exists() and not _leftovers(tmp_path)


def test_offline_never_touches_network(server, tmp_path, monkeypatch):
    url, hits = server
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(DownloadError, match="offline mode"):
        download_file(f"{url}/file", tmp_path / "x.bin", SHA, progress=False)
    assert hits == {}


def test_concurrent_callers_download_once(server, tmp_path):
    url, hits = server
    results, errors = [], []

    def worker():
        try:
            results.append(download_file(f"{url}/file", tmp_path / "shared.bin", SHA, progress=False))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4
    assert hits["/file"] == 1, "the lock should make later callers reuse the first download"


def test_read_only_cache(server, tmp_path):
    url, hits = server
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "have.bin").write_bytes(PAYLOAD)
    ro.chmod(0o555)
    try:
        assert download_file(f"{url}/file", ro / "have.bin", SHA, progress=False).read_bytes() == PAYLOAD
        if os.geteuid() != 0:  # root can write anywhere
            with pytest.raises(DownloadError, match="read-only"):
                download_file(f"{url}/file", ro / "missing.bin", SHA, progress=False)
    finally:
        ro.chmod(0o755)
    assert "/file" not in hits


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize(
    "bad",
    [
        (_info("/etc/evil"), b"x"),
        (_info("data/../../evil"), b"x"),
        (_info("data/link", tarfile.SYMTYPE, "../../outside"), None),
        (_info("data/abs", tarfile.SYMTYPE, "/etc/passwd"), None),
        (_info("data/hard", tarfile.LNKTYPE, "../outside"), None),
        (_info("data/dev", tarfile.CHRTYPE), None),
    ],
    ids=["absolute", "dotdot", "symlink-out", "symlink-abs", "hardlink-out", "device"],
)
def test_unsafe_tar_rejected(tmp_path, bad):
    archive = _tar(tmp_path / "a.tgz", [(_info("data/ok.txt"), b"fine"), bad])
    with pytest.raises(UnsafeArchiveError, match="refusing|links|device"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil").exists()


def test_unsafe_zip_rejected(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr("../evil.txt", "bad")
    with pytest.raises(UnsafeArchiveError):
        check_archive(archive)


def test_safe_extract_good_archive(tmp_path):
    archive = _tar(
        tmp_path / "a.tgz", [(_info("root/a/1.txt"), b"one"), (_info("root/a/link", tarfile.SYMTYPE, "1.txt"), None)]
    )
    out = safe_extract(archive, tmp_path / "out")
    assert (out / "root/a/1.txt").read_text() == "one" and (out / "root/a/link").read_text() == "one"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert safe_extract(archive, out) == out  # already there: no work


def test_corrupt_archive_is_a_course_error(tmp_path):
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(b"not an archive at all")
    with pytest.raises(DownloadError, match="not a readable"):
        safe_extract(bad, tmp_path / "out")
