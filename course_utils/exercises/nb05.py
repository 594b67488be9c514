"""Checkers for notebook 05 (depthwise separable convolutions)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from . import exercise


@exercise("05.1", "depthwise_conv(channels, kernel, stride): a depthwise Conv2d that keeps H×W at stride 1",
          hint="nn.Conv2d(channels, channels, kernel, stride, padding=kernel // 2, groups=channels, bias=False)")
def _check_depthwise_conv(depthwise_conv) -> None:
    for channels, kernel, stride in ((8, 3, 1), (16, 3, 2), (6, 5, 1), (4, 5, 2)):
        conv = depthwise_conv(channels, kernel, stride)
        assert isinstance(conv, nn.Conv2d), f"return an nn.Conv2d, got {type(conv).__name__}"
        assert conv.groups == channels, (
            f"groups={conv.groups}: a depthwise conv has one group per channel (groups=channels={channels})")
        assert tuple(conv.weight.shape) == (channels, 1, kernel, kernel), (
            f"weight shape {tuple(conv.weight.shape)}, expected {(channels, 1, kernel, kernel)}: "
            "one k×k filter per channel, each seeing a single input channel")
        assert conv.bias is None, "no bias: the BatchNorm that follows has its own shift (bias=False)"
        x = torch.randn(2, channels, 12, 12)
        out = conv(x)
        size = 12 // stride
        assert out.shape == (2, channels, size, size), (
            f"output shape {tuple(out.shape)}, expected {(2, channels, size, size)}: use padding=kernel // 2")
        ref = nn.functional.conv2d(x, conv.weight, None, stride, kernel // 2, groups=channels)
        assert torch.allclose(out, ref, atol=1e-5), "the convolution does not match a depthwise convolution"


@exercise("05.2", "separable_macs(k, m, n, size): multiply-adds of a depthwise (k×k) + pointwise (1×1) convolution",
          hint="depthwise: k·k·m·size², pointwise: m·n·size² (stride 1, 'same' padding). Multiply-adds, not FLOPs.")
def _check_separable_macs(separable_macs) -> None:
    for k, m, n, size in ((3, 32, 64, 56), (3, 128, 128, 14), (5, 24, 40, 28), (7, 16, 8, 9), (1, 5, 6, 3)):
        got = separable_macs(k, m, n, size)
        assert isinstance(got, (int, float)) and not isinstance(got, bool), f"return a number, got {type(got).__name__}"
        dw = nn.Conv2d(m, m, k, padding=k // 2, groups=m, bias=False)
        pw = nn.Conv2d(m, n, 1, bias=False)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            pw(dw(torch.zeros(1, m, size, size)))
        expected = counter.get_total_flops() // 2
        assert got != 2 * expected, f"for k={k}, m={m}, n={n}, size={size} you returned FLOPs ({got}); return multiply-adds (FLOPs / 2)"
        assert got == expected, (
            f"for k={k}, m={m}, n={n}, size={size}: expected {expected:,} multiply-adds, got {got:,} — "
            "count both the depthwise and the pointwise part")


@exercise("05.3", "depthwise_intensity(channels, kernel, size): FLOPs per byte moved by a float32 depthwise conv",
          hint="FLOPs = 2·k²·C·size²; bytes = 4·(input C·size² + output C·size² + weights C·k²); stride 1, same size.")
def _check_intensity(depthwise_intensity) -> None:
    for c, k, s in ((32, 3, 112), (512, 3, 7), (96, 5, 28), (8, 3, 4)):
        got = depthwise_intensity(c, k, s)
        assert isinstance(got, (int, float)), f"return a number, got {type(got).__name__}"
        flops = 2 * k * k * c * s * s
        nbytes = 4 * (2 * c * s * s + c * k * k)
        expected = flops / nbytes
        assert abs(got - expected) <= 1e-6 * expected, (
            f"for C={c}, k={k}, size={s}: expected {expected:.4f} FLOPs/byte, got {got:.4f} — count 2 FLOPs per "
            "multiply-add and 4 bytes per float32 value of input, output and weights")
    assert depthwise_intensity(64, 3, 56) < 5, "a depthwise conv does little work per byte: a few FLOPs at most"
