"""Device choice, seeding, threads and the setup line."""

from __future__ import annotations

import random

import numpy as np
import torch

from course_utils.device import configure_threads, get_device, seed_everything, setup


def test_get_device_prefers_accelerators_and_honours_override(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert get_device().type == expected
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    assert get_device("meta") == torch.device("meta")


def test_seed_everything_makes_runs_repeat():
    seed_everything(7)
    a = (random.random(), np.random.rand(), torch.rand(3))
    seed_everything(7)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def test_configure_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert configure_threads(1) == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("COURSE_THREADS", "2")
        assert configure_threads() == 2 and torch.get_num_threads() == 2
        assert configure_threads(0) == 1
    finally:
        torch.set_num_threads(before)


def test_setup_prints_one_line(capsys, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    before = torch.get_num_threads()
    try:
        device = setup(seed=3, threads=1)
    finally:
        torch.set_num_threads(before)
    out = capsys.readouterr().out.strip()
    assert isinstance(device, torch.device) and len(out.splitlines()) == 1
    assert f"torch {torch.__version__}" in out and "offline mode ON" in out and "seed 3" in out
