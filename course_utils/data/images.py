"""Turn whatever a learner has (path, URL, bytes, PIL image, array) into an RGB PIL image, and images into a batch.

:func:`load_image` reads one image; :func:`to_batch` is the one way from images to a preprocessed batch, used by
every helper that takes images (``predict``, ``predict_proba``, ``feature_maps``, ``grad_cam``,
``extract_embeddings``). A tensor means one thing everywhere: a **4-D tensor** ``[N, C, H, W]`` is a batch that is
already preprocessed; a **2-D or 3-D tensor** (``[H, W]``, ``[C, H, W]`` or ``[H, W, C]``) is **one raw image**,
pixels as :func:`load_image` reads them (uint8 0..255 or float in [0, 1]), still to be preprocessed.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..core import settings
from ..core.errors import CourseError, ImageLoadError, InputShapeError
from ..core.validate import check_batch
from .download import read_url

__all__ = [
    "EXPECTED_CLASSES",
    "IMAGE_SUFFIXES",
    "ImageInput",
    "Images",
    "MAX_URL_BYTES",
    "SAMPLE_IMAGES",
    "image_files",
    "image_sources",
    "load_image",
    "load_images",
    "normalise_pil",
    "sample_image",
    "sample_images",
    "sample_path",
    "to_batch",
]

#: One image, as :func:`load_image` accepts it (a tensor of 2 or 3 dimensions: raw pixels).
ImageInput = str | Path | bytes | bytearray | Image.Image | np.ndarray | torch.Tensor
#: What :func:`to_batch` accepts: one image, a folder, a list of images, or a preprocessed batch ``[N, C, H, W]``.
Images = ImageInput | Iterable[ImageInput]

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
    return read_url(url, MAX_URL_BYTES, error=ImageLoadError)  # the one download path (data.download)


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
    return normalise_pil(Image.fromarray(np.ascontiguousarray(arr)))


def _high_bit_depth_to_l(img: Image.Image) -> Image.Image:
    """16/32-bit grey (modes I;16*, I, F) → 8-bit L, scaled by the mode's range."""
    arr = np.asarray(img)
    if img.mode == "F":
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        scaled = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(scaled.astype(np.uint8))
    top = 65535 if img.mode.startswith("I;16") or arr.max() <= 65535 else int(arr.max())
    return Image.fromarray((arr.astype(np.float64) / top * 255).round().clip(0, 255).astype(np.uint8))


def normalise_pil(img: Image.Image) -> Image.Image:
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
    torch tensor of raw pixels, read as the array (a 4-D tensor is a preprocessed batch, not
    one image: see :func:`to_batch`). Grey, palette, transparent, CMYK, 16-bit and EXIF-rotated
    images all come out as correctly oriented RGB; animated or multi-page files give their first frame.
    """
    name = _describe(src)
    if isinstance(src, Image.Image):
        return _decode(lambda: src, name)
    if isinstance(src, torch.Tensor):
        if src.ndim == 4:
            raise ImageLoadError(
                f"{name}: expected an array of shape (H, W), (H, W, 3) or (H, W, 4) (one image); a 4-D tensor "
                "[N, C, H, W] is a batch of preprocessed images: pass it to predict_proba, feature_maps, … as it "
                "is, or take one image of it, x[0]"
            )
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
            return normalise_pil(img)
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


def image_sources(images: Images) -> list[ImageInput]:
    """The images in ``images``, one item per image, not yet loaded: the image files of a folder, ``[images]`` for
    one image (a path, URL, bytes, PIL image, array or 2-D/3-D tensor), else the items of the iterable.

    A 4-D tensor is a preprocessed batch, not a list of images: :class:`InputShapeError`
    (:func:`to_batch` takes it as it is).
    """
    if isinstance(images, torch.Tensor) and images.ndim == 4:
        raise InputShapeError(
            f"a 4-D tensor {tuple(images.shape)} is a batch of preprocessed images, not images to load: "
            "give it to the helper as it is (predict_proba, feature_maps, …) or pass the images themselves"
        )
    if isinstance(images, (str, Path)) and Path(images).expanduser().is_dir():
        return list(image_files(images))
    if isinstance(images, (str, Path, bytes, bytearray, Image.Image, np.ndarray, torch.Tensor)):
        return [images]
    return list(images)


def load_images(items: Images) -> list[Image.Image]:
    """Load a folder of images, one image, or every item of a list, as RGB images (see :func:`image_sources`)."""
    return [load_image(item) for item in image_sources(items)]


def _looks_preprocessed(src: object) -> tuple[float, float] | None:
    """``(min, max)`` of a float tensor of 2 or 3 dimensions whose values leave [0, 1] (normalised pixels), else None."""
    if isinstance(src, torch.Tensor) and src.ndim in (2, 3) and src.is_floating_point() and src.numel():
        lo, hi = float(src.min()), float(src.max())
        if lo < 0 or hi > 1:
            return lo, hi
    return None


def _preprocessed(src: ImageInput, preprocess: Callable, where: str, error: type[CourseError]) -> torch.Tensor:
    """``preprocess(load_image(src))``, with a pointer to the batch form when ``src`` looks preprocessed already."""
    found = _looks_preprocessed(src)
    if found is not None:
        raise error(
            f"{where}: a tensor of {src.ndim} dimensions is read as one raw image (pixels: uint8 0..255 or "
            f"float in [0, 1]), but this one, of shape {tuple(src.shape)}, holds values in "
            f"[{found[0]:.3g}, {found[1]:.3g}]: it looks preprocessed already. A preprocessed batch has 4 "
            "dimensions [N, C, H, W]: for one image add the batch dimension, x.unsqueeze(0)"
        )
    out = preprocess(load_image(src))
    if not isinstance(out, torch.Tensor) or out.ndim != 3:
        got = f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else f"a {type(out).__name__}"
        raise error(
            f"{where}: preprocess must turn an RGB PIL image into a tensor [C, H, W], but it gave {got}; "
            "use the model's transforms, e.g. clf.preprocess or weights.transforms()"
        )
    return out


def to_batch(
    images: Images,
    preprocess: Callable | None = None,
    *,
    where: str = "to_batch",
    error: type[CourseError] = InputShapeError,
    channels: int | None = None,
    min_size: int | None = None,
) -> torch.Tensor:
    """Images as one preprocessed float batch ``[N, C, H, W]``: the one way from images to a batch.

    ``images`` is one image (a path, URL, bytes, PIL image, NumPy array or tensor), a folder (its image files,
    sorted by name), a list (any iterable) of images, or a preprocessed batch. **A tensor means one thing**:

    * 4 dimensions ``[N, C, H, W]``: a batch that is already preprocessed; it is checked and returned as it is
      (``preprocess`` is not applied);
    * 2 or 3 dimensions (``[H, W]``, ``[C, H, W]``, ``[H, W, C]``): **one raw image**, uint8 0..255 or float in
      [0, 1], loaded as :func:`load_image` loads it and preprocessed like any other image. A 3-D tensor that is
      preprocessed already (values outside [0, 1]) is refused with the fix: ``x.unsqueeze(0)``.

    Every image is loaded with :func:`load_image` and mapped by ``preprocess`` (an RGB PIL image → a
    ``[C, H, W]`` tensor, e.g. ``weights.transforms()`` or a Classifier's ``.preprocess``), then stacked. The
    batch is checked with :func:`~course_utils.core.validate.check_batch` (``channels``, ``min_size``), and
    problems are raised as ``error`` naming ``where`` (the helper that was called).
    """
    if isinstance(images, torch.Tensor) and images.ndim != 2 and images.ndim != 3:
        return check_batch(images, where, channels=channels, min_size=min_size, error=error)
    if preprocess is None:
        raise error(
            f"{where}: images need preprocessing: pass preprocess= (e.g. weights.transforms()) or a Classifier, "
            "or a batch that is preprocessed already [N, C, H, W]"
        )
    if not callable(preprocess):
        raise ImageLoadError(f"preprocess={preprocess!r}: pass the model's transforms, e.g. clf.preprocess")
    items = image_sources(images)
    if not items:
        raise error(f"{where}: no images: pass at least one (a path, a PIL image, a list of them or a folder)")
    tensors = [_preprocessed(item, preprocess, where, error) for item in items]
    sizes = sorted({tuple(t.shape) for t in tensors})
    if len(sizes) > 1:
        raise error(
            f"{where}: preprocess gave images of different shapes {sizes[:3]}; images in one batch need one "
            "size: use a preprocess that resizes and crops (e.g. the model's weights.transforms())"
        )
    return check_batch(torch.stack(tensors), where, channels=channels, min_size=min_size, error=error)
