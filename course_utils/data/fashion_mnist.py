"""Fashion-MNIST, the course's real labelled dataset: 60,000 train and 10,000 test images, 28×28, 10 classes.

The four original idx files are found in this order:

1. the Debian package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``, or ``$FASHION_MNIST_DIR``);
2. the course's cache, ``$COURSE_DATA/datasets/fashion-mnist``;
3. online only: torchvision's own download (``torchvision.datasets.FashionMNIST``), copied into the cache.

Every file is checked against the SHA-256 of its *decompressed* contents, so the Debian ``.gz`` files
(recompressed) and torchvision's download (decompressed) are verified by the same hashes. A split loads
once per process into uint8 tensors (about 55 MB for both splits).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import socket
import tempfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from filelock import FileLock

from ..core import settings
from ..core.errors import DatasetError, DataUnavailableError
from ..core.files import atomic_path

__all__ = [
    "CLASSES",
    "DEBIAN_PACKAGE",
    "DOWNLOAD_SIZE",
    "FILES",
    "FIX",
    "LICENCE",
    "LabelledImages",
    "NAME",
    "PACKAGE_DIR",
    "SHA256",
    "cache_dir",
    "fetch",
    "load_fashion_mnist",
    "locate",
    "package_dir",
    "read_verified",
    "status",
]

NAME = "fashion_mnist"
CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
LICENCE = "MIT (Zalando Research; Xiao, Rasul and Vollgraf, 2017, arXiv:1708.07747)"
DEBIAN_PACKAGE = "dataset-fashion-mnist"
PACKAGE_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Bytes torchvision downloads (the four ``.gz`` files); the cache holds them decompressed (55 MB).
DOWNLOAD_SIZE = 26_421_880 + 29_515 + 4_422_102 + 5_148

#: split → (images file, labels file); each name → SHA-256 and size of its decompressed contents.
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SHA256 = {
    "train-images-idx3-ubyte": ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47_040_016),
    "train-labels-idx1-ubyte": ("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60_008),
    "t10k-images-idx3-ubyte": ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7_840_016),
    "t10k-labels-idx1-ubyte": ("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10_008),
}
FIX = (
    f"install the Debian package (`sudo apt-get install {DEBIAN_PACKAGE}`), or run "
    f"`python -m course_utils fetch {NAME}` where there is network"
)


@dataclass(frozen=True)
class LabelledImages:
    """One split: ``images`` uint8 ``[N, 1, 28, 28]``, ``labels`` int64 ``[N]``, the class names and the source."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    source: Path

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"LabelledImages({len(self)} images {tuple(self.images.shape[1:])}, {len(self.classes)} classes, from {self.source})"


def package_dir() -> Path:
    """Where the Debian package puts the files (``$FASHION_MNIST_DIR`` overrides it)."""
    return Path(os.environ.get("FASHION_MNIST_DIR") or PACKAGE_DIR)


def cache_dir() -> Path:
    """The course's cache of the four files: ``$COURSE_DATA/datasets/fashion-mnist``."""
    return settings.data_cache_dir() / "datasets" / "fashion-mnist"


def _file_in(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _complete(folder: Path) -> bool:
    return all(_file_in(folder, name) for name in SHA256)


def locate() -> Path | None:
    """The first folder holding all four files (package, then cache), or ``None``; nothing is read or downloaded."""
    for folder in (package_dir(), cache_dir()):
        if _complete(folder):
            return folder
    return None


def read_verified(path: Path) -> bytes:
    """The decompressed contents of one idx file, after checking their size and SHA-256."""
    name = path.name.removesuffix(".gz")
    expected, size = SHA256[name]
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DatasetError(
            f"{path}: cannot be read ({exc or type(exc).__name__}): the file is truncated or corrupt. "
            f"Delete it and {FIX}"
        ) from None
    if len(data) != size or hashlib.sha256(data).hexdigest() != expected:
        raise DatasetError(
            f"{path}: {len(data):,} bytes whose SHA-256 is not Fashion-MNIST's ({size:,} bytes expected): "
            f"the file is truncated or corrupt. Delete it and {FIX}"
        )
    return data


def _parse(images: bytes, labels: bytes) -> tuple[torch.Tensor, torch.Tensor]:
    n = int.from_bytes(labels[4:8], "big")
    x = torch.frombuffer(bytearray(images[16:]), dtype=torch.uint8).reshape(n, 1, 28, 28)
    y = torch.frombuffer(bytearray(labels[8:]), dtype=torch.uint8).to(torch.int64)
    return x, y


def _download_into_cache(progress: bool) -> Path:
    """torchvision's download (its mirrors, its MD5 checks), verified here by SHA-256 and moved into the cache atomically."""
    from torchvision.datasets import FashionMNIST

    target = cache_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=30 * 60):
        if _complete(target):
            return target
        old_timeout = socket.getdefaulttimeout()
        try:
            socket.setdefaulttimeout(settings.network_timeout())
            # an incomplete earlier cache folder is replaced whole, and only by a verified one
            with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fashion-mnist.") as scratch:
                for train in (True, False):
                    FashionMNIST(scratch, train=train, download=True)
                raw = Path(scratch) / "FashionMNIST" / "raw"
                with atomic_path(target, folder=True) as folder:
                    for name in SHA256:
                        source = _file_in(raw, name)
                        if source is None:
                            raise DatasetError(f"torchvision's download left no {name} in {raw}; {FIX}")
                        read_verified(source)
                        shutil.move(source, folder / source.name)
        except (
            OSError,
            RuntimeError,
            EOFError,
            zlib.error,
        ) as exc:  # RuntimeError: torchvision's MD5 or mirror failure
            raise DataUnavailableError(f"Fashion-MNIST: download failed ({exc}); {FIX}") from None
        finally:
            socket.setdefaulttimeout(old_timeout)
    return target


def fetch(progress: bool = True) -> Path:
    """The folder holding the four files, downloading them into the cache when allowed and needed."""
    folder = locate()
    if folder is not None:
        return folder
    if settings.offline():
        raise DataUnavailableError(
            f"Fashion-MNIST is not on this machine and offline mode (COURSE_OFFLINE=1) forbids downloads: {FIX}"
        )
    return _download_into_cache(progress)


@lru_cache(maxsize=2)
def _load(split: str, folder: str) -> LabelledImages:
    images_name, labels_name = FILES[split]
    x, y = _parse(
        read_verified(_file_in(Path(folder), images_name)), read_verified(_file_in(Path(folder), labels_name))
    )
    return LabelledImages(x, y, CLASSES, Path(folder))


def load_fashion_mnist(split: str = "train", progress: bool = True) -> LabelledImages:
    """Fashion-MNIST's ``"train"`` (60,000) or ``"test"`` (10,000) split as uint8 tensors, loaded once per process.

    Raises :class:`~course_utils.core.errors.DataUnavailableError` with both fixes when the files are
    missing (offline), and :class:`~course_utils.core.errors.DatasetError` naming a corrupt file.
    """
    if split not in FILES:
        raise DatasetError(f"split={split!r}: choose 'train' or 'test'")
    return _load(split, str(fetch(progress)))


def status() -> tuple[bool, str]:
    """For ``doctor``: whether the files are here, and where; missing is a FIX offline (notebooks 04, 09 and 10 stop)."""
    folder = locate()
    if folder is None:
        if settings.offline():
            return False, f"missing (notebooks 04, 09, 10 need it): {FIX}"
        return True, f"not here yet: downloaded on first use ({DOWNLOAD_SIZE / 2**20:.1f} MB), or {FIX}"
    where = "Debian package" if folder == package_dir() else "course cache"
    return True, f"{where}, {folder}"
