"""Weights policy: cache use, verified atomic downloads, offline random weights, fast failure without network."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time

import pytest
import torch
import torchvision
from torchvision.models import ResNet18_Weights

from course_utils.core import settings
from course_utils.core.errors import DownloadError, WeightsUnavailableError
from course_utils.models import load_classifier
from course_utils.models.weights import download_weights, torchvision_weights


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    home, before = tmp_path / "torch_home", torch.hub._hub_dir  # None unless set_dir was called
    monkeypatch.setenv("TORCH_HOME", str(home))
    torch.hub.set_dir(str(home / "hub"))
    yield home
    torch.hub._hub_dir = before  # exactly as before: later tests' TORCH_HOME must count again


def test_weights_file_lives_in_torch_home(torch_home):
    w = ResNet18_Weights.IMAGENET1K_V1
    assert torchvision_weights(w).file == torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert settings.weights_dir() == torchvision_weights(w).file.parent
    assert not torchvision_weights(w).cached()


def test_offline_uncached_gives_random_weights_with_notice(torch_home, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    assert torchvision_weights(ResNet18_Weights.IMAGENET1K_V1).load() is None
    with pytest.warns(UserWarning, match="RANDOM weights"):
        clf = load_classifier("resnet18", device="cpu")
    assert not clf.pretrained and "RANDOM" in clf.notice and "fetch" in clf.notice
    assert clf.categories[281] == "tabby" and clf.weights == "ResNet18_Weights.IMAGENET1K_V1"
    assert not clf.model.training


def test_cached_file_is_used_without_network(torch_home, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    reference = torchvision.models.resnet18()
    dest = torchvision_weights(ResNet18_Weights.IMAGENET1K_V1).file
    dest.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), dest)
    clf = load_classifier("resnet18", device="cpu")
    assert clf.pretrained and clf.notice is None
    for (name, a), b in zip(reference.state_dict().items(), clf.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_corrupt_cached_file_says_which_and_how(torch_home, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    dest = torchvision_weights(ResNet18_Weights.IMAGENET1K_V1).file
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsUnavailableError, match="delete the file"):
        torchvision_weights(ResNet18_Weights.IMAGENET1K_V1).load()


def _payload(tmp_path, content: bytes, good_hash: bool = True) -> str:
    prefix = hashlib.sha256(content if good_hash else b"other").hexdigest()[:8]
    name = f"tiny-{prefix}.pth"
    (tmp_path / "srv").mkdir(exist_ok=True)
    (tmp_path / "srv" / name).write_bytes(content)
    return name


def test_download_verifies_hash_and_is_atomic(tmp_path, monkeypatch, file_server):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    good = _payload(tmp_path, b"x" * 5000)
    bad = _payload(tmp_path, b"y" * 5000, good_hash=False)
    cache = tmp_path / "cache"
    base = file_server(tmp_path / "srv")
    out = download_weights(f"{base}/{good}", cache / good, progress=False)
    assert out.read_bytes() == b"x" * 5000
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        download_weights(f"{base}/{bad}", cache / bad, progress=False)
    with pytest.raises(DownloadError, match="404|Not Found"):
        download_weights(f"{base}/missing-12345678.pth", cache / "missing-12345678.pth", progress=False)
    leftovers = sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock"))
    assert leftovers == [good], leftovers  # nothing partial under any name


def test_download_refused_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(DownloadError, match="offline"):
        download_weights("http://127.0.0.1:9/x-12345678.pth", tmp_path / "x-12345678.pth")


def test_silent_server_times_out(tmp_path, monkeypatch, silent_port):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    port = silent_port
    start = time.perf_counter()
    with pytest.raises(DownloadError):
        download_weights(
            f"http://127.0.0.1:{port}/w-12345678.pth", tmp_path / "w-12345678.pth", timeout=1, progress=False
        )
    assert time.perf_counter() - start < 5
    assert not (tmp_path / "w-12345678.pth").exists()


_LOAD = textwrap.dedent("""
    import time, sys
    from course_utils import load_classifier
    from course_utils.core.errors import WeightsUnavailableError
    start = time.perf_counter()
    try:
        load_classifier("resnet18", device="cpu")
    except WeightsUnavailableError as exc:
        print(f"{time.perf_counter() - start:.2f}", exc)
        sys.exit(0)
    sys.exit("loaded, expected a failure")
""")


@pytest.mark.parametrize("kind", ["silent", "refused"])
def test_online_without_network_fails_fast_with_the_fix(tmp_path, kind, silent_port, free_port):
    """No COURSE_OFFLINE, no cache, network unreachable (all traffic sent to a local proxy that hangs or refuses)."""
    port = silent_port if kind == "silent" else free_port()
    env = {k: v for k, v in os.environ.items() if k != "COURSE_OFFLINE"}
    proxy = f"http://127.0.0.1:{port}"
    env.update(
        TORCH_HOME=str(tmp_path),
        COURSE_NETWORK_TIMEOUT="2",
        HTTPS_PROXY=proxy,
        https_proxy=proxy,
        HTTP_PROXY=proxy,
        http_proxy=proxy,
        NO_PROXY="",
        no_proxy="",
    )
    result = subprocess.run([sys.executable, "-c", _LOAD], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    seconds, message = result.stdout.split(" ", 1)
    assert float(seconds) < 6, f"took {seconds} s"
    assert "course_utils fetch" in message and "COURSE_OFFLINE=1" in message and str(tmp_path) in message
