"""A corpus of malformed and unusual image files, written into a folder by the tests (nothing binary is committed).

``build(folder)`` writes every case and returns ``[Case]``. A case either loads as a known RGB
picture (``expected`` array, compared with a tolerance for lossy formats) or must raise the
course's :class:`~course_utils.core.errors.ImageLoadError` whose message names the file and
matches ``problem``.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, features

#: EXIF orientation → how a viewer turns the stored pixels into the picture (EXIF 2.3, tag 0x0112).
EXIF_TO_DISPLAY: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: np.fliplr,
    3: lambda a: np.rot90(a, 2),
    4: np.flipud,
    5: lambda a: np.swapaxes(a, 0, 1),  # transpose
    6: lambda a: np.rot90(a, -1),  # rotate 90° clockwise
    7: lambda a: np.rot90(np.swapaxes(a, 0, 1), 2),  # transverse
    8: lambda a: np.rot90(a, 1),  # rotate 90° anticlockwise
}


@dataclass
class Case:
    """One corpus file and what loading it must give."""

    name: str
    path: Path
    expected: np.ndarray | None = None  # HxWx3 uint8 when the file must load
    tolerance: float = 0.0  # mean absolute difference allowed (lossy formats)
    problem: str = ""  # regex the error message must match when the file must not load

    @property
    def must_load(self) -> bool:
        return self.expected is not None


def picture(w: int = 48, h: int = 32) -> np.ndarray:
    """An asymmetric test picture: four solid quadrants (red, green, blue, yellow), so every flip shows."""
    a = np.zeros((h, w, 3), np.uint8)
    a[: h // 2, : w // 2] = (220, 30, 30)
    a[: h // 2, w // 2 :] = (30, 200, 40)
    a[h // 2 :, : w // 2] = (40, 40, 210)
    a[h // 2 :, w // 2 :] = (230, 220, 40)
    return a


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _white_composite(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.float64) / 255
    a = a[..., None] if rgb.ndim == 3 else a
    return np.round(rgb * a + 255 * (1 - a)).astype(np.uint8)


def build(folder: Path) -> list[Case]:
    """Write the corpus into ``folder`` and return its cases."""
    folder.mkdir(parents=True, exist_ok=True)
    pic = picture()
    img = Image.fromarray(pic)
    jpeg = _encode(img, "JPEG", quality=95)
    png = _encode(img, "PNG")
    cases: list[Case] = []

    def add(name: str, data: bytes | None, **kw) -> None:
        path = folder / name
        if data is not None:
            path.write_bytes(data)
        cases.append(Case(name, path, **kw))

    # Files that must load, as the right RGB picture.
    add("plain.png", png, expected=pic)
    add("plain.jpg", jpeg, expected=pic, tolerance=4)
    add("png named as.jpg", png, expected=pic)
    add("my photo 🐱 Ünïcödé.png", png, expected=pic)
    add("cmyk.jpg", _encode(img.convert("CMYK"), "JPEG", quality=95), expected=pic, tolerance=6)
    grey16 = (np.arange(32 * 48, dtype=np.uint32).reshape(32, 48) * 40).astype(np.uint16)
    grey8 = np.round(grey16 / 65535 * 255).astype(np.uint8)
    add("grey16.png", _encode(Image.fromarray(grey16), "PNG"), expected=np.repeat(grey8[..., None], 3, 2), tolerance=1)
    add(
        "grey16.tif",
        _encode(Image.fromarray(grey16).convert("I;16"), "TIFF"),
        expected=np.repeat(grey8[..., None], 3, 2),
        tolerance=1,
    )
    pal = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    pal_arr = np.asarray(pal.convert("RGB")).copy()
    top_left = np.asarray(pal)[0, 0]
    pal.info["transparency"] = int(top_left)
    mask = np.asarray(pal) == top_left
    pal_arr[mask] = 255
    add("palette-transparent.png", _encode(pal, "PNG", transparency=int(top_left)), expected=pal_arr)
    grey = np.asarray(img.convert("L"))
    alpha = np.tile(np.linspace(0, 255, 48).astype(np.uint8), (32, 1))
    la = Image.merge("LA", (Image.fromarray(grey), Image.fromarray(alpha)))
    add(
        "grey-alpha-LA.png",
        _encode(la, "PNG"),
        expected=np.repeat(_white_composite(grey, alpha)[..., None], 3, 2),
        tolerance=1,
    )
    rgba = Image.fromarray(np.dstack([pic, alpha]))
    add("rgba.png", _encode(rgba, "PNG"), expected=_white_composite(pic, alpha), tolerance=1)
    add(
        "fully-transparent.png",
        _encode(Image.new("RGBA", (5, 4), (200, 0, 0, 0)), "PNG"),
        expected=np.full((4, 5, 3), 255, np.uint8),
    )
    bits = Image.fromarray(grey > 128)
    add(
        "one-bit.png",
        _encode(bits, "PNG"),
        expected=np.repeat(np.where(grey > 128, 255, 0).astype(np.uint8)[..., None], 3, 2),
    )
    floats = Image.fromarray(np.linspace(0, 1, 32 * 48, dtype=np.float32).reshape(32, 48), "F")
    f8 = (np.linspace(0, 1, 32 * 48).reshape(32, 48) * 255).astype(np.uint8)
    add("float32.tif", _encode(floats, "TIFF"), expected=np.repeat(f8[..., None], 3, 2), tolerance=1)
    for orientation, to_display in EXIF_TO_DISPLAY.items():
        # Store the pixels so that a correct viewer shows ``pic``: stored = display⁻¹(pic).
        stored = next(s for s in _dihedral(pic) if np.array_equal(to_display(s), pic))
        exif = Image.Exif()
        exif[0x0112] = orientation
        add(
            f"exif-orientation-{orientation}.jpg",
            _encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif),
            expected=pic,
            tolerance=4,
        )
    add(
        "one-pixel.png",
        _encode(Image.new("RGB", (1, 1), (12, 34, 56)), "PNG"),
        expected=np.array([[[12, 34, 56]]], np.uint8),
    )
    frames = [Image.new("RGB", (8, 6), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    add(
        "animated.gif",
        _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0),
        expected=np.full((6, 8, 3), (255, 0, 0), np.uint8),
    )
    add(
        "multipage.tif",
        _encode(frames[1], "TIFF", save_all=True, append_images=[frames[2], frames[0]]),
        expected=np.full((6, 8, 3), (0, 255, 0), np.uint8),
    )
    if features.check("webp"):
        add("lossless.webp", _encode(img, "WEBP", lossless=True), expected=pic)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    add("with-srgb-icc.jpg", _encode(img, "JPEG", quality=95, icc_profile=srgb), expected=pic, tolerance=4)
    add("with-broken-icc.png", _encode(img, "PNG", icc_profile=b"not an ICC profile" * 4), expected=pic)

    # Files that must be refused with the course's error.
    add("truncated.jpg", jpeg[: len(jpeg) // 2], problem="damaged or truncated")
    add("truncated.png", png[: len(png) // 2], problem="damaged or truncated")
    gif = _encode(frames[0], "GIF")
    add("truncated.gif", gif[: len(gif) - 12], problem="damaged or truncated")
    add("header-only.png", png[:33], problem="damaged or truncated")
    add("zero-bytes.jpg", b"", problem="empty")
    add("notes.jpg", b"These are my notes, not a picture.\n" * 20, problem="not an image")
    add(
        "error-page.jpg",
        b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
        b"<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>\n",
        problem="HTML",
    )
    add(
        "random-bytes.png",
        np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        problem="not an image",
    )
    ihdr = struct.pack(">IIBBBBB", 40_000, 40_000, 8, 2, 0, 0, 0)
    add(
        "decompression-bomb.png",
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b""),
        problem="too many pixels",
    )
    ihdr = struct.pack(">IIBBBBB", 10_000, 10_000, 8, 0, 0, 0, 0)  # 100 Mpx: above PIL's warning limit
    add(
        "large-100mpx.png",
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b""),
        problem="too many pixels",
    )
    add(
        "vector.jpg",
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>\n',
        problem="SVG",
    )
    big_gif = bytearray(gif)
    big_gif[6:10] = struct.pack("<HH", 65535, 65535)
    add("decompression-bomb.gif", bytes(big_gif), problem="too many pixels")
    broken = bytearray(png)
    idat = broken.index(b"IDAT") + 8
    broken[idat : idat + 6] = b"\xff" * 6
    add("corrupt-data.png", bytes(broken), problem="damaged or truncated")
    (folder / "a folder.jpg").mkdir()
    add("a folder.jpg", None, problem="is a folder")
    add("does-not-exist.jpg", None, problem="no such file")
    loop = folder / "link-loop.jpg"
    loop.symlink_to(loop.name)
    add("link-loop.jpg", None, problem="no such file|link")
    return cases


def _dihedral(a: np.ndarray):
    """The 8 rotations and mirror images of ``a``."""
    for flip in (False, True):
        for k in range(4):
            yield np.rot90(np.fliplr(a) if flip else a, k)


def seeds() -> dict[str, bytes]:
    """Small valid files of each format, the starting points for fuzzing."""
    img = Image.fromarray(picture(16, 12))
    out = {
        "png": _encode(img, "PNG"),
        "jpeg": _encode(img, "JPEG", quality=80),
        "gif": _encode(img, "GIF"),
        "bmp": _encode(img, "BMP"),
        "tiff": _encode(img, "TIFF"),
    }
    if features.check("webp"):
        out["webp"] = _encode(img, "WEBP", lossless=True)
    return out
