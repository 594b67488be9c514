"""Checkers for notebook 01 (residual blocks)."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torchvision.models import resnet50
from torchvision.models.resnet import Bottleneck as TVBottleneck

from ..resnet_blocks import count_parameters, shape_table
from . import exercise


def _randomise_bn(module: nn.Module, seed: int) -> nn.Module:
    """Give every BatchNorm non-trivial affine parameters and running statistics (so mistakes show)."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            with torch.no_grad():
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.2 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
    return module


def _reference_projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))


@exercise("01.1", "shortcut(in_channels, out_channels, stride): the identity when shapes match, else a 1×1 projection",
          hint="return nn.Identity() when in_channels == out_channels and stride == 1, otherwise "
               "nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False), "
               "nn.BatchNorm2d(out_channels)).")
def _check_shortcut(shortcut) -> None:
    g = torch.Generator().manual_seed(1)
    for c_in, c_out, stride in [(16, 16, 1), (16, 32, 2), (16, 64, 1), (32, 32, 2), (8, 16, 1)]:
        sc = shortcut(c_in, c_out, stride)
        assert isinstance(sc, nn.Module), f"return an nn.Module, got {type(sc).__name__}"
        x = torch.randn(2, c_in, 8, 8, generator=g)
        with torch.no_grad():
            out = sc.eval()(x)
        expected = (2, c_out, 8 // stride, 8 // stride)
        assert isinstance(out, torch.Tensor) and tuple(out.shape) == expected, (
            f"shortcut({c_in}, {c_out}, {stride}) must map [2, {c_in}, 8, 8] to {list(expected)}, "
            f"got {list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}"
            + (": the projection needs the block's stride" if isinstance(out, torch.Tensor) and out.shape[-1] == 8 else "")
        )
        if c_in == c_out and stride == 1:
            assert count_parameters(sc) == 0 and torch.equal(out, x), (
                f"shortcut({c_in}, {c_out}, 1): the shapes already match, so the skip must be the plain identity "
                "(no parameters): a projection here only adds cost"
            )
            continue
        convs = [m for m in sc.modules() if isinstance(m, nn.Conv2d)]
        assert len(convs) == 1 and convs[0].kernel_size == (1, 1), (
            f"shortcut({c_in}, {c_out}, {stride}): use exactly one 1×1 convolution, got "
            f"{[tuple(c.kernel_size) for c in convs]}"
        )
        assert convs[0].bias is None, "the 1×1 conv needs no bias (bias=False): the BatchNorm after it has one"
        assert any(isinstance(m, nn.BatchNorm2d) for m in sc.modules()), "follow the 1×1 conv with nn.BatchNorm2d(out_channels)"
        ref = _randomise_bn(_reference_projection(c_in, c_out, stride), seed=c_in + c_out)
        try:
            sc.load_state_dict(ref.state_dict(), strict=True)
        except RuntimeError:
            raise AssertionError(
                "build it as nn.Sequential(conv, bn) so that torchvision's downsample weights load into it"
            ) from None
        for mode in ("eval", "train"):
            getattr(ref, mode)()
            getattr(sc, mode)()
            with torch.no_grad():
                ok = torch.allclose(sc(x), ref(x), atol=1e-5)
            assert ok, f"in {mode} mode the output differs from conv1×1 → BatchNorm2d"


def _block_configs() -> list[tuple[int, int, int, bool]]:
    return [(64, 16, 1, False), (32, 16, 1, True), (64, 16, 2, True), (64, 32, 2, True)]


@exercise("01.2", "Bottleneck(inplanes, planes, stride, downsample): 1×1 reduce → 3×3 → 1×1 expand ×4, plus the skip",
          hint="conv1 1×1 (inplanes→planes), bn1, ReLU; conv2 3×3 (planes→planes, stride, padding=1), bn2, ReLU; "
               "conv3 1×1 (planes→planes*4), bn3; add downsample(x) (or x), then ReLU. All convs bias=False.")
def _check_bottleneck(block_cls) -> None:
    g = torch.Generator().manual_seed(3)
    for inplanes, planes, stride, project in _block_configs():
        downsample = _reference_projection(inplanes, planes * 4, stride) if project else None
        ref = TVBottleneck(inplanes, planes, stride, copy.deepcopy(downsample))
        _randomise_bn(ref, seed=inplanes + planes + stride)
        mine = block_cls(inplanes, planes, stride, copy.deepcopy(downsample))
        assert isinstance(mine, nn.Module), f"{getattr(block_cls, '__name__', block_cls)} must build an nn.Module"
        assert getattr(mine, "expansion", None) == 4, "give the class the attribute expansion = 4 (output = planes * 4)"
        config = f"Bottleneck({inplanes}, {planes}, stride={stride}, downsample={'projection' if project else None})"
        n_mine, n_ref = count_parameters(mine), count_parameters(ref)
        assert n_mine == n_ref, f"{config} has {n_mine:,} parameters, torchvision's has {n_ref:,}"
        try:
            mine.load_state_dict(ref.state_dict(), strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
            raise AssertionError(
                f"{config}: torchvision's weights do not load ({first}); name the layers conv1, bn1, conv2, bn2, "
                "conv3, bn3 and downsample, with bias=False convs"
            ) from None
        x = torch.relu(torch.randn(2, inplanes, 8, 8, generator=g))
        for mode in ("eval", "train"):
            ref.train(mode == "train")
            mine.train(mode == "train")
            with torch.no_grad():
                expected, got = ref(x), mine(x)
            assert got.shape == expected.shape, f"{config}: output shape {list(got.shape)}, expected {list(expected.shape)}"
            if not torch.allclose(got, expected, atol=1e-5):
                if stride == 2 and mine.conv1.stride != (1, 1):
                    raise AssertionError("put the stride on the 3×3 conv (conv2), not on conv1, as torchvision does "
                                         "(the 'ResNet v1.5' layout: a strided 1×1 conv would skip 3/4 of the pixels)")
                if (got < 0).any():
                    raise AssertionError(f"{config}: negative outputs: apply ReLU after adding the shortcut")
                raise AssertionError(f"{config}: in {mode} mode the output differs from torchvision's Bottleneck "
                                     "(order: conv-bn-relu, conv-bn-relu, conv-bn, + identity, relu)")


@exercise("01.3", "bottleneck_params(inplanes, planes, projection): a Bottleneck's parameter count, by formula",
          hint="a k×k conv from a to b channels without bias has k*k*a*b weights; a BatchNorm over c channels "
               "has 2*c learnable numbers (weight and bias); the projection is a 1×1 conv plus a BatchNorm.")
def _check_bottleneck_params(bottleneck_params) -> None:
    for inplanes, planes, project in [(64, 64, True), (256, 64, False), (256, 128, True), (1024, 256, False),
                                      (1024, 512, True), (48, 12, True)]:
        stride = 2 if project and inplanes != 64 else 1
        ds = _reference_projection(inplanes, planes * 4, stride) if project else None
        expected = count_parameters(TVBottleneck(inplanes, planes, stride, ds))
        got = bottleneck_params(inplanes, planes, project)
        assert isinstance(got, int) or (hasattr(got, "__int__") and float(got) == int(got)), (
            f"return a whole number, got {got!r}"
        )
        got = int(got)
        if got != expected:
            no_proj = expected - (inplanes * planes * 4 + 2 * planes * 4 if project else 0)
            bn = 2 * (planes + planes + 4 * planes) + (2 * 4 * planes if project else 0)
            why = ""
            if got == expected - bn:
                why = ": you left out the BatchNorm parameters (weight and bias per channel)"
            elif project and got == no_proj:
                why = ": you left out the projection shortcut (1×1 conv + BatchNorm)"
            raise AssertionError(
                f"bottleneck_params({inplanes}, {planes}, projection={project}) = {got:,}, expected {expected:,}{why}"
            )


_SHAPE_KEYS = ("maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc")


def resnet50_shapes(batch: int = 2, size: int = 160) -> dict[str, tuple[int, ...]]:
    """The true output shapes of resnet50's top-level stages for a [batch, 3, size, size] input."""
    rows = shape_table(resnet50(weights=None), (batch, 3, size, size), depth=1)
    return {r.name: r.shape for r in rows if r.name in _SHAPE_KEYS}


@exercise("01.4", "the output shapes of resnet50's maxpool, layer1–4, avgpool and fc for a [2, 3, 160, 160] batch",
          hint="the stem (stride-2 conv, then stride-2 max pool) divides H and W by 4; layer2, layer3 and layer4 "
               "halve them again; a Bottleneck stage outputs planes × 4 channels (64·4 = 256 in layer1).")
def _check_shapes(answer) -> None:
    assert isinstance(answer, dict), f"give a dict like {{'layer1': (2, C, H, W), …}}, got {type(answer).__name__}"
    expected = resnet50_shapes()
    missing = [k for k in _SHAPE_KEYS if k not in answer]
    assert not missing, f"the dict lacks the keys {missing}"
    for key in _SHAPE_KEYS:
        value = answer[key]
        try:
            got = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise AssertionError(f"{key}: give a tuple of ints like (2, 64, 40, 40), got {value!r}") from None
        if got != expected[key]:
            hint = ""
            if len(got) == len(expected[key]) == 4 and got[1] * 4 == expected[key][1]:
                hint = ": remember the Bottleneck's expansion (its last 1×1 conv outputs planes × 4)"
            elif len(got) == len(expected[key]) == 4 and got[1] == expected[key][1] and got[2] != expected[key][2]:
                hint = ": check the spatial size, counting every stride-2 step (stem conv, max pool, layer2–4)"
            elif len(got) != len(expected[key]):
                hint = f": it has {len(expected[key])} dimensions"
            raise AssertionError(f"{key} outputs {expected[key]}, not {got}{hint}")
