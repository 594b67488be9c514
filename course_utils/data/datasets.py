"""Image-classification datasets: a registry of downloadable ones, the bundled stand-in, your own folders.

Every dataset is a folder with one subfolder per class. ``course_dataset()`` gives the
fine-tuning dataset of the course: TensorFlow's ``flower_photos`` online (downloaded once,
verified, into ``$COURSE_DATA``, default ``~/.cache/course_utils``), the small bundled
``textures5`` under ``COURSE_OFFLINE=1`` (with a banner). ``ImageFolderDataset(path)`` opens
a learner's own folder and says clearly what is wrong with it.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from ..core import settings
from ..core.errors import DatasetError
from ..core.notebook import banner
from .download import download_file, safe_extract
from .images import IMAGE_SUFFIXES, load_image

__all__ = [
    "DatasetInfo",
    "ImageFolderDataset",
    "ImageSubset",
    "OFFLINE_DEFAULT",
    "ONLINE_DEFAULT",
    "REGISTRY",
    "course_dataset",
    "dataset_dir",
    "dataset_info",
    "split",
]


@dataclass(frozen=True)
class DatasetInfo:
    """One registry entry: where a dataset comes from and what it holds."""

    name: str
    url: str | None
    sha256: str | None
    size: int | None  # bytes of the archive
    licence: str
    classes: tuple[str, ...]
    description: str
    subfolder: str = ""  # the class folders' parent inside the extracted archive
    bundled: str | None = None  # path relative to data/ for datasets shipped with the course
    notes: str = field(default="", repr=False)


REGISTRY: dict[str, DatasetInfo] = {
    "flower_photos": DatasetInfo(
        name="flower_photos",
        url="https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz",
        # Size and SHA-256 as published in TensorFlow Datasets' checksum registry
        # (tensorflow_datasets/url_checksums/tf_flowers.txt); fetch() verifies them on every download.
        sha256="4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c",
        size=228_813_984,
        licence="CC-BY 2.0 (photos from Flickr; authors listed in the archive's LICENSE.txt)",
        classes=("daisy", "dandelion", "roses", "sunflowers", "tulips"),
        description="3,670 flower photos in 5 classes, from the TensorFlow image tutorials",
        subfolder="flower_photos",
        notes="The hash was not checked against a fresh download by the course's offline CI; "
        "a mismatch is reported by fetch() and the file removed.",
    ),
    "textures5": DatasetInfo(
        name="textures5",
        url=None,
        sha256=None,
        size=None,
        licence="CC0 / public domain (crops of scikit-image sample images; see data/ATTRIBUTION.md)",
        classes=("brick", "galaxies", "grass", "gravel", "tissue"),
        description="120 real photo crops (112 px) in 5 classes, bundled for offline use",
        bundled="textures5",
    ),
}

#: The dataset notebook 04 fine-tunes on when online.
ONLINE_DEFAULT = "flower_photos"
#: Its bundled stand-in under COURSE_OFFLINE=1.
OFFLINE_DEFAULT = "textures5"


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise DatasetError(
            f"unknown dataset {name!r}; choose one of {', '.join(REGISTRY)} "
            "or pass the path of your own folder (one subfolder per class)"
        ) from None


def dataset_dir(name: str, progress: bool = True) -> Path:
    """The folder of class subfolders of dataset ``name``, downloading and extracting it if needed."""
    info = dataset_info(name)
    if info.bundled:
        return settings.data_dir() / info.bundled
    cache = settings.data_cache_dir() / "datasets"
    folder = cache / info.name
    if not folder.is_dir():
        archive = download_file(info.url, cache / Path(info.url).name, info.sha256, size=info.size, progress=progress)
        safe_extract(archive, folder)
    return folder / info.subfolder if info.subfolder else folder


def _readable(path: Path) -> str | None:
    """``None`` when PIL can decode the file, else the reason.

    PNG files are checked by their checksums (``verify``), JPEG files decoded at 1/8 scale
    (fast, and it finds truncation), other formats decoded in full; decompression bombs count as unreadable.
    """
    try:
        if path.stat().st_size == 0:
            return "empty file"
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.format == "PNG":
                    img.verify()
                else:
                    if img.format == "JPEG":
                        img.draft("RGB", (max(1, img.size[0] // 8), max(1, img.size[1] // 8)))
                    img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return f"too many pixels ({exc})"
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        TypeError,
        IndexError,
        MemoryError,
    ) as exc:
        return str(exc) or type(exc).__name__
    return None


class ImageFolderDataset(Dataset):
    """A folder with one subfolder per class, as ``(image_tensor, label)`` pairs.

    Classes are the sorted subfolder names; files are sorted, so the order is the same on
    every machine. Every file is checked when the dataset is opened (``verify=True``): an
    empty class or an unreadable image raises :class:`DatasetError` listing the files, they
    are never dropped silently. ``transform`` maps an RGB PIL image to a tensor.
    """

    def __init__(
        self,
        root: str | Path,
        transform: Callable | None = None,
        verify: bool = True,
        classes: Sequence[str] | None = None,
    ) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise DatasetError(f"{root}: no such folder; pass a folder with one subfolder of images per class")
        found = sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if len(found) < 2:
            raise DatasetError(
                f"{root}: found {len(found)} class subfolder(s); a classifier needs at least 2 "
                "(one subfolder of images per class)"
            )
        if classes is not None and list(classes) != found:
            raise DatasetError(f"{root}: class folders {found} differ from the expected {list(classes)}")
        self.classes: list[str] = found
        self.samples: list[tuple[Path, int]] = []
        for label, cls in enumerate(found):
            files = sorted(
                p
                for p in (self.root / cls).iterdir()
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
            )
            if not files:
                raise DatasetError(
                    f"{self.root / cls}: class {cls!r} holds no images "
                    f"({', '.join(sorted(IMAGE_SUFFIXES))}); add some or remove the folder"
                )
            self.samples += [(f, label) for f in files]
        if verify:
            bad = [(p, why) for p, _ in self.samples if (why := _readable(p))]
            if bad:
                listing = "; ".join(f"{p} ({why})" for p, why in bad[:10])
                more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
                raise DatasetError(
                    f"{root}: {len(bad)} unreadable image(s): {listing}{more}. "
                    "Delete or re-save them, then open the dataset again"
                )
        self.transform = transform
        self.name = self.root.name

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor | Image.Image, int]:
        path, label = self.samples[index]
        img = load_image(path)
        return (self.transform(img) if self.transform else img), label

    @property
    def targets(self) -> list[int]:
        """The label of every sample, in order."""
        return [label for _, label in self.samples]

    def fingerprint(self) -> str:
        """A short hash of the file list (relative paths, sizes, labels): changes when the data changes."""
        digest = hashlib.sha256()
        for path, label in self.samples:
            digest.update(f"{path.relative_to(self.root).as_posix()}\0{path.stat().st_size}\0{label}\n".encode())
        return digest.hexdigest()[:16]

    def __repr__(self) -> str:
        return f"ImageFolderDataset({self.root}, {len(self)} images, classes={self.classes})"


class ImageSubset(Dataset):
    """Some samples of an :class:`ImageFolderDataset`, with their own ``transform``."""

    def __init__(self, base: ImageFolderDataset, indices: Sequence[int], transform: Callable | None = None) -> None:
        self.base, self.indices, self.transform = base, list(indices), transform
        self.classes, self.root = base.classes, base.root

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[torch.Tensor | Image.Image, int]:
        path, label = self.base.samples[self.indices[index]]
        img = load_image(path)
        transform = self.transform or self.base.transform
        return (transform(img) if transform else img), label

    @property
    def samples(self) -> list[tuple[Path, int]]:
        """``(path, label)`` of every sample in this subset."""
        return [self.base.samples[i] for i in self.indices]

    @property
    def targets(self) -> list[int]:
        """The label of every sample, in order."""
        return [label for _, label in self.samples]

    def fingerprint(self) -> str:
        """A hash of the base dataset and the chosen indices."""
        return hashlib.sha256(f"{self.base.fingerprint()}:{self.indices}".encode()).hexdigest()[:16]


def split(
    dataset: ImageFolderDataset, val_fraction: float = 0.25, seed: int = 0, per_class: int | None = None
) -> tuple[list[int], list[int]]:
    """Deterministic stratified split: ``(train_indices, val_indices)``.

    Each class is shuffled with its own seeded generator (the result does not depend on
    global RNG state), optionally cut to ``per_class`` images, then ``val_fraction`` of it
    goes to validation (at least one image per class on each side).
    """
    if not 0 < val_fraction < 1:
        raise DatasetError(f"val_fraction={val_fraction}: choose a number between 0 and 1, e.g. 0.25")
    train, val = [], []
    targets = dataset.targets
    for label in range(len(dataset.classes)):
        idx = [i for i, t in enumerate(targets) if t == label]
        g = torch.Generator().manual_seed(seed * 1000 + label)
        idx = [idx[i] for i in torch.randperm(len(idx), generator=g).tolist()][:per_class]
        if len(idx) < 2:
            raise DatasetError(f"class {dataset.classes[label]!r} has {len(idx)} image(s); a split needs at least 2")
        n_val = min(len(idx) - 1, max(1, round(len(idx) * val_fraction)))
        val += idx[:n_val]
        train += idx[n_val:]
    return sorted(train), sorted(val)


def course_dataset(
    name: str | None = None, transform: Callable | None = None, progress: bool = True, quiet: bool = False
) -> ImageFolderDataset:
    """The fine-tuning dataset: ``flower_photos`` online, the bundled ``textures5`` offline (with a banner).

    ``name`` picks a registry entry explicitly. Online, a failed download raises
    :class:`~course_utils.core.errors.DownloadError` with the fix (it never silently switches data).
    """
    if name is None:
        name = OFFLINE_DEFAULT if settings.offline() else ONLINE_DEFAULT
        if settings.offline() and not quiet:
            banner(
                f"Offline mode: the bundled stand-in dataset '{OFFLINE_DEFAULT}' ({REGISTRY[OFFLINE_DEFAULT].description}) "
                f"replaces '{ONLINE_DEFAULT}'. Numbers below are about the stand-in, not the flowers.",
                "warning",
            )
    info = dataset_info(name)
    data = ImageFolderDataset(dataset_dir(name, progress=progress), transform, classes=info.classes)
    data.name = name
    return data
