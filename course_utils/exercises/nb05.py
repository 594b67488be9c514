"""Checkers for notebook 05 (depthwise separable convolutions)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from . import exercise

__all__ = []


def _number(got: object, what: str) -> None:
    assert isinstance(got, (int, float)) and not isinstance(got, bool), (
        f"return a number ({what}), got {type(got).__name__}"
    )


@exercise(
    "05.1",
    "depthwise_conv(channels, kernel, stride): a depthwise Conv2d that keeps H×W at stride 1",
    hint="look at nn.Conv2d's `groups` and `padding` arguments: how many groups give one filter per channel, "
    "and which padding keeps a k×k kernel from shrinking the map?",
)
def _check_depthwise_conv(depthwise_conv) -> None:
    # several kernels, strides and channel counts; batch 1 and odd, non-square inputs
    for channels, kernel, stride, (h, w) in (
        (8, 3, 1, (12, 12)),
        (16, 3, 2, (13, 9)),
        (6, 5, 1, (11, 7)),
        (4, 5, 2, (10, 15)),
        (3, 7, 1, (9, 9)),
    ):
        conv = depthwise_conv(channels, kernel, stride)
        assert isinstance(conv, nn.Conv2d), (
            f"return the nn.Conv2d itself, got {type(conv).__name__} (BatchNorm and ReLU6 come after it in the block)"
        )
        assert conv.in_channels == channels, f"in_channels={conv.in_channels}, expected {channels}"
        assert conv.out_channels == channels, (
            f"out_channels={conv.out_channels} for {channels} channels: a depthwise conv gives one output per "
            "input channel (no channel multiplier)"
        )
        assert conv.groups == channels, (
            f"groups={conv.groups}: a depthwise conv has one group per channel (groups=channels={channels})"
        )
        assert conv.kernel_size == (kernel, kernel), (
            f"kernel_size={conv.kernel_size} when asked for kernel={kernel}: use the `kernel` argument"
        )
        assert conv.stride == (stride, stride), f"stride={conv.stride} when asked for stride={stride}: use the argument"
        assert tuple(conv.weight.shape) == (channels, 1, kernel, kernel), (
            f"weight shape {tuple(conv.weight.shape)}, expected {(channels, 1, kernel, kernel)}: "
            "one k×k filter per channel, each seeing a single input channel"
        )
        assert conv.bias is None, "no bias: the BatchNorm that follows has its own shift (bias=False)"
        x = torch.randn(1, channels, h, w)
        out = conv(x)
        pad = kernel // 2
        expected = (1, channels, (h + 2 * pad - kernel) // stride + 1, (w + 2 * pad - kernel) // stride + 1)
        assert tuple(out.shape) == expected, (
            f"kernel {kernel}, stride {stride}, input {h}×{w}: output {tuple(out.shape)}, expected {expected} — "
            f"the padding must grow with the kernel (a {kernel}×{kernel} kernel needs {pad} on each side)"
        )
        ref = nn.functional.conv2d(x, conv.weight, None, stride, pad, groups=channels)
        assert torch.allclose(out, ref, atol=1e-5), "the convolution does not match a depthwise convolution"


def _macs(k: int, m: int, n: int, size: int) -> int:
    dw = nn.Conv2d(m, m, k, padding=k // 2, groups=m, bias=False)
    pw = nn.Conv2d(m, n, 1, bias=False)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        pw(dw(torch.zeros(1, m, size, size)))
    return counter.get_total_flops() // 2


@exercise(
    "05.2",
    "separable_macs(k, m, n, size): multiply-adds of a depthwise (k×k) + pointwise (1×1) convolution",
    hint="add the two parts: how many multiply-adds does one output value of each part need, and how many "
    "output values does each part produce? Multiply-adds, not FLOPs.",
)
def _check_separable_macs(separable_macs) -> None:
    for k, m, n, size in ((3, 32, 64, 56), (3, 128, 128, 14), (5, 24, 40, 28), (7, 16, 8, 9), (1, 5, 6, 3)):
        got = separable_macs(k, m, n, size)
        _number(got, "multiply-adds")
        expected = _macs(k, m, n, size)
        case = f"for k={k}, m={m}, n={n}, size={size}"
        dw, pw = k * k * m * size * size, m * n * size * size
        mistakes = {
            2 * expected: "you returned FLOPs; return multiply-adds (FLOPs / 2)",
            dw: "you counted only the depthwise part; add the pointwise 1×1 part",
            pw: "you counted only the pointwise part; add the depthwise k×k part",
            k * k * m * n * size * size: "that is a standard k×k convolution; the separable one splits it in two",
            k * m * size * size + pw: "the depthwise kernel has k·k weights per channel (k², not k)",
            k * k * m * size + m * n * size: "an output map of size × size has size² positions",
        }
        if k != 3:
            mistakes.setdefault(9 * m * size * size + pw, f"the kernel is {k}×{k} here: use the k argument, not 3")
        if got != expected and got in mistakes:
            raise AssertionError(f"{case}: {mistakes[got]}")
        assert got == expected, (
            f"{case}: expected {expected:,} multiply-adds, got {got:,} — count both the depthwise and the "
            "pointwise part, each over the whole output map"
        )


def _intensity(c: int, k: int, s: int) -> float:
    return 2 * k * k * c * s * s / (4 * (2 * c * s * s + c * k * k))


@exercise(
    "05.3",
    "depthwise_intensity(channels, kernel, size): FLOPs per byte moved by a float32 depthwise conv",
    hint="divide the work (FLOPs: 2 per multiply-add) by the traffic (bytes of every float32 value read or "
    "written: input, output and weights).",
)
def _check_intensity(depthwise_intensity) -> None:
    for c, k, s in ((32, 3, 112), (512, 3, 7), (96, 5, 28), (8, 3, 4), (3, 7, 5)):
        got = depthwise_intensity(c, k, s)
        _number(got, "FLOPs per byte")
        expected = _intensity(c, k, s)
        case = f"for C={c}, k={k}, size={s}"
        flops, io, weights = 2 * k * k * c * s * s, 2 * c * s * s, c * k * k
        mistakes = [
            (expected / 2, "you counted multiply-adds; a multiply-add is 2 FLOPs"),
            (flops / (4 * (c * s * s + weights)), "count the output too: it is written to memory"),
            (flops / (4 * io), "count the weights' bytes too"),
            (flops / (io + weights), "a float32 value is 4 bytes"),
            (
                2 * k * k * c * c * s * s / (4 * (io + c * c * k * k)),
                "that is a standard convolution (every filter sees all C channels); a depthwise one sees one",
            ),
        ]
        for value, why in mistakes:
            if abs(got - value) <= 1e-6 * value and abs(got - expected) > 1e-6 * expected:
                raise AssertionError(f"{case}: {why}")
        assert abs(got - expected) <= 1e-6 * expected, (
            f"for C={c}, k={k}, size={s}: expected {expected:.4f} FLOPs/byte, got {got:.4f} — count 2 FLOPs per "
            "multiply-add and 4 bytes per float32 value of input, output and weights (use true division)"
        )
    assert depthwise_intensity(64, 3, 56) < 5, "a depthwise conv does little work per byte: a few FLOPs at most"
