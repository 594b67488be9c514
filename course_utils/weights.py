"""Pretrained torchvision weights under the course's policy: cached, verified, locked, offline-safe."""

from __future__ import annotations

import contextlib
import socket
import urllib.error
from pathlib import Path

import torch
from filelock import FileLock, Timeout
from torchvision.models import WeightsEnum

from . import settings
from .errors import DownloadError, WeightsUnavailableError


def weights_file(weights: WeightsEnum) -> Path:
    """Where ``weights`` live once downloaded (torch.hub's cache under ``TORCH_HOME``)."""
    return settings.weights_dir() / Path(weights.url).name


def is_cached(weights: WeightsEnum) -> bool:
    """True when the weights file is already in the cache."""
    return weights_file(weights).is_file()


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def fix_hint(weights: WeightsEnum) -> str:
    """What a learner or instructor can do when ``weights`` cannot be fetched."""
    return (
        f"pre-fetch them where there is network (`python -m course_utils fetch`, or download {weights.url}) "
        f"and put the file in {settings.weights_dir()} (set TORCH_HOME to use a shared cache), "
        "or set COURSE_OFFLINE=1 to continue with random weights"
    )


def download(url: str, dest: Path, *, check_hash: bool = True, timeout: float | None = None,
             progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` atomically under a file lock, verifying the SHA-256 prefix in its name.

    Several processes asking for the same file download it once; the others wait for the
    lock and then find it. A silent server fails after ``timeout`` seconds.
    """
    if settings.offline():
        raise DownloadError(f"{url}: offline mode (COURSE_OFFLINE=1) forbids downloads")
    timeout = settings.NETWORK_TIMEOUT if timeout is None else timeout
    dest.parent.mkdir(parents=True, exist_ok=True)
    hash_prefix = None
    if check_hash:
        match = torch.hub.HASH_REGEX.search(dest.name)
        hash_prefix = match.group(1) if match else None
    try:
        with FileLock(str(dest) + ".lock", timeout=30 * 60):
            if dest.is_file():
                return dest
            with _socket_timeout(timeout):
                torch.hub.download_url_to_file(url, str(dest), hash_prefix, progress=progress)
    except Timeout:
        raise DownloadError(f"{dest}: another process has held the download lock for 30 min; remove {dest}.lock") from None
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: download failed (HTTP {exc.code} {exc.reason})") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url}: download failed ({reason})") from None
    except RuntimeError as exc:  # torch.hub's hash mismatch
        raise DownloadError(f"{url}: {exc}; the partial file was removed, try again") from None
    return dest


def load_state_dict(weights: WeightsEnum, progress: bool = True) -> dict[str, torch.Tensor] | None:
    """The ``state_dict`` of ``weights``: from the cache, else downloaded (verified).

    Returns ``None`` in offline mode when the file is not cached. Raises
    :class:`WeightsUnavailableError` with the fix when online but unreachable.
    """
    path = weights_file(weights)
    if not path.is_file():
        if settings.offline():
            return None
        try:
            download(weights.url, path, progress=progress)
        except DownloadError as exc:
            raise WeightsUnavailableError(f"{weights}: cannot be downloaded ({exc}). To fix: {fix_hint(weights)}") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt cache file: say which and how to recover
        raise WeightsUnavailableError(f"{path}: cached weights are unreadable ({exc}); delete the file and load again") from None
