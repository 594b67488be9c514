"""Pretrained weights under the course's policy: cached, verified, locked, offline-safe.

:class:`Weights` describes one set of weights for the registry; :func:`torchvision_weights` makes it for a
torchvision weights enum (cached in torch.hub's folder under ``TORCH_HOME``, downloaded on demand).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision.models import WeightsEnum

from ..core import settings
from ..core.errors import DownloadError, WeightsUnavailableError
from ..data.download import download_file

__all__ = ["Weights", "download_weights", "fix_hint", "torchvision_weights"]


@dataclass(frozen=True)
class Weights:
    """One set of pretrained weights: where it comes from, how to read it, and what goes with it."""

    label: str  #: e.g. ``ResNet50_Weights.IMAGENET1K_V2``
    file: Path  #: where the file lives once it is here
    url: str | None  #: ``None``: the file ships inside an installed package (nothing to download)
    size_mb: float
    transforms: Callable[[], Callable]
    categories: list[str]
    meta: dict
    load: Callable[[], dict[str, torch.Tensor] | None]  #: the state_dict; ``None`` offline when not cached
    status: Callable[[], tuple[bool, str]]  #: (ready, detail), as ``doctor`` prints it

    def __str__(self) -> str:
        return self.label

    def cached(self) -> bool:
        """True when the weights are on this machine already."""
        return self.file.is_file()

    def download(self, retries: int = 3) -> Path:
        """Fetch the file into the cache (verified, atomic, locked); nothing to do for packaged weights."""
        return download_weights(self.url, self.file, retries=retries) if self.url else self.file


def fix_hint(url: str) -> str:
    """What a learner or instructor can do when the weights at ``url`` cannot be fetched."""
    return (
        f"pre-fetch them where there is network (`python -m course_utils fetch`, or download {url}) "
        f"and put the file in {settings.weights_dir()} (set TORCH_HOME to use a shared cache), "
        "or set COURSE_OFFLINE=1 to continue with random weights"
    )


def download_weights(
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
    return download_file(
        url,
        dest,
        None,
        sha256_prefix=match.group(1) if match else None,
        timeout=timeout,
        retries=retries,
        progress=progress,
    )


def _load_hub_file(path: Path, url: str, label: str, progress: bool = True) -> dict[str, torch.Tensor] | None:
    """The state_dict in ``path``: from the cache, else downloaded (verified); ``None`` offline and uncached."""
    if not path.is_file():
        if settings.offline():
            return None
        try:
            download_weights(url, path, progress=progress)
        except DownloadError as exc:
            raise WeightsUnavailableError(f"{label}: cannot be downloaded ({exc}). To fix: {fix_hint(url)}") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt cache file: say which and how to recover
        raise WeightsUnavailableError(
            f"{path}: cached weights are unreadable ({exc}); delete the file and load again"
        ) from None


def torchvision_weights(enum: WeightsEnum) -> Weights:
    """The :class:`Weights` of a torchvision weights enum member (``ResNet50_Weights.IMAGENET1K_V2``)."""
    path = settings.weights_dir() / Path(enum.url).name

    def status() -> tuple[bool, str]:
        if path.is_file():
            return True, f"{enum} cached"
        return (
            True,
            f"{enum} NOT cached ({path.name}): random weights offline; `python -m course_utils fetch` prepares it",
        )

    return Weights(
        str(enum),
        path,
        enum.url,
        float(enum.meta.get("_file_size", 0)),
        enum.transforms,
        list(enum.meta["categories"]),
        dict(enum.meta),
        lambda: _load_hub_file(path, enum.url, str(enum)),
        status,
    )
