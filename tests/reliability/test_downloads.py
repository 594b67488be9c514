"""Downloads against misbehaving servers on 127.0.0.1: clear errors within the time-out, nothing partial, no loss.

Both downloaders are exercised: ``course_utils.data.download.download_file`` (datasets) and
``course_utils.models.weights.download_weights`` (torch.hub weights). Faults: checksum mismatch, HTTP errors,
a transfer cut short, a server that accepts and never answers; eight processes fetching one
file into one cache; a read-only cache.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from course_utils.core.errors import DownloadError
from course_utils.core.files import sha256_file
from course_utils.data.download import download_file
from course_utils.models.weights import download_weights
from tests import ROOT
from tests.reliability_summary import tally

PAYLOAD = bytes(range(256)) * 1200 + b"end"  # 307 kB, deterministic
SHA = hashlib.sha256(PAYLOAD).hexdigest()
WEIGHTS_NAME = f"model-{SHA[:8]}.pth"  # torch.hub names carry a SHA-256 prefix


class _Handler(http.server.BaseHTTPRequestHandler):
    """``/<mode>/<name>``: ok, wrong (other bytes), e500, e404, cut (half, then close), cutonce, slow (1 s delay)."""

    hits: dict[str, int] = {}
    lock = threading.Lock()

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        mode = self.path.strip("/").split("/")[0]
        with self.lock:
            n = self.hits[mode] = self.hits.get(mode, 0) + 1
        if mode in ("e500", "e404"):
            self.send_error(int(mode[1:]))
            return
        if mode == "slow":
            time.sleep(1.0)
        body = os.urandom(len(PAYLOAD)) if mode == "wrong" else PAYLOAD
        start = 0
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and mode in ("ok", "cutonce"):
            start = int(rng[6:].split("-")[0])
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        cut = mode == "cut" or (mode == "cutonce" and n == 1)
        try:
            self.wfile.write(body[start : len(body) // 2] if cut else body[start:])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        if cut:
            self.close_connection = True


@pytest.fixture()
def server(monkeypatch):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    _Handler.hits = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.hits
    httpd.shutdown()
    httpd.server_close()


def _cache(tmp_path: Path) -> tuple[Path, dict[Path, bytes]]:
    """A cache folder that already holds other files (they must survive every fault)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    kept = {cache / "earlier.bin": b"downloaded yesterday", cache / f"other-{SHA[:8]}.pth": PAYLOAD[:100]}
    for p, data in kept.items():
        p.write_bytes(data)
    return cache, kept


def _lost(kept: dict[Path, bytes]) -> int:
    return sum(not p.is_file() or p.read_bytes() != data for p, data in kept.items())


def _stray(cache: Path, keep: set[str]) -> list[str]:
    """Files in the cache other than the expected ones and lock files (partial downloads, temporaries)."""
    return sorted(p.name for p in cache.iterdir() if p.name not in keep and not p.name.endswith(".lock"))


def _fetch(kind: str, url: str, dest: Path, timeout: float = 5):
    if kind == "fetch":
        return download_file(url, dest, SHA, timeout=timeout, retries=2, progress=False)
    return download_weights(url, dest, timeout=timeout, progress=False)


KINDS = ["fetch", "weights"]
FAULTS = {"checksum": "wrong", "http-500": "e500", "http-404": "e404", "truncated": "cut"}
EXPECT = {
    "checksum": "SHA-256|hash|sha256",
    "http-500": "500",
    "http-404": "404",
    "truncated": "SHA-256|hash|closed|transfer",
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_gives_clear_error_nothing_partial_then_next_attempt_succeeds(server, tmp_path, kind, fault):
    url, hits = server
    cache, kept = _cache(tmp_path)
    dest = cache / WEIGHTS_NAME
    start = time.perf_counter()
    with pytest.raises(DownloadError) as info:
        _fetch(kind, f"{url}/{FAULTS[fault]}/{WEIGHTS_NAME}", dest)
    seconds = time.perf_counter() - start
    exc, message = info.value, str(info.value)
    assert re.search(EXPECT[fault], message), message
    assert "127.0.0.1" in message or str(dest) in message, f"the error does not name the download: {message}"
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__), "a raw traceback is chained"
    assert seconds < 10, f"{fault}: {seconds:.1f} s"
    assert not dest.exists() and _stray(cache, {p.name for p in kept}) == [], _stray(cache, set())
    assert _fetch(kind, f"{url}/ok/{WEIGHTS_NAME}", dest) == dest  # the next attempt succeeds
    assert sha256_file(dest) == SHA and _stray(cache, {p.name for p in kept} | {dest.name}) == []
    lost = _lost(kept)
    tally(inputs=2, faults=1, lost=lost)
    assert lost == 0


def test_fetch_resumes_a_cut_transfer_within_one_call(server, tmp_path):
    url, hits = server
    cache, kept = _cache(tmp_path)
    dest = download_file(f"{url}/cutonce/{WEIGHTS_NAME}", cache / "resumed.bin", SHA, retries=3, progress=False)
    assert sha256_file(dest) == SHA and hits["cutonce"] == 2
    assert _stray(cache, {p.name for p in kept} | {"resumed.bin"}) == []
    tally(inputs=1, faults=1, lost=_lost(kept))


@pytest.mark.parametrize("kind", KINDS)
def test_silent_server_times_out_cleanly(tmp_path, kind, monkeypatch, silent_port):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    cache, kept = _cache(tmp_path)
    dest = cache / WEIGHTS_NAME
    port = silent_port
    start = time.perf_counter()
    with pytest.raises(DownloadError, match="timed out|time"):
        _fetch(kind, f"http://127.0.0.1:{port}/{WEIGHTS_NAME}", dest, timeout=1)
    seconds = time.perf_counter() - start
    # fetch: 2 attempts × 1 s time-out + 1 s back-off; weights: one attempt.
    assert seconds < 6, f"{kind}: {seconds:.1f} s for a 1 s time-out"
    assert not dest.exists() and _stray(cache, {p.name for p in kept}) == []
    tally(inputs=1, faults=1, lost=_lost(kept))
    assert _lost(kept) == 0


def test_refused_connection_is_reported(tmp_path, monkeypatch, free_port):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    with pytest.raises(DownloadError, match="refused|failed"):
        download_file(
            f"http://127.0.0.1:{free_port()}/x.bin", tmp_path / "x.bin", SHA, timeout=1, retries=1, progress=False
        )
    assert list(tmp_path.iterdir()) == [] or all(p.name.endswith(".lock") for p in tmp_path.iterdir())
    tally(inputs=1, faults=1)


# The real course_utils.data.download, loaded without the __init__ of course_utils, course_utils.core and
# course_utils.data (which import torch and the models), so that eight processes start in well under a second each
# (0.2 s instead of 4 s on 2 cores).
_BARE_PACKAGE = (
    "import sys, types\n"
    f"for _name in ('course_utils', 'course_utils.core', 'course_utils.data'):\n"
    "    _p = types.ModuleType(_name)\n"
    f"    _p.__path__ = [{str(ROOT)!r} + '/' + _name.replace('.', '/')]\n"
    "    sys.modules[_name] = _p\n"
)
_WORKER = _BARE_PACKAGE + textwrap.dedent("""
    import hashlib, sys
    from course_utils.data.download import download_file
    path = download_file(sys.argv[1], sys.argv[2], sys.argv[3], progress=False, timeout=30)
    print(hashlib.sha256(open(path, "rb").read()).hexdigest())
""")


def test_eight_processes_one_download_no_corruption(server, tmp_path):
    url, hits = server
    cache, kept = _cache(tmp_path)
    dest = cache / "shared.bin"
    env = {k: v for k, v in os.environ.items() if k != "COURSE_OFFLINE"}
    env.update(OMP_NUM_THREADS="1", COURSE_THREADS="1")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, f"{url}/slow/shared.bin", str(dest), SHA],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    results = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-800:] for _, err in results if err]
    assert [out.strip() for out, _ in results] == [SHA] * 8, "a process saw a corrupt or partial file"
    assert hits["slow"] == 1, f"{hits['slow']} downloads for one file"
    assert sha256_file(dest) == SHA and _stray(cache, {p.name for p in kept} | {dest.name}) == []
    tally(inputs=8, faults=0, lost=_lost(kept))
    assert _lost(kept) == 0


_READ_ONLY = _BARE_PACKAGE + textwrap.dedent("""
    import os, sys
    from course_utils.data.download import download_file
    from course_utils.core.errors import DownloadError
    cache, sha, url = sys.argv[1], sys.argv[2], sys.argv[3]
    if os.geteuid() == 0:  # root ignores permissions: drop to an unprivileged user after the imports
        os.setgid(65534)
        os.setuid(65534)
    assert download_file(url, cache + "/held.bin", sha, progress=False, retries=1, timeout=1).name == "held.bin"
    try:
        download_file(url, cache + "/absent.bin", sha, progress=False, retries=1, timeout=1)
    except DownloadError as exc:
        print(exc)
    else:
        sys.exit("a read-only cache accepted a download")
""")


def test_read_only_cache(tmp_path, free_port):
    """A read-only cache serves what it holds (without touching the network) and fails clearly otherwise."""
    cache = Path(tempfile.mkdtemp(prefix="course-ro-cache-"))
    try:
        (cache / "held.bin").write_bytes(PAYLOAD)
        cache.chmod(0o555)
        env = {k: v for k, v in os.environ.items() if k != "COURSE_OFFLINE"}
        env.update(HOME=str(cache), OMP_NUM_THREADS="1", MPLCONFIGDIR=tempfile.gettempdir())
        url = f"http://127.0.0.1:{free_port()}/held.bin"  # a download attempt would be refused
        result = subprocess.run(
            [sys.executable, "-c", _READ_ONLY, str(cache), SHA, url],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-1500:]
        assert "read-only" in result.stdout and "absent.bin" not in os.listdir(cache), result.stdout
        assert (cache / "held.bin").read_bytes() == PAYLOAD
    finally:
        cache.chmod(0o755)
        for p in cache.iterdir():
            p.unlink()
        cache.rmdir()
    tally(inputs=2, faults=1)
