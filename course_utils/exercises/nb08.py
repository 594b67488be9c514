"""Checkers for notebook 08 (model families)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.resnet import Bottleneck

from ..models.surgery import randomise_batchnorm
from . import exercise

__all__ = []


@exercise(
    "08.1",
    "conv_params(in_ch, out_ch, kernel, groups, bias=False): parameters of an nn.Conv2d",
    hint="each filter sees only its group's share of the input channels (the weight shape of a grouped conv "
    "tells you how many); the bias adds one number per output channel.",
)
def _check_conv_params(conv_params) -> None:
    for in_ch, out_ch, k, groups, bias in [
        (128, 128, 3, 32, False),
        (64, 64, 3, 1, False),
        (96, 96, 7, 96, True),
        (256, 512, 1, 1, True),
        (64, 128, 3, 8, False),
        (32, 64, 5, 4, True),
        (48, 24, 1, 2, False),
    ]:
        conv = nn.Conv2d(in_ch, out_ch, k, groups=groups, bias=bias)
        expected = sum(p.numel() for p in conv.parameters())
        got = conv_params(in_ch, out_ch, k, groups, bias)
        case = f"Conv2d({in_ch}, {out_ch}, {k}, groups={groups}, bias={bias})"
        assert isinstance(got, int) and not isinstance(got, bool), (
            f"{case}: return a whole number (int), got {type(got).__name__} {got!r}: use // for the channels per group"
        )
        weights = out_ch * (in_ch // groups) * k * k
        mistakes = {
            out_ch * in_ch * k * k + (out_ch if bias else 0): "each filter sees only in_ch // groups input channels",
            weights + (0 if bias else out_ch): "count the bias (out_ch numbers) only when bias=True",
            weights + (1 if bias else 0): "the bias has one value per output channel, not one in total",
            (out_ch // groups) * (in_ch // groups) * k * k + (out_ch if bias else 0): (
                "all out_ch filters exist; only their input channels are divided by groups"
            ),
            out_ch * (in_ch // groups) * k + (out_ch if bias else 0): "a k×k kernel has k² weights per input channel",
        }
        if k != 3:
            mistakes.setdefault(
                out_ch * (in_ch // groups) * 9 + (out_ch if bias else 0),
                f"the kernel is {k}×{k} here: use the kernel argument, not 3",
            )
        if got != expected and got in mistakes:
            raise AssertionError(f"{case} has {expected} parameters, you said {got}: {mistakes[got]}")
        assert got == expected, f"{case} has {expected} parameters, you said {got}"


@exercise(
    "08.2",
    "GroupedBottleneck(in_ch, width, groups, out_ch): ResNeXt's block, numerically equal to torchvision's",
    hint="three conv → BatchNorm stages (1×1, grouped 3×3, 1×1) with ReLU after the first two; the shortcut "
    "joins before the last ReLU. Read torchvision's Bottleneck.forward and compare names and order.",
)
def _check_grouped_bottleneck(cls) -> None:
    for in_ch, planes, groups, base_width, seed in [(256, 64, 32, 4, 0), (64, 16, 8, 8, 1)]:
        torch.manual_seed(seed)
        ref = Bottleneck(in_ch, planes, groups=groups, base_width=base_width)
        width = int(planes * base_width / 64) * groups
        randomise_batchnorm(ref, seed)  # real statistics: a BatchNorm in the wrong place cannot hide
        mine = cls(in_ch, width, groups, in_ch)
        assert isinstance(mine, nn.Module), "GroupedBottleneck must be an nn.Module subclass"
        state = mine.state_dict()
        for key, value in ref.state_dict().items():
            assert key in state, f"missing {key!r}: name the layers conv1, bn1, conv2, bn2, conv3, bn3 like torchvision"
            assert state[key].shape == value.shape, (
                f"{key} has shape {tuple(state[key].shape)}, torchvision's has {tuple(value.shape)}"
                + (": did you pass groups= to the 3×3 conv?" if key == "conv2.weight" else "")
            )
        extra = set(state) - set(ref.state_dict())
        assert not extra, f"unexpected parameters {sorted(extra)}: ResNeXt's convs have no bias"
        conv2 = getattr(mine, "conv2", None)
        assert not isinstance(conv2, nn.Conv2d) or conv2.padding == (1, 1), (
            f"conv2 has padding={conv2.padding}: the 3×3 conv needs padding=1 to keep H×W, or the shortcut "
            "cannot be added"
        )
        mine.load_state_dict(ref.state_dict())
        g = torch.Generator().manual_seed(seed)
        for mode in ("eval", "train"):  # train mode: BatchNorm uses the batch's statistics
            ref.train(mode == "train")
            mine.train(mode == "train")
            for shape, scale in (((2, in_ch, 8, 8), 1.0), ((1, in_ch, 7, 9), 1.0), ((2, in_ch, 6, 5), 25.0)):
                if mode == "train" and shape[0] == 1 and shape[2] * shape[3] < 2:
                    continue
                x = scale * torch.randn(*shape, generator=g)
                x_copy = x.clone()
                with torch.no_grad():
                    expected = ref(x.clone())
                    got = mine(x)
                assert torch.equal(x, x_copy), (
                    "your forward pass changed its input in place (e.g. x += … or x.add_(…)); the caller's tensor "
                    "must stay as it was: add into the branch's output instead"
                )
                assert got.shape == expected.shape, (
                    f"input {shape}: output shape {tuple(got.shape)}, expected {tuple(expected.shape)}: "
                    "padding=1 on the 3×3 conv keeps H×W"
                )
                assert got.min() >= 0, "the output has negative values: apply ReLU after adding the shortcut"
                if expected.max() > 6.5 and got.max() <= 6.0 + 1e-4:
                    raise AssertionError("the outputs stop at 6: ResNeXt uses ReLU, not ReLU6")
                assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4), (
                    f"in {mode} mode, input {shape}: outputs differ from torchvision's Bottleneck — check the order "
                    "conv → bn → ReLU in every stage, the shortcut (add the block's input before the last ReLU)"
                )


def _stack_flops(depth: float, width: float, resolution: float) -> int:
    layers, channels, size = round(4 * depth), round(16 * width), round(32 * resolution)
    convs = [nn.Conv2d(3, channels, 3, padding=1)] + [
        nn.Conv2d(channels, channels, 3, padding=1) for _ in range(layers)
    ]
    net = nn.Sequential(*convs)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(1, 3, size, size))
    return counter.get_total_flops()


@exercise(
    "08.3",
    "flops_factor(depth, width, resolution): how many times more FLOPs a scaled ConvNet needs",
    hint="think about one conv layer: which of its sizes does each factor multiply (layers, input channels, "
    "output channels, height, width)? Multiply the effects.",
)
def _check_flops_factor(flops_factor) -> None:
    base = _stack_flops(1, 1, 1)
    for d, w, r in [(2, 1, 1), (1, 2, 1), (1, 1, 2), (1.5, 1.25, 1.5), (2, 2, 2), (1, 1.5, 1.25)]:
        got = flops_factor(d, w, r)
        assert isinstance(got, (int, float)) and not isinstance(got, bool), f"return a number, got {type(got).__name__}"
        got = float(got)
        measured = _stack_flops(d, w, r) / base
        if abs(got - measured) / measured >= 0.15:
            which = (
                "depth"
                if (d, w, r) == (2, 1, 1)
                else "width"
                if (d, w, r) == (1, 2, 1)
                else "resolution"
                if (d, w, r) == (1, 1, 2)
                else None
            )
            why = {
                "depth": "FLOPs grow linearly with the number of layers",
                "width": "a wider layer has more input AND more output channels",
                "resolution": "the resolution factor scales both H and W",
            }.get(which, "")
            raise AssertionError(
                f"depth ×{d}, width ×{w}, resolution ×{r}: FlopCounterMode measures ×{measured:.2f} "
                f"the FLOPs, you predicted ×{got:.2f}" + (f" — {why}" if why else "")
            )
