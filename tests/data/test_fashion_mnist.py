"""course_utils.data.fashion_mnist on the real files: where they are found, what a bad file says, the download path.

The Debian package ``dataset-fashion-mnist`` is installed by ``.ci/run``; the download path runs torchvision's real
download code against a local server on 127.0.0.1 that serves those files.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from pathlib import Path

import pytest
import torch

from course_utils.core.errors import DatasetError, DataUnavailableError
from course_utils.data import fashion_mnist as fm

# CI installs the package (.ci/run), so there a missing package fails these tests instead of skipping them.
pytestmark = pytest.mark.skipif(
    not fm._complete(fm.PACKAGE_DIR) and not os.environ.get("CI"),
    reason=f"the Debian package {fm.DEBIAN_PACKAGE} is not installed (sudo apt-get install {fm.DEBIAN_PACKAGE})",
)
TEST_NAMES = fm.FILES["test"]


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No package folder and an empty course cache."""
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "no-package"))
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "cache"))
    fm._load.cache_clear()
    yield tmp_path
    fm._load.cache_clear()


def _copy_package(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f in fm.PACKAGE_DIR.glob("*.gz"):
        shutil.copy(f, folder / f.name)
    return folder


def test_the_real_splits_load_as_uint8_tensors():
    train, test = fm.load_fashion_mnist("train"), fm.load_fashion_mnist("test")
    assert train.images.shape == (60_000, 1, 28, 28) and train.images.dtype == torch.uint8
    assert test.images.shape == (10_000, 1, 28, 28) and test.labels.dtype == torch.int64
    assert torch.bincount(train.labels).tolist() == [6000] * 10 and torch.bincount(test.labels).tolist() == [1000] * 10
    assert abs(train.images.float().mean().item() / 255 - 0.2860) < 1e-3  # the dataset's published mean
    assert train.classes == fm.CLASSES and train.classes[9] == "Ankle boot"
    assert fm.load_fashion_mnist("train") is train  # loaded once per process
    with pytest.raises(DatasetError, match="'val'"):
        fm.load_fashion_mnist("val")


def test_same_pixels_as_torchvisions_reader(tmp_path):
    """torchvision's FashionMNIST reads these very files and gets the same tensors."""
    from torchvision.datasets import FashionMNIST

    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in fm.SHA256:  # torchvision checks that all four are there
        (raw / name).write_bytes(gzip.decompress((fm.PACKAGE_DIR / f"{name}.gz").read_bytes()))
    theirs = FashionMNIST(str(tmp_path), train=False, download=False)
    ours = fm.load_fashion_mnist("test")
    assert torch.equal(theirs.data, ours.images[:, 0]) and torch.equal(theirs.targets, ours.labels)


def test_order_is_package_then_cache(nowhere):
    assert fm.locate() is None
    cache = _copy_package(fm.cache_dir())
    assert fm.locate() == cache and fm.status() == (True, f"course cache, {cache}")
    package = _copy_package(nowhere / "no-package")
    assert fm.locate() == package and fm.status()[1].startswith("Debian package")
    assert fm.load_fashion_mnist("test").source == package


def test_missing_offline_names_both_fixes_and_touches_nothing(nowhere, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(DataUnavailableError) as err:
        fm.load_fashion_mnist("test")
    message = str(err.value)
    assert (
        "apt-get install dataset-fashion-mnist" in message and "python -m course_utils fetch fashion_mnist" in message
    )
    assert err.value._render_traceback_() == [f"\x1b[0;31mDataUnavailableError\x1b[0m: {message}"]
    assert not (nowhere / "cache").exists()
    assert fm.status()[0] is False


@pytest.mark.parametrize("damage", ["truncated", "flipped", "not gzip", "empty"])
def test_a_bad_file_is_named_and_says_what_to_do(nowhere, damage):
    folder = _copy_package(nowhere / "no-package")
    victim = folder / f"{TEST_NAMES[0]}.gz"
    data = victim.read_bytes()
    if damage == "truncated":
        victim.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":  # a valid gzip of different contents
        raw = bytearray(gzip.decompress(data))
        raw[5000] ^= 0xFF
        victim.write_bytes(gzip.compress(bytes(raw)))
    elif damage == "not gzip":
        victim.write_bytes(b"<html>not found</html>")
    else:
        victim.write_bytes(b"")
    with pytest.raises(DatasetError, match="truncated or corrupt") as err:
        fm.load_fashion_mnist("test")
    assert str(victim) in str(err.value) and "Delete it" in str(err.value)


def test_uncompressed_files_in_the_cache_work(nowhere):
    cache = fm.cache_dir()
    cache.mkdir(parents=True)
    for f in fm.PACKAGE_DIR.glob("*.gz"):
        (cache / f.name.removesuffix(".gz")).write_bytes(gzip.decompress(f.read_bytes()))
    test = fm.load_fashion_mnist("test")
    assert test.source == cache
    labels = gzip.decompress((fm.PACKAGE_DIR / f"{TEST_NAMES[1]}.gz").read_bytes())[8:]
    assert test.labels.tolist() == list(labels)


def _serve_package(tmp_path: Path, monkeypatch, broken: str | None = None) -> Path:
    """torchvision's FashionMNIST pointed at a local server holding the package's files (their MD5s, since Debian
    recompressed them); ``broken`` names a file served cut in half."""
    from torchvision.datasets import FashionMNIST

    served = _copy_package(tmp_path / "served")
    resources = [(name, hashlib.md5((served / name).read_bytes()).hexdigest()) for name, _ in FashionMNIST.resources]
    monkeypatch.setattr(FashionMNIST, "resources", resources)
    if broken:  # cut off in transfer: torchvision's MD5 check fails
        path = served / broken
        path.write_bytes(path.read_bytes()[:1000])
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    return served


def test_online_download_goes_through_torchvision_into_the_cache(nowhere, monkeypatch, capsys, file_server):
    from torchvision.datasets import FashionMNIST

    served = _serve_package(nowhere, monkeypatch)
    url = file_server(served)
    monkeypatch.setattr(FashionMNIST, "mirrors", [url + "/"])
    folder = fm.fetch(progress=False)
    assert folder == fm.cache_dir()
    assert sorted(p.name for p in folder.iterdir()) == sorted(fm.SHA256)
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".fashion-mnist.")]  # no partial folder left
    assert len(fm.load_fashion_mnist("train")) == 60_000


def test_a_failed_download_leaves_nothing_in_the_cache(nowhere, monkeypatch, file_server):
    from torchvision.datasets import FashionMNIST

    served = _serve_package(nowhere, monkeypatch, broken="t10k-images-idx3-ubyte.gz")
    url = file_server(served)
    monkeypatch.setattr(FashionMNIST, "mirrors", [url + "/"])
    with pytest.raises(DataUnavailableError, match="download failed"):
        fm.fetch(progress=False)
    datasets = fm.cache_dir().parent
    assert [p.name for p in datasets.iterdir() if not p.name.endswith(".lock")] == []
    assert fm.locate() is None


def test_cli_fetch_and_doctor_know_the_dataset(nowhere, monkeypatch, capsys):
    """``python -m course_utils fetch`` and ``doctor`` (run as ``cli.main`` in this process) find, plan and name
    the dataset: missing (no Debian package, an empty cache), then in the course cache."""
    from course_utils.cli import main

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("HOME", str(nowhere))
    monkeypatch.setenv("COURSE_OFFLINE", "1")

    def cli(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(args))
        return code, capsys.readouterr().out

    code, out = cli("fetch", "fashion_mnist", "--dry-run")
    assert code == 0 and "would get  dataset  fashion_mnist" in out and "29.4 MB" in out
    code, out = cli("fetch", "fashion_mnist")
    assert code == 1 and "apt-get install dataset-fashion-mnist" in out
    code, out = cli("doctor")
    assert code == 1 and "FIX  dataset fashion_mnist" in out
    _copy_package(nowhere / "cache" / "datasets" / "fashion-mnist")
    assert "cached     dataset  fashion_mnist" in cli("fetch", "--dry-run")[1]
    assert "course cache" in cli("doctor")[1]
