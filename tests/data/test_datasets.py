"""course_utils.data.datasets: the registry, the bundled stand-in, learners' folders, splits, a real download chain."""

from __future__ import annotations

import hashlib
import http.server
import io
import re
import tarfile
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_utils.core import settings
from course_utils.core.errors import CourseError, DatasetError, DownloadError
from course_utils.data import datasets
from course_utils.data.datasets import (
    REGISTRY,
    DatasetInfo,
    ImageFolderDataset,
    course_dataset,
    dataset_dir,
    split,
)


def test_registry_entries_are_complete():
    for name, info in REGISTRY.items():
        assert info.name == name and info.licence and len(info.classes) == 5
        if info.bundled:
            assert (settings.data_dir() / info.bundled).is_dir()
        else:
            assert info.url and info.url.startswith("https://")
            assert re.fullmatch(r"[0-9a-f]{64}", info.sha256) and info.size > 0
    flowers = REGISTRY["flower_photos"]
    assert flowers.classes == ("daisy", "dandelion", "roses", "sunflowers", "tulips")
    assert "CC-BY 2.0" in flowers.licence
    assert flowers.url == "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz"


def test_bundled_dataset_is_small_real_and_documented():
    folder = settings.data_dir() / "textures5"
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 2 * 2**20
    data = ImageFolderDataset(folder)
    assert data.classes == list(REGISTRY["textures5"].classes) and len(data) == len(files) >= 100
    counts = np.bincount(data.targets)
    assert counts.min() >= 20, "every class needs enough images for a split"
    img, label = data[0]
    arr = np.asarray(img, dtype=np.float32)
    assert img.mode == "RGB" and arr.std() > 10, "a real photo crop, not a flat colour"
    attribution = (settings.data_dir() / "ATTRIBUTION.md").read_text()
    assert "textures5" in attribution and "CC0" in attribution


def test_course_dataset_offline_is_the_stand_in_with_banner(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = course_dataset()
    assert data.name == "textures5"
    assert any("stand-in" in str(w.message) for w in caught)


def test_flowers_offline_fails_fast_with_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    with pytest.raises(DownloadError, match="pre-fetch"):
        dataset_dir("flower_photos")


def test_split_is_deterministic_stratified_and_disjoint():
    data = course_dataset("textures5")
    train, val = split(data, 0.25, seed=0)
    assert (train, val) == split(data, 0.25, seed=0)
    assert split(data, 0.25, seed=1) != (train, val)
    assert not set(train) & set(val) and len(train) + len(val) == len(data)
    val_counts = np.bincount([data.targets[i] for i in val], minlength=5)
    assert (val_counts == val_counts[0]).all() and val_counts[0] >= 1
    small_train, small_val = split(data, 0.25, per_class=8)
    assert len(small_train) + len(small_val) == 40
    with pytest.raises(DatasetError, match="between 0 and 1"):
        split(data, 1.5)


def _make_folder(root: Path, classes: dict[str, int]) -> Path:
    rng = np.random.default_rng(0)
    for cls, n in classes.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")
    return root


def test_own_folder_errors_name_the_problem(tmp_path):
    root = _make_folder(tmp_path / "mine", {"cats": 3, "dogs": 3})
    assert ImageFolderDataset(root).classes == ["cats", "dogs"]
    (root / "birds").mkdir()
    with pytest.raises(DatasetError, match=r"birds.*holds no images"):
        ImageFolderDataset(root)
    (root / "birds" / "broken.jpg").write_bytes(b"this is not a jpeg")
    (root / "birds" / "empty.png").write_bytes(b"")
    with pytest.raises(
        DatasetError, match=r"2 unreadable image\(s\).*broken\.jpg.*empty\.png|2 unreadable.*empty\.png.*broken"
    ):
        ImageFolderDataset(root)
    with pytest.raises(DatasetError, match="at least 2"):
        ImageFolderDataset(_make_folder(tmp_path / "one", {"only": 2}))
    with pytest.raises(DatasetError, match="no such folder"):
        ImageFolderDataset(tmp_path / "nowhere")
    assert issubclass(DatasetError, CourseError)


def test_download_extract_chain_with_local_server(tmp_path, monkeypatch):
    """A registered dataset is fetched over HTTP (127.0.0.1), verified, extracted and opened."""
    src = _make_folder(tmp_path / "src" / "tiny", {"a": 2, "b": 2})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(src, arcname="tiny")
    archive = buf.getvalue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(archive)))
            self.end_headers()
            self.wfile.write(archive)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/tiny.tgz"
        info = DatasetInfo(
            "tiny",
            url,
            hashlib.sha256(archive).hexdigest(),
            len(archive),
            "CC0",
            ("a", "b"),
            "test data",
            subfolder="tiny",
        )
        monkeypatch.setitem(datasets.REGISTRY, "tiny", info)
        monkeypatch.delenv("COURSE_OFFLINE", raising=False)
        monkeypatch.setenv("COURSE_DATA", str(tmp_path / "cache"))
        data = course_dataset("tiny", progress=False)
        assert data.classes == ["a", "b"] and len(data) == 4
        assert data.root == tmp_path / "cache" / "datasets" / "tiny" / "tiny"
        monkeypatch.setitem(
            datasets.REGISTRY,
            "tiny",
            DatasetInfo("tiny", url, "0" * 64, 1, "CC0", ("a", "b"), "test data", subfolder="tiny"),
        )
        assert len(course_dataset("tiny")) == 4  # extracted folder is reused, nothing downloaded again
    finally:
        httpd.shutdown()
        httpd.server_close()
