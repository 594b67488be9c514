"""Checkers for notebook 01 (residual blocks)."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torchvision.models import resnet50
from torchvision.models.resnet import Bottleneck as TVBottleneck

from ..inspect.hooks import HookSet
from ..models.surgery import randomise_batchnorm
from . import exercise
from ._fixtures import shape_of

__all__ = ["resnet50_shapes"]


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _reference_projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))


def _out_hw(h: int, w: int, stride: int) -> tuple[int, int]:
    return (h - 1) // stride + 1, (w - 1) // stride + 1


@exercise(
    "01.1",
    "shortcut(in_channels, out_channels, stride): the identity when shapes match, else a 1×1 projection",
    hint="the shapes match only when both the channels and the stride stay the same; a projection is "
    "one 1×1 convolution carrying the block's stride, then a BatchNorm (look up nn.Conv2d's bias "
    "argument and nn.Sequential).",
)
def _check_shortcut(shortcut) -> None:
    g = torch.Generator().manual_seed(1)
    for c_in, c_out, stride in [(16, 16, 1), (16, 32, 2), (16, 64, 1), (32, 32, 2), (8, 16, 1), (24, 24, 1)]:
        call = f"shortcut({c_in}, {c_out}, {stride})"
        sc = shortcut(c_in, c_out, stride)
        assert isinstance(sc, nn.Module), f"{call} must return an nn.Module, got {type(sc).__name__}"
        x = torch.randn(2, c_in, 8, 6, generator=g)  # non-square, so H and W cannot be swapped unseen
        expected = (2, c_out, *_out_hw(8, 6, stride))
        if c_in == c_out and stride == 1:
            assert _n_params(sc) == 0, (
                f"{call}: the shapes already match, so the skip must be the plain identity "
                "(no parameters): a projection here only adds cost"
            )
            with torch.no_grad():
                out = sc.eval()(x)
            assert isinstance(out, torch.Tensor) and torch.equal(out, x), f"{call} must return its input unchanged"
            continue
        assert _n_params(sc) > 0, (
            f"{call} has no parameters, but here the shapes change "
            f"({'channels' if c_in != c_out else 'resolution'}): it needs a projection"
        )
        convs = [m for m in sc.modules() if isinstance(m, nn.Conv2d)]
        assert len(convs) == 1 and convs[0].kernel_size == (1, 1), (
            f"{call}: use exactly one 1×1 convolution, got kernels {[tuple(c.kernel_size) for c in convs]}"
        )
        conv = convs[0]
        assert (conv.in_channels, conv.out_channels) == (c_in, c_out), (
            f"{call}: the 1×1 conv maps {conv.in_channels} → {conv.out_channels} channels, expected {c_in} → {c_out}: "
            "use the arguments, not fixed numbers"
        )
        assert conv.stride == (stride, stride), (
            f"{call}: the 1×1 conv has stride {conv.stride[0]}, the block's stride is {stride}: the shortcut must "
            "change the resolution exactly as the residual branch does"
        )
        assert conv.bias is None, "the 1×1 conv needs no bias (bias=False): the BatchNorm after it has one"
        bns = [m for m in sc.modules() if isinstance(m, nn.BatchNorm2d)]
        assert bns, "follow the 1×1 conv with a BatchNorm2d over the output channels"
        assert bns[0].num_features == c_out, (
            f"{call}: the BatchNorm normalises {bns[0].num_features} channels; it comes after the conv, "
            f"so it sees the {c_out} output channels"
        )
        ref = randomise_batchnorm(_reference_projection(c_in, c_out, stride), seed=c_in + c_out)
        try:
            sc.load_state_dict(ref.state_dict(), strict=True)
        except RuntimeError:
            raise AssertionError(
                f"{call}: torchvision's downsample weights do not load into it: build it as "
                "nn.Sequential(conv, bn), in that order, with nothing else that has parameters"
            ) from None
        for mode in ("eval", "train"):
            ref.train(mode == "train")
            sc.train(mode == "train")
            with torch.no_grad():
                out, want = sc(x), ref(x)
            assert isinstance(out, torch.Tensor) and tuple(out.shape) == expected, (
                f"{call} must map {list(x.shape)} to {list(expected)}, got {shape_of(out)}"
            )
            if not torch.allclose(out, want, atol=1e-5):
                if (out >= 0).all() and (want < 0).any():
                    raise AssertionError(
                        f"{call}: the output has no negative values: no ReLU in the shortcut "
                        "(the block applies ReLU after the addition)"
                    )
                raise AssertionError(f"{call}: in {mode} mode the output differs from conv 1×1 → BatchNorm2d")


_PARTS = ("conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "downsample")
_PART_ADVICE = {
    "conv1": "conv1 (1×1, inplanes → planes, stride 1) must get the block's input x",
    "bn1": "bn1 comes right after conv1",
    "conv2": "between bn1 and conv2 comes a ReLU (plain nn.ReLU: ReLU6 would clip at 6)",
    "bn2": "bn2 comes right after conv2",
    "conv3": "between bn2 and conv3 comes a ReLU (plain nn.ReLU: ReLU6 would clip at 6)",
    "bn3": "bn3 comes right after conv3, with no ReLU before the addition",
    "downsample": "apply downsample to the block's input x, when it is given",
}


def _first_difference(
    mine: nn.Module, ref: nn.Module, x: torch.Tensor
) -> tuple[str | None, torch.Tensor, torch.Tensor]:
    """The first of conv1 … downsample whose output differs between the blocks (None: all agree),
    and the reference's residual branch bn3(…) and shortcut, for diagnosing how they were combined."""
    outs: dict[tuple[str, str], torch.Tensor] = {}
    with HookSet() as hooks:
        for tag, net in (("mine", mine), ("ref", ref)):
            for name in _PARTS:
                part = getattr(net, name, None)
                if isinstance(part, nn.Module):
                    hooks.forward(part, lambda m, i, o, key=(tag, name): outs.__setitem__(key, o.detach().clone()))
        with torch.no_grad():
            mine(x)
            ref(x)
    branch, skip = outs[("ref", "bn3")], outs.get(("ref", "downsample"), x)
    for name in _PARTS:
        a, b = outs.get(("mine", name)), outs.get(("ref", name))
        if (a is None) != (b is None) or (
            a is not None and (a.shape != b.shape or not torch.allclose(a, b, atol=1e-4))
        ):
            return name, branch, skip
    return None, branch, skip


def _block_configs() -> list[tuple[int, int, int, bool]]:
    return [(64, 16, 1, False), (32, 16, 1, True), (64, 16, 2, True), (64, 32, 2, True)]


@exercise(
    "01.2",
    "Bottleneck(inplanes, planes, stride, downsample): 1×1 reduce → 3×3 → 1×1 expand ×4, plus the skip",
    hint="three conv–BatchNorm pairs (1×1, 3×3, 1×1) without conv biases; torchvision puts the stride on the "
    "3×3 conv; the shortcut is x, or downsample(x) when given; one ReLU after each of the first two "
    "pairs and one after the addition.",
)
def _check_bottleneck(block_cls) -> None:
    g = torch.Generator().manual_seed(3)
    for inplanes, planes, stride, project in _block_configs():
        downsample = _reference_projection(inplanes, planes * 4, stride) if project else None
        ref = TVBottleneck(inplanes, planes, stride, copy.deepcopy(downsample))
        randomise_batchnorm(ref, seed=inplanes + planes + stride)
        config = f"Bottleneck({inplanes}, {planes}, stride={stride}, downsample={'projection' if project else None})"
        mine = block_cls(inplanes, planes, stride, copy.deepcopy(downsample))
        assert isinstance(mine, nn.Module), f"{getattr(block_cls, '__name__', block_cls)} must build an nn.Module"
        assert getattr(mine, "expansion", None) == 4, "give the class the attribute expansion = 4 (output = planes * 4)"
        n_mine, n_ref = _n_params(mine), _n_params(ref)
        assert n_mine == n_ref, f"{config} has {n_mine:,} parameters, torchvision's has {n_ref:,}" + (
            ": a conv has a bias that the BatchNorm after it makes useless (bias=False)"
            if any(isinstance(m, nn.Conv2d) and m.bias is not None for m in mine.modules())
            else ""
        )
        try:
            mine.load_state_dict(ref.state_dict(), strict=True)
        except RuntimeError as exc:
            lines = str(exc).splitlines()
            first = lines[1].strip() if len(lines) > 1 else str(exc)
            raise AssertionError(
                f"{config}: torchvision's weights do not load ({first}); name the layers conv1, bn1, conv2, bn2, "
                "conv3, bn3 and downsample"
            ) from None
        convs = [
            m for name, m in mine.named_modules() if isinstance(m, nn.Conv2d) and not name.startswith("downsample")
        ]
        assert stride == 1 or any(c.stride != (1, 1) for c in convs), (
            f"{config}: none of the block's convolutions has stride {stride}: use the stride argument (on conv2)"
        )
        # relu'd like a block input, scaled so that values above 6 occur (ReLU6 would clip them); non-square
        x = 8 * torch.relu(torch.randn(2, inplanes, 8, 6, generator=g))
        for mode in ("eval", "train"):
            ref.train(mode == "train")
            mine.train(mode == "train")
            with torch.no_grad():
                expected, got = ref(x), mine(x)
            assert isinstance(got, torch.Tensor) and got.shape == expected.shape, (
                f"{config}: output shape {shape_of(got)}, expected {list(expected.shape)}"
                + (
                    ": the block must apply its stride (on the 3×3 conv)"
                    if isinstance(got, torch.Tensor) and got.shape[-2:] == x.shape[-2:] and stride == 2
                    else ""
                )
            )
            if torch.allclose(got, expected, atol=1e-4, rtol=1e-4):
                continue
            if stride == 2 and getattr(mine.conv1, "stride", (1, 1)) != (1, 1):
                raise AssertionError(
                    "put the stride on the 3×3 conv (conv2), not on conv1, as torchvision does "
                    "(the 'ResNet v1.5' layout: a strided 1×1 conv would skip 3/4 of the pixels)"
                )
            part, branch, skip = _first_difference(mine, ref, x)
            if part is not None:
                raise AssertionError(
                    f"{config}, {mode} mode: the output of {part} differs from torchvision's: {_PART_ADVICE[part]}"
                )
            for candidate, why in [
                (torch.relu(branch), "the output ignores the shortcut: add x (or downsample(x)) to bn3's output"),
                (branch + skip, "negative outputs: apply ReLU after adding the shortcut"),
                ((branch + skip).clamp(0, 6), "the output never exceeds 6: ResNet uses nn.ReLU, not ReLU6"),
                (torch.relu(branch) + skip, "apply the last ReLU after adding the shortcut, not before"),
            ]:
                if torch.allclose(got, candidate, atol=1e-4, rtol=1e-4):
                    raise AssertionError(f"{config}: {why}")
            raise AssertionError(
                f"{config}, {mode} mode: every layer agrees with torchvision's, but the output "
                "does not: add the shortcut (x or downsample(x)) to bn3's output, then apply ReLU"
            )


def _bottleneck_count(inplanes: int, planes: int, project: bool) -> int:
    ds = _reference_projection(inplanes, planes * 4, 1) if project else None
    return _n_params(TVBottleneck(inplanes, planes, 1, ds))


def _count_mistakes(inplanes: int, planes: int, project: bool) -> dict[int, str]:
    """Numbers that typical wrong formulas give, with what each got wrong."""
    out = 4 * planes
    convs = inplanes * planes + 9 * planes * planes + planes * out
    bns = 2 * (planes + planes + out)
    proj_conv, proj_bn = (inplanes * out, 2 * out) if project else (0, 0)
    total = convs + bns + proj_conv + proj_bn
    no_expansion = (
        inplanes * planes
        + 9 * planes * planes
        + planes * planes
        + 2 * 3 * planes
        + ((inplanes * planes + 2 * planes) if project else 0)
    )
    mistakes = {
        total - bns - proj_bn: "you left out the BatchNorm parameters (a weight and a bias per channel)",
        total + bns + proj_bn: "running mean and variance are buffers, not parameters: count 2 per BatchNorm channel",
        total + 6 * planes + (out if project else 0): "the convolutions have no bias (bias=False)",
        total - 6 * planes * planes: "a 3×3 conv has 3·3 = 9 weights per input–output channel pair, not 3",
        no_expansion: "the last 1×1 conv expands to planes × 4 channels",
    }
    if project:
        mistakes[total - proj_conv - proj_bn] = "you left out the projection shortcut (1×1 conv + BatchNorm)"
    mistakes.pop(total, None)
    return mistakes


@exercise(
    "01.3",
    "bottleneck_params(inplanes, planes, projection): a Bottleneck's parameter count, by formula",
    hint="add up the three convolutions (k·k·in·out weights each, no bias), the three BatchNorms "
    "(learnable numbers per channel) and, when asked, the projection shortcut.",
)
def _check_bottleneck_params(bottleneck_params) -> None:
    results = {}
    for inplanes, planes, project in [
        (64, 64, True),
        (256, 64, False),
        (256, 128, True),
        (1024, 256, False),
        (1024, 512, True),
        (48, 12, True),
        (48, 12, False),
    ]:
        expected = _bottleneck_count(inplanes, planes, project)
        call = f"bottleneck_params({inplanes}, {planes}, projection={project})"
        got = bottleneck_params(inplanes, planes, project)
        assert isinstance(got, int) or (hasattr(got, "__int__") and float(got) == int(got)), (
            f"{call}: return a whole number, got {got!r}"
        )
        got = int(got)
        results[(inplanes, planes, project)] = got
        if got != expected:
            if len(set(results.values())) == 1 and len(results) > 1:
                raise AssertionError(
                    f"your function returns {got:,} for different arguments: "
                    "compute the count from inplanes, planes and projection"
                )
            why = _count_mistakes(inplanes, planes, project).get(got, "")
            raise AssertionError(f"{call} = {got:,}, expected {expected:,}" + (f": {why}" if why else ""))


_SHAPE_KEYS = ("maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc")


def resnet50_shapes(batch: int = 2, size: int = 160) -> dict[str, tuple[int, ...]]:
    """The true output shapes of resnet50's top-level stages for a [batch, 3, size, size] input."""
    with torch.device("meta"):
        net = resnet50()
        h = torch.zeros(batch, 3, size, size)
    shapes = {}
    for name, child in net.named_children():
        h = child(torch.flatten(h, 1) if name == "fc" else h)
        shapes[name] = tuple(h.shape)
    return {k: shapes[k] for k in _SHAPE_KEYS}


def _shape_advice(key: str, got: tuple[int, ...], want: tuple[int, ...]) -> str:
    if len(got) != len(want):
        if key == "avgpool" and len(got) == 2:
            return ": AdaptiveAvgPool2d keeps 4 dimensions, [N, C, 1, 1]; the flatten happens just before fc"
        return f": it has {len(want)} dimensions" + (": fc gets a flattened [N, 2048] input" if key == "fc" else "")
    if got[0] != want[0]:
        return f": the batch dimension stays {want[0]} throughout"
    if len(got) == 4 and got[1:] == (want[2], want[3], want[1]):
        return ": PyTorch orders feature maps [N, C, H, W] (channels second)"
    if len(got) == 4 and got[1] * 4 == want[1]:
        return ": remember the Bottleneck's expansion (its last 1×1 conv outputs planes × 4)"
    if len(got) == 4 and got[1] == want[1] and got[2] != want[2]:
        if key == "layer1":
            return ": layer1 has stride 1; only the stem (conv and max pool) and layer2–4 halve H and W"
        return ": count every stride-2 step (stem conv, max pool, layer2, layer3, layer4) for a 160×160 input"
    return ""


@exercise(
    "01.4",
    "the output shapes of resnet50's maxpool, layer1–4, avgpool and fc for a [2, 3, 160, 160] batch",
    hint="follow the strides: the stem conv and the max pool each halve H and W, and so does the first block "
    "of layer2, layer3 and layer4; a Bottleneck stage outputs planes × expansion channels.",
)
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
            raise AssertionError(f"{key} outputs {expected[key]}, not {got}{_shape_advice(key, got, expected[key])}")
