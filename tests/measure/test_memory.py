"""course_utils.measure.memory on real models and real processes: peak memory, autograd's saved tensors, byte sizes."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

from course_utils.measure import MemoryUse, format_bytes, peak_memory, saved_tensors_bytes


def test_format_bytes():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 * 2**20) == "3.0 MiB"
    assert format_bytes(5 * 2**30) == "5.0 GiB"


def test_saved_tensors_counts_autograd_memory_only():
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1))
    x = torch.randn(4, 3, 32, 32)
    out, saved = saved_tensors_bytes(net, x)
    assert out.shape == (4, 16, 32, 32)
    # at least the input and the ReLU output (4·16·32·32 floats) are kept for backward
    assert saved >= x.numel() * 4 + 4 * 16 * 32 * 32 * 4

    def no_grad():
        with torch.inference_mode():
            return net(x)

    assert saved_tensors_bytes(no_grad)[1] == 0
    _, saved_twice = saved_tensors_bytes(lambda: (net(x), net(x)))
    assert saved_twice > saved  # two graphs, two sets of activations


def test_peak_memory_sees_a_large_allocation():
    with peak_memory("cpu") as small:
        torch.zeros(1000)
    with peak_memory("cpu") as big:
        t = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
        del t
    assert isinstance(big, MemoryUse) and big.device == "cpu" and big.method
    assert big.peak_bytes >= 48 * 2**20, str(big)
    assert big.peak_bytes > small.peak_bytes
    assert "MiB" in str(big) and big.mib >= 48


def test_peak_memory_shows_autograd_cost(lite0):
    x = torch.randn(4, 3, 160, 160)
    with peak_memory("cpu") as mem_i, torch.inference_mode():
        out_i = lite0.model(x)
    with peak_memory("cpu") as mem_g:
        out_g = lite0.model(x)
    assert out_i.shape == out_g.shape == (4, 1000)
    assert out_g.requires_grad and not out_i.requires_grad
    if sys.platform.startswith("linux"):
        assert mem_g.peak_bytes > mem_i.peak_bytes


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_peak_memory_cuda():
    with peak_memory("cuda") as use:
        t = torch.ones(16 * 2**20 // 4, device="cuda")
        del t
    assert use.peak_bytes >= 16 * 2**20 and "CUDA" in use.method
