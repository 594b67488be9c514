"""Downloads and archives the safe way: verified, atomic, locked, retried, extracted without escapes.

``download_file(url, dest, sha256)`` downloads to a temporary file next to ``dest`` and renames it
only after the SHA-256 matched, so no partial or corrupt file ever sits under the final
name. A file lock (``dest + ".lock"``) makes concurrent notebooks or JupyterHub users share
one cache: the first downloads, the others wait and then find the file. A cache that
already holds the file is used as is, even when it is read-only.
``safe_extract(archive, folder)`` rejects absolute paths, ``..``, links leaving the folder
and device files before anything is written.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import stat
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from ..core import settings
from ..core.errors import DownloadError, UnsafeArchiveError
from ..core.files import atomic_path

__all__ = ["read_url", "LOCK_TIMEOUT", "check_archive", "download_file", "safe_extract"]

#: How long a process waits for another one that holds the download lock (seconds).
LOCK_TIMEOUT = 30 * 60
_CHUNK = 1 << 20


def _lock(target: Path) -> FileLock:
    return FileLock(str(target) + ".lock", timeout=LOCK_TIMEOUT)


def _writable_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"{folder}: cannot create the cache folder ({exc}); set COURSE_DATA to a writable folder"
        ) from None
    if not os.access(folder, os.W_OK):
        raise DownloadError(
            f"{folder}: the cache is read-only and does not hold the file yet; ask its owner to "
            "pre-fetch it (`python -m course_utils fetch`) or set COURSE_DATA to a writable folder"
        )


def _stream(url: str, tmp: Path, timeout: float, progress: bool, expected_size: int | None) -> str:
    """Write ``url`` into ``tmp``, resuming after the bytes already there when the server allows it.

    Returns the SHA-256 of the whole file.
    """
    digest = hashlib.sha256()
    have = tmp.stat().st_size if tmp.is_file() else 0
    headers = {"User-Agent": "course-utils"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        resumed = have and response.status == 206
        if resumed:
            with open(tmp, "rb") as old:
                for chunk in iter(lambda: old.read(_CHUNK), b""):
                    digest.update(chunk)
        length = int(response.headers.get("Content-Length") or 0)
        total = (length + (have if resumed else 0)) or expected_size
        with (
            open(tmp, "ab" if resumed else "wb") as out,
            tqdm(
                total=total,
                initial=have if resumed else 0,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=Path(url).name,
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
            written = out.tell()
        if length and written < (have if resumed else 0) + length:
            raise urllib.error.URLError(f"connection closed after {written} of {total} bytes")
    return digest.hexdigest()


def read_url(url: str, max_bytes: int, error: type[Exception] = DownloadError) -> bytes:
    """The bytes at ``url`` (at most ``max_bytes``), held in memory: an image a learner names by its address.

    Nothing is cached or verified (there is no published hash for a learner's URL); offline mode forbids it.
    Failures raise ``error`` with the address and what to do.
    """
    if settings.offline():
        raise error(
            f"{url}: offline mode (COURSE_OFFLINE=1) forbids downloads; save the file and pass its path instead"
        )
    request = urllib.request.Request(url, headers={"User-Agent": "course-utils"})
    try:
        with urllib.request.urlopen(request, timeout=settings.network_timeout()) as response:
            data = response.read(max_bytes + 1)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise error(f"{url}: could not download ({exc}); check the address and your connection") from None
    if len(data) > max_bytes:
        raise error(f"{url}: larger than {max_bytes // 2**20} MB; download it yourself")
    return data


def _attempts(
    url: str,
    tmp: Path,
    sha256: str | None,
    sha256_prefix: str | None,
    size: int | None,
    timeout: float,
    retries: int,
    progress: bool,
) -> None:
    """Stream ``url`` into ``tmp`` until its SHA-256 verifies; :class:`DownloadError` after ``retries`` attempts."""
    errors = []
    for attempt in range(max(1, retries)):
        try:
            got = _stream(url, tmp, timeout, progress, size)
        except urllib.error.HTTPError as exc:
            tmp.unlink(missing_ok=True)
            errors.append(f"HTTP {exc.code} {exc.reason}")
            if 400 <= exc.code < 500 and exc.code not in (408, 416, 429):
                break  # the file is not there: retrying will not help
        except (
            urllib.error.URLError,
            http.client.HTTPException,
            OSError,
            TimeoutError,
            ValueError,
        ) as exc:  # HTTPException: a malformed or cut-off HTTP response
            errors.append(str(getattr(exc, "reason", exc) or type(exc).__name__))
        else:
            expected = (sha256 or "").lower()
            if (sha256 and got != expected) or (sha256_prefix and not got.startswith(sha256_prefix)):
                raise DownloadError(
                    f"{url}: SHA-256 mismatch (expected {expected or sha256_prefix + '…'}, got {got}); "
                    "the file was removed. The server may have changed the file or the transfer "
                    "was corrupted: try again, or report it if it persists"
                )
            return
        if attempt + 1 < retries:
            time.sleep(min(2**attempt, 8))
    dest = tmp.with_name(tmp.name.removeprefix(".").removesuffix(".part"))
    raise DownloadError(
        f"{url}: download failed after {len(errors)} attempt(s) ({errors[-1]}); check the "
        "connection, or pre-fetch the file elsewhere and copy it to " + str(dest)
    )


def download_file(
    url: str,
    dest: str | Path,
    sha256: str | None,
    *,
    size: int | None = None,
    timeout: float | None = None,
    retries: int = 3,
    progress: bool = True,
    sha256_prefix: str | None = None,
) -> Path:
    """Download ``url`` to ``dest``, verified by ``sha256``.

    Returns at once when ``dest`` already exists (a shared, read-only cache works). Otherwise
    the file is streamed into ``.NAME.part`` beside ``dest`` with a progress bar, every
    network wait is limited to ``timeout`` seconds (``COURSE_NETWORK_TIMEOUT``), and failures
    are retried ``retries`` times with back-off, *resuming* where the transfer stopped (HTTP
    range requests). The file is renamed into place only when its SHA-256 matches ``sha256``
    (or starts with ``sha256_prefix``, as torch.hub file names carry). A mismatch, or giving
    up, removes the partial file and raises :class:`DownloadError`.
    """
    dest = Path(dest).expanduser()
    if dest.is_file():
        return dest
    if settings.offline():
        raise DownloadError(
            f"{url}: offline mode (COURSE_OFFLINE=1) forbids downloads and {dest} is not cached; "
            "pre-fetch it where there is network (`python -m course_utils fetch`)"
        )
    timeout = settings.network_timeout() if timeout is None else timeout
    _writable_dir(dest.parent)
    try:
        with _lock(dest):
            if dest.is_file():  # another process finished it while we waited
                return dest
            # the .part file is resumed between attempts (range requests) and removed if they all fail
            with atomic_path(dest, part=dest.parent / f".{dest.name}.part") as tmp:
                _attempts(url, tmp, sha256, sha256_prefix, size, timeout, retries, progress)
            return dest
    except Timeout:
        raise DownloadError(
            f"{dest}: another process has held the download lock for {LOCK_TIMEOUT // 60} min; "
            f"if nothing is downloading, remove {dest}.lock"
        ) from None


def _check_member(name: str, root: Path) -> Path:
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path; refusing to extract this archive")
    if ".." in path.parts:
        raise UnsafeArchiveError(
            f"archive member {name!r} contains '..' and would escape the folder; refusing to extract"
        )
    target = (root / name).resolve()
    if not target.is_relative_to(root.resolve()):
        raise UnsafeArchiveError(f"archive member {name!r} would land outside {root}; refusing to extract")
    return target


def check_archive(archive: str | Path) -> list[str]:
    """Member names of a tar or zip archive after checking that every one is safe to extract.

    Raises :class:`UnsafeArchiveError` for absolute paths, ``..``, symbolic or hard links
    pointing outside the archive's folder, and device files or FIFOs.
    """
    archive = Path(archive)
    root = Path("/__course_extract_root__")
    if zipfile.is_zipfile(archive):
        try:
            with zipfile.ZipFile(archive) as zf:
                infos = zf.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise DownloadError(
                f"{archive}: not a readable zip archive ({exc}); delete it and download again"
            ) from None
        for info in infos:
            _check_member(info.filename, root)
            mode = info.external_attr >> 16  # Unix mode bits, when the zip was made on Unix
            if stat.S_ISLNK(mode):
                raise UnsafeArchiveError(
                    f"archive member {info.filename!r} is a symbolic link; refusing to extract "
                    "(zip extraction would not recreate it safely)"
                )
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                raise UnsafeArchiveError(
                    f"archive member {info.filename!r} is a device file or FIFO; refusing to extract"
                )
        return [info.filename for info in infos]
    try:
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:  # EOFError, zlib.error: a cut-off .tgz
        raise DownloadError(
            f"{archive}: not a readable tar or zip archive ({exc}); delete it and download again"
        ) from None
    for m in members:
        target = _check_member(m.name, root)
        if m.isdev() or m.isfifo():
            raise UnsafeArchiveError(f"archive member {m.name!r} is a device file or FIFO; refusing to extract")
        if m.issym() or m.islnk():
            base = target.parent if m.issym() else root
            if PurePosixPath(m.linkname).is_absolute():
                raise UnsafeArchiveError(f"archive member {m.name!r} links to the absolute path {m.linkname!r}")
            link = Path(os.path.normpath(base / m.linkname))
            if not link.is_relative_to(root):
                raise UnsafeArchiveError(f"archive member {m.name!r} links outside the folder ({m.linkname!r})")
    return [m.name for m in members]


def safe_extract(archive: str | Path, folder: str | Path) -> Path:
    """Extract ``archive`` into ``folder`` atomically, after :func:`check_archive`.

    Extraction happens in a temporary folder beside ``folder`` that is renamed into place
    when complete, under a file lock, so a half-extracted tree is never visible. Returns
    ``folder`` at once when it already exists.
    """
    archive, folder = Path(archive), Path(folder).expanduser()
    if folder.is_dir():
        return folder
    check_archive(archive)
    _writable_dir(folder.parent)
    with _lock(folder):
        if folder.is_dir():
            return folder
        with atomic_path(folder, folder=True) as tmp:
            if zipfile.is_zipfile(archive):
                with zipfile.ZipFile(archive) as zf:
                    zf.extractall(tmp)
            else:
                with tarfile.open(archive) as tf:
                    if hasattr(tarfile, "data_filter"):  # Python ≥ 3.11.4: the stdlib's own safety net
                        tf.extractall(tmp, filter="data")
                    else:  # Python 3.11.0–3.11.3 (Debian 12's 3.11.2): check_archive alone
                        tf.extractall(tmp)
    return folder
