"""load_image on real files of every awkward kind: correct RGB out, or a course error naming the input."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image

from course_utils.core.errors import CourseError, ImageLoadError
from course_utils.data.images import (
    EXPECTED_CLASSES,
    SAMPLE_IMAGES,
    image_files,
    load_image,
    load_images,
    normalise_pil,
    sample_image,
    sample_images,
    sample_path,
)


def _save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


def _gradient(w=40, h=30) -> Image.Image:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    arr[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    arr[..., 2] = 100
    return Image.fromarray(arr)


def test_sample_images_are_bundled_and_rgb():
    photos = sample_images()
    assert list(photos) == list(SAMPLE_IMAGES)
    for name, img in photos.items():
        assert img.mode == "RGB" and min(img.size) >= 200, name
        assert sample_path(name).stat().st_size < 200_000
    assert set(EXPECTED_CLASSES) <= set(SAMPLE_IMAGES)
    assert sample_image("chelsea").size == (451, 300)


def test_unknown_sample_name():
    with pytest.raises(ImageLoadError, match="chelsea"):
        sample_path("dog")


def test_path_string_and_bytes_agree(tmp_path):
    path = _save(_gradient(), tmp_path / "g.png")
    a = np.asarray(load_image(path))
    b = np.asarray(load_image(str(path)))
    c = np.asarray(load_image(path.read_bytes()))
    d = np.asarray(load_image(bytearray(path.read_bytes())))
    assert a.shape == (30, 40, 3) and (a == b).all() and (a == c).all() and (a == d).all()


def test_grayscale_becomes_three_equal_channels(tmp_path):
    grey = _gradient().convert("L")
    out = np.asarray(load_image(_save(grey, tmp_path / "grey.png")))
    assert out.shape == (30, 40, 3)
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    assert (out[..., 0] == np.asarray(grey)).all()


@pytest.mark.parametrize("mode", ["RGBA", "LA", "PA"])
def test_transparency_is_flattened_onto_white(tmp_path, mode):
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))  # fully transparent red
    rgba.paste((0, 0, 255, 255), (0, 0, 5, 10))  # opaque blue left half
    src = rgba if mode == "RGBA" else (rgba.convert("LA") if mode == "LA" else rgba.convert("P").convert("PA"))
    path = tmp_path / f"t_{mode}.png"
    if mode == "PA":
        src = rgba.quantize(colors=4)
        src.info["transparency"] = 0
        path = _save(src, path, transparency=src.getpixel((9, 9)))
    else:
        _save(src, path)
    out = np.asarray(load_image(path))
    assert out.shape == (10, 10, 3)
    assert (out[:, 8] == 255).all(), f"{mode}: transparent pixels must become white, got {out[0, 8]}"
    assert out[0, 1].tolist() != [255, 255, 255]


def test_cmyk_jpeg(tmp_path):
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    out = np.asarray(load_image(_save(cmyk, tmp_path / "cmyk.jpg")))
    assert out.shape == (16, 16, 3)
    r, g, b = out[8, 8].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    arr = np.linspace(0, 65535, 64 * 8, dtype=np.uint16).reshape(8, 64)
    path = _save(Image.fromarray(arr), tmp_path / "deep.png")
    assert Image.open(path).mode.startswith("I")
    out = np.asarray(load_image(path))[..., 0]
    assert out.min() == 0 and out.max() == 255
    assert 120 <= out[:, 32].mean() <= 135  # midpoint stays mid-grey (clipping would give 255)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path, orientation):
    base = Image.new("RGB", (40, 20), "white")
    base.paste((255, 0, 0), (0, 0, 10, 10))  # red square top-left of the upright image
    # Store the image as a camera would: pixels transformed the inverse way, tag says how to undo it.
    inverse = {
        1: None,
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_90,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_270,
    }[orientation]
    stored = base.transpose(inverse) if inverse is not None else base
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = load_image(_save(stored, tmp_path / f"o{orientation}.png", exif=exif.tobytes()))
    assert out.size == (40, 20), f"orientation {orientation}: size {out.size}"
    arr = np.asarray(out)
    assert arr[2, 2, 0] > 200 and arr[2, 2, 1] < 60, f"orientation {orientation}: red square not top-left"


def test_palette_and_animated_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    out = np.asarray(load_image(path))
    assert out.shape == (8, 8, 3) and out[0, 0, 0] > 200 and out[0, 0, 1] < 50


def test_arrays_and_tensors():
    hwc = np.zeros((5, 6, 3), np.uint8)
    hwc[..., 1] = 200
    assert np.asarray(load_image(hwc))[0, 0].tolist() == [0, 200, 0]
    assert load_image(np.ones((5, 6), np.float32)).getpixel((0, 0)) == (255, 255, 255)
    chw = torch.zeros(3, 5, 6)
    chw[2] = 1.0
    assert load_image(chw).getpixel((1, 1)) == (0, 0, 255)
    assert load_image(np.full((4, 4, 4), 255, np.uint8)).mode == "RGB"
    assert load_image(np.full((4, 4), 65535, np.uint16)).getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((2, 3, 4, 5)), "expected an array of shape"),
        (np.full((4, 4, 3), 2.0), r"values in \[0, 1\]"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.full((4, 4), -3, np.int32), "0..255"),
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (b"", "zero bytes"),
        (12345, "cannot load an image from a int"),
    ],
)
def test_bad_arrays_and_types(bad, message):
    with pytest.raises(ImageLoadError, match=message):
        load_image(bad)


def test_bad_files_raise_course_errors_naming_the_file(tmp_path):
    good = _save(_gradient(200, 200), tmp_path / "good.jpg", quality=90)
    data = good.read_bytes()
    cases = {
        "missing.jpg": None,
        "empty.jpg": b"",
        "text.jpg": b"hello, I am not a picture\n" * 10,
        "error page.jpg": b"<!DOCTYPE html><html><body>404 Not Found</body></html>",
        "truncated.jpg": data[: len(data) // 2],
        "truncated.png": _save(_gradient(200, 200), tmp_path / "full.png").read_bytes()[:300],
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        start = time.perf_counter()
        with pytest.raises(ImageLoadError) as info:
            load_image(path)
        assert time.perf_counter() - start < 5
        assert name in str(info.value), str(info.value)
        assert isinstance(info.value, CourseError)
    with pytest.raises(ImageLoadError, match="is a folder"):
        load_image(tmp_path)


def test_decompression_bomb_is_refused(tmp_path):
    # A small file that claims a huge size: 1-bit PNG, 20000 × 20000 pixels (~50 KB compressed).
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(path, optimize=True)
    assert path.stat().st_size < 1_000_000
    with pytest.raises(ImageLoadError, match="too many pixels"):
        load_image(path)


def test_url_is_refused_offline(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(ImageLoadError, match="offline mode"):
        load_image("https://example.com/cat.jpg")


def test_url_from_local_server(monkeypatch, tmp_path, file_server):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    _save(_gradient(), tmp_path / "g.png")
    base = file_server(tmp_path)
    assert load_image(f"{base}/g.png").size == (40, 30)
    with pytest.raises(ImageLoadError, match="could not download"):
        load_image(f"{base}/missing.png")


def test_folders_and_lists(tmp_path):
    for i in range(3):
        _save(_gradient(10 + i, 10), tmp_path / f"{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    assert [p.name for p in image_files(tmp_path)] == ["0.png", "1.png", "2.png"]
    assert [im.size for im in load_images(tmp_path)] == [(10, 10), (11, 10), (12, 10)]
    assert len(load_images([tmp_path / "0.png", _gradient()])) == 2
    assert len(load_images(tmp_path / "0.png")) == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageLoadError, match="holds no image files"):
        image_files(tmp_path / "empty")


def test_to_rgb_keeps_rgb_untouched():
    img = _gradient()
    assert normalise_pil(img).tobytes() == img.tobytes()
