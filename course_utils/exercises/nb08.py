"""Checkers for notebook 08 (model families)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.resnet import Bottleneck

from . import exercise


@exercise("08.1", "conv_params(in_ch, out_ch, kernel, groups, bias=False): parameters of an nn.Conv2d",
          hint="each of the out_ch filters sees only in_ch // groups input channels: "
               "out_ch · (in_ch // groups) · kernel² (+ out_ch for the bias).")
def _check_conv_params(conv_params) -> None:
    for in_ch, out_ch, k, groups, bias in [(128, 128, 3, 32, False), (64, 64, 3, 1, False), (96, 96, 7, 96, True),
                                           (256, 512, 1, 1, True), (64, 128, 3, 8, False), (32, 64, 5, 4, True)]:
        expected = sum(p.numel() for p in nn.Conv2d(in_ch, out_ch, k, groups=groups, bias=bias).parameters())
        got = conv_params(in_ch, out_ch, k, groups, bias)
        assert got == expected, (f"Conv2d({in_ch}, {out_ch}, {k}, groups={groups}, bias={bias}) has {expected} "
                                 f"parameters, you said {got}")


def _rand_bn(module: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


@exercise("08.2", "GroupedBottleneck(in_ch, width, groups, out_ch): ResNeXt's block, numerically equal to torchvision's",
          hint="conv1 1×1 in_ch→width, bn1, ReLU; conv2 3×3 width→width with groups=groups and padding=1, bn2, ReLU; "
               "conv3 1×1 width→out_ch, bn3; add the input, then ReLU. All convs bias=False.")
def _check_grouped_bottleneck(cls) -> None:
    for in_ch, planes, groups, base_width, seed in [(256, 64, 32, 4, 0), (64, 16, 8, 8, 1)]:
        torch.manual_seed(seed)
        ref = Bottleneck(in_ch, planes, groups=groups, base_width=base_width)
        width = int(planes * base_width / 64) * groups
        _rand_bn(ref, seed)
        ref.eval()
        mine = cls(in_ch, width, groups, in_ch)
        assert isinstance(mine, nn.Module), "GroupedBottleneck must be an nn.Module subclass"
        state = mine.state_dict()
        for key, value in ref.state_dict().items():
            assert key in state, f"missing {key!r}: name the layers conv1, bn1, conv2, bn2, conv3, bn3 like torchvision"
            assert state[key].shape == value.shape, (
                f"{key} has shape {tuple(state[key].shape)}, torchvision's has {tuple(value.shape)}"
                + (": did you pass groups= to the 3×3 conv?" if key == "conv2.weight" else ""))
        extra = set(state) - set(ref.state_dict())
        assert not extra, f"unexpected parameters {sorted(extra)}: ResNeXt's convs have no bias"
        mine.load_state_dict(ref.state_dict())
        mine.eval()
        x = torch.randn(2, in_ch, 8, 8, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            expected, got = ref(x), mine(x)
        assert got.shape == expected.shape, f"output shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        assert got.min() >= 0, "the output has negative values: apply ReLU after adding the shortcut"
        assert torch.allclose(got, expected, atol=1e-4), (
            "outputs differ from torchvision's Bottleneck: check the order conv → bn → ReLU, the shortcut "
            "(add the block's input before the last ReLU) and padding=1 on the 3×3 conv")


def _stack_flops(depth: float, width: float, resolution: float) -> int:
    layers, channels, size = round(4 * depth), round(16 * width), round(32 * resolution)
    convs = [nn.Conv2d(3, channels, 3, padding=1)] + [nn.Conv2d(channels, channels, 3, padding=1)
                                                      for _ in range(layers)]
    net = nn.Sequential(*convs)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(1, 3, size, size))
    return counter.get_total_flops()


@exercise("08.3", "flops_factor(depth, width, resolution): how many times more FLOPs a scaled ConvNet needs",
          hint="FLOPs grow linearly with depth and quadratically with width (channels in × out) and with "
               "resolution (H × W): depth · width² · resolution².")
def _check_flops_factor(flops_factor) -> None:
    base = _stack_flops(1, 1, 1)
    for d, w, r in [(2, 1, 1), (1, 2, 1), (1, 1, 2), (1.5, 1.25, 1.5), (2, 2, 2)]:
        got = float(flops_factor(d, w, r))
        measured = _stack_flops(d, w, r) / base
        assert abs(got - measured) / measured < 0.15, (
            f"depth ×{d}, width ×{w}, resolution ×{r}: FlopCounterMode measures ×{measured:.2f} the FLOPs, "
            f"you predicted ×{got:.2f}")
