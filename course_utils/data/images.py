"""Turn whatever a learner has (path, URL, bytes, PIL image, array) into an RGB PIL image."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..core import settings
from ..core.errors import ImageLoadError

ImageInput = str | Path | bytes | bytearray | Image.Image | np.ndarray | torch.Tensor

#: File name endings treated as images when a folder is given.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

#: Largest download accepted for an image URL (bytes).
MAX_URL_BYTES = 50 * 1024 * 1024

#: The bundled photos (``data/images``) and the ImageNet class that is correct for them.
SAMPLE_IMAGES = {
    "chelsea": "chelsea.jpg",
    "coffee": "coffee.jpg",
    "rocket": "rocket.jpg",
    "astronaut": "astronaut.jpg",
    "grace_hopper": "grace_hopper.jpg",
}


#: ImageNet classes that count as correct for the bundled photos (used by asserts and tests).
EXPECTED_CLASSES = {
    "chelsea": frozenset({"tabby", "tiger cat", "Egyptian cat"}),
    "coffee": frozenset({"espresso"}),
}


def sample_path(name: str) -> Path:
    """Path of a bundled photo by short name (``chelsea``, ``coffee``, …)."""
    try:
        return settings.data_dir() / "images" / SAMPLE_IMAGES[name]
    except KeyError:
        raise ImageLoadError(f"no bundled image called {name!r}; choose one of {', '.join(SAMPLE_IMAGES)}") from None


def sample_image(name: str) -> Image.Image:
    """A bundled photo as an RGB PIL image."""
    return load_image(sample_path(name))


def sample_images() -> dict[str, Image.Image]:
    """All bundled photos, ``{name: RGB image}``, in a fixed order."""
    return {name: sample_image(name) for name in SAMPLE_IMAGES}


def _describe(src: object) -> str:
    if isinstance(src, (str, Path)):
        return str(src)
    if isinstance(src, (bytes, bytearray)):
        return f"<{len(src)} bytes>"
    if isinstance(src, (np.ndarray, torch.Tensor)):
        return f"<{type(src).__name__} of shape {tuple(src.shape)}>"
    return f"<{type(src).__name__}>"


#: File signatures, to say which format a file claims to be when PIL cannot read it.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def _unreadable(name: str, head: bytes) -> str:
    """Why PIL cannot identify a file that starts with ``head``, in a learner's words."""
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text[:1024]:
        return (
            f"{name}: is an HTML page (a web page, often a download error or a login page), not an image; "
            "open the address in a browser and save the picture itself"
        )
    if b"<svg" in text[:1024]:
        return f"{name}: is an SVG (vector) drawing, which PIL cannot read; convert it to PNG first"
    fmt = next((f for sig, f in _SIGNATURES if head.startswith(sig)), None)
    if fmt is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        fmt = "WebP"
    if fmt is None and head[:2] == b"BM" and head[6:10] == b"\x00" * 4:  # BMP: reserved header bytes are zero
        fmt = "BMP"
    if fmt:
        return f"{name}: starts like a {fmt} file but is damaged or truncated; re-save or re-download it"
    return f"{name}: not an image file PIL can read (JPEG, PNG, GIF, BMP, TIFF, WebP …)"


def _read_url(url: str) -> bytes:
    if settings.offline():
        raise ImageLoadError(
            f"{url}: offline mode (COURSE_OFFLINE=1) forbids downloads; "
            "save the image to a file and pass its path instead"
        )
    try:
        with urllib.request.urlopen(url, timeout=settings.network_timeout()) as response:
            data = response.read(MAX_URL_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ImageLoadError(f"{url}: could not download ({exc}); check the address and your connection") from None
    if len(data) > MAX_URL_BYTES:
        raise ImageLoadError(f"{url}: larger than {MAX_URL_BYTES // 2**20} MB; download it yourself")
    return data


def _array_to_image(arr: np.ndarray, name: str) -> Image.Image:
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = np.moveaxis(arr, 0, -1)  # CHW → HWC
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ImageLoadError(f"{name}: expected an array of shape (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
    if arr.size == 0:
        raise ImageLoadError(f"{name}: the array is empty")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ImageLoadError(f"{name}: the array holds NaN or infinite values")
        if arr.min() < 0 or arr.max() > 1:
            raise ImageLoadError(
                f"{name}: float arrays must hold values in [0, 1], got [{arr.min():.3g}, {arr.max():.3g}]"
            )
        arr = np.round(arr * 255).astype(np.uint8)
    elif arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype != np.uint8:
        if arr.min() < 0 or arr.max() > 255:
            raise ImageLoadError(f"{name}: integer arrays must hold values in 0..255 (dtype {arr.dtype})")
        arr = arr.astype(np.uint8)
    return to_rgb(Image.fromarray(np.ascontiguousarray(arr)))


def _high_bit_depth_to_l(img: Image.Image) -> Image.Image:
    """16/32-bit grey (modes I;16*, I, F) → 8-bit L, scaled by the mode's range."""
    arr = np.asarray(img)
    if img.mode == "F":
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        scaled = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(scaled.astype(np.uint8))
    top = 65535 if img.mode.startswith("I;16") or arr.max() <= 65535 else int(arr.max())
    return Image.fromarray((arr.astype(np.float64) / top * 255).round().clip(0, 255).astype(np.uint8))


def to_rgb(img: Image.Image) -> Image.Image:
    """Apply EXIF orientation, flatten transparency onto white, and convert to RGB."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        img = _high_bit_depth_to_l(img)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return img.convert("RGB") if img.mode != "RGB" else img


def load_image(src: ImageInput) -> Image.Image:
    """Load ``src`` as an RGB PIL image, or raise :class:`ImageLoadError` naming it.

    Accepts a file path, an ``http(s)://`` URL (not in offline mode), raw bytes, a PIL
    image, a NumPy array (HW, HWC or CHW; uint8, uint16, bool or float in [0, 1]) or a
    torch tensor. Grey, palette, transparent, CMYK, 16-bit and EXIF-rotated images all come
    out as correctly oriented RGB; animated or multi-page files give their first frame.
    """
    name = _describe(src)
    if isinstance(src, Image.Image):
        return _decode(lambda: src, name)
    if isinstance(src, torch.Tensor):
        return _array_to_image(src.detach().cpu().numpy(), name)
    if isinstance(src, np.ndarray):
        return _array_to_image(src, name)
    if isinstance(src, (bytes, bytearray)):
        if not src:
            raise ImageLoadError(f"{name}: no data (zero bytes)")
        return _decode(lambda: Image.open(io.BytesIO(bytes(src))), name, lambda: bytes(src[:2048]))
    if isinstance(src, str) and src.lower().startswith(("http://", "https://")):
        data = _read_url(src)
        return _decode(lambda: Image.open(io.BytesIO(data)), name, lambda: data[:2048])
    if isinstance(src, (str, Path)):
        path = Path(src).expanduser()
        if not path.exists():
            raise ImageLoadError(f"{name}: no such file; check the path (relative paths start at {Path.cwd()})")
        if path.is_dir():
            raise ImageLoadError(f"{name}: is a folder; pass a single image file (or use load_images for folders)")
        if path.stat().st_size == 0:
            raise ImageLoadError(f"{name}: the file is empty (0 bytes)")
        return _decode(lambda: Image.open(path), name, lambda: _head(path))
    raise ImageLoadError(
        f"{name}: cannot load an image from a {type(src).__name__}; pass a path, URL, bytes, PIL image or array"
    )


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(2048)
    except OSError:
        return b""


def _decode(opener, name: str, head=lambda: b"") -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = opener()
            img.seek(0) if getattr(img, "n_frames", 1) > 1 else None
            img.load()
            return to_rgb(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(f"{name}: too many pixels ({exc}); resize it before loading") from None
    except UnidentifiedImageError:
        raise ImageLoadError(_unreadable(name, head())) from None
    except ImageLoadError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError, MemoryError) as exc:
        raise ImageLoadError(f"{name}: the image is damaged or truncated ({exc}); re-save or re-download it") from None


def image_files(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise ImageLoadError(f"{folder}: not a folder")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImageLoadError(f"{folder}: holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def load_images(items: str | Path | Iterable[ImageInput] | ImageInput) -> list[Image.Image]:
    """Load a folder of images, one image, or every item of a list, as RGB images."""
    if isinstance(items, (str, Path)) and Path(items).expanduser().is_dir():
        items = image_files(items)
    elif isinstance(items, (str, Path, bytes, bytearray, Image.Image, np.ndarray, torch.Tensor)):
        items = [items]
    return [load_image(item) for item in items]


def to_batch(images: str | Path | Iterable[ImageInput] | ImageInput, preprocess: Callable) -> torch.Tensor:
    """Load images (a folder, one image or a list) and preprocess them into one float batch ``[N, 3, H, W]``.

    ``preprocess`` maps an RGB PIL image to a ``[3, H, W]`` tensor, e.g. ``weights.transforms()`` or a
    Classifier's ``.preprocess``.
    """
    if not callable(preprocess):
        raise ImageLoadError(f"preprocess={preprocess!r}: pass the model's transforms, e.g. clf.preprocess")
    return torch.stack([preprocess(img) for img in load_images(images)])
