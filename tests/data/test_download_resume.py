"""Interrupted downloads resume where they stopped (HTTP range requests) and still verify the whole file."""

from __future__ import annotations

import hashlib

import pytest

from course_utils.core.errors import DownloadError
from course_utils.data.download import download_file


def test_cut_transfer_resumes_and_verifies(tmp_path, monkeypatch, flaky_server):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    content = bytes(range(256)) * 4000  # ~1 MB
    url, requests = flaky_server(content, cut_after=300_000)
    out = download_file(
        url, tmp_path / "data.bin", hashlib.sha256(content).hexdigest(), timeout=5, retries=3, progress=False
    )
    assert out.read_bytes() == content
    assert requests == [None, "bytes=300000-"], requests  # the second request asked only for the rest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin", "data.bin.lock"]


def test_resumed_file_with_wrong_hash_is_removed(tmp_path, monkeypatch, flaky_server):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    content = b"z" * 200_000
    url, _ = flaky_server(content, cut_after=50_000)
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        download_file(url, tmp_path / "data.bin", "0" * 64, timeout=5, retries=3, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin.lock"]  # nothing partial left behind
