"""Pretrained torchvision weights under the course's policy: cached, verified, locked, offline-safe."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.models import WeightsEnum

from . import settings
from .download import fetch
from .errors import DownloadError, WeightsUnavailableError


def weights_file(weights: WeightsEnum) -> Path:
    """Where ``weights`` live once downloaded (torch.hub's cache under ``TORCH_HOME``)."""
    return settings.weights_dir() / Path(weights.url).name


def is_cached(weights: WeightsEnum) -> bool:
    """True when the weights file is already in the cache."""
    return weights_file(weights).is_file()


def fix_hint(weights: WeightsEnum) -> str:
    """What a learner or instructor can do when ``weights`` cannot be fetched."""
    return (
        f"pre-fetch them where there is network (`python -m course_utils fetch`, or download {weights.url}) "
        f"and put the file in {settings.weights_dir()} (set TORCH_HOME to use a shared cache), "
        "or set COURSE_OFFLINE=1 to continue with random weights"
    )


def download(
    url: str,
    dest: Path,
    *,
    check_hash: bool = True,
    timeout: float | None = None,
    progress: bool = True,
    retries: int = 1,
) -> Path:
    """Download a weights file to ``dest``: verified by the SHA-256 prefix in its name, atomic, locked.

    Several processes asking for the same file download it once; the others wait for the
    lock and then find it. A silent server fails after ``timeout`` seconds per attempt.
    """
    match = torch.hub.HASH_REGEX.search(Path(dest).name) if check_hash else None
    return fetch(
        url,
        dest,
        None,
        sha256_prefix=match.group(1) if match else None,
        timeout=timeout,
        retries=retries,
        progress=progress,
    )


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
            raise WeightsUnavailableError(
                f"{weights}: cannot be downloaded ({exc}). To fix: {fix_hint(weights)}"
            ) from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt cache file: say which and how to recover
        raise WeightsUnavailableError(
            f"{path}: cached weights are unreadable ({exc}); delete the file and load again"
        ) from None
