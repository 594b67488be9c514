"""Checkers for notebook 07 (FAQ & pitfalls): five "spot the bug" exercises."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..core.device import get_device
from ..models.surgery import randomise_batchnorm
from . import exercise
from ._fixtures import check_captured, check_cleanup_after_raise, shape_of

__all__ = []

_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # EfficientNet-Lite0's


def _normalised(rgb_chw: torch.Tensor, mean, std) -> torch.Tensor:
    return (rgb_chw.float() / 255 - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


@exercise(
    "07.1",
    "to_input(bgr, mean, std): an OpenCV-style BGR uint8 H×W×3 array → normalised RGB float32 tensor [3, H, W]",
    hint="three bugs: the channel order (which axis holds the colours?), the axis order PyTorch expects "
    "(look up Tensor.permute), and the value range mean/std were computed for.",
)
def _check_to_input(to_input) -> None:
    rng = np.random.default_rng(7)
    for (h, w), (mean, std) in [((5, 6), _IMAGENET), ((7, 4), _HALF)]:
        rgb = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        given = bgr.copy()
        got = to_input(given, mean, std)
        assert np.array_equal(given, bgr), "your function changed the input array in place"
        assert isinstance(got, torch.Tensor), f"return a torch tensor, got {type(got).__name__}"
        assert got.shape == (3, h, w), (
            f"for an H×W×3 = {h}×{w}×3 frame expected [3, H, W] = [3, {h}, {w}], got {list(got.shape)}: "
            "channels go first (permute(2, 0, 1))"
        )
        assert got.dtype == torch.float32, f"expected float32, got {got.dtype}: models expect float32" + (
            "; NumPy arithmetic gives float64" if got.dtype == torch.float64 else ""
        )
        t_rgb, t_bgr = torch.from_numpy(rgb).permute(2, 0, 1), torch.from_numpy(bgr).permute(2, 0, 1)
        ref = _normalised(t_rgb, mean, std)
        assert got.abs().max() < 10, "values are far too large: scale 0–255 to 0–1 (divide by 255) before normalising"
        if torch.allclose(got, ref, atol=1e-4):
            continue
        if torch.allclose(got, _normalised(t_bgr, mean, std), atol=1e-4):
            raise AssertionError("the channels are still in BGR order: reverse the last axis")
        if torch.allclose(got, _normalised(t_rgb.flip(1), mean, std), atol=1e-4) or torch.allclose(
            got, _normalised(t_bgr.flip(1), mean, std), atol=1e-4
        ):
            raise AssertionError(
                "you flipped the image upside down: reverse the channel axis (the last one), not the rows"
            )
        other = _HALF if mean == _IMAGENET[0] else _IMAGENET
        if torch.allclose(got, _normalised(t_rgb, *other), atol=1e-4):
            raise AssertionError("you used fixed mean/std values: normalise with the mean and std you are given")
        raise AssertionError("values differ from ((rgb / 255) − mean) / std per channel")


@exercise(
    "07.2",
    "to_rgb(t): a float image tensor [C, H, W] in [0, 1] with C = 1 (grey), 3 (RGB) or 4 (RGBA) → [3, H, W], "
    "transparent pixels on white, input left unchanged",
    hint="grey: the one channel becomes all three (look up Tensor.expand or repeat); RGBA: alpha compositing "
    "over a white background (alpha = 1 is opaque); RGB: unchanged.",
)
def _check_to_rgb(to_rgb) -> None:
    g = torch.Generator().manual_seed(3)
    rgb = torch.rand(3, 4, 5, generator=g)
    grey = torch.rand(1, 4, 5, generator=g)
    alpha = torch.rand(1, 4, 5, generator=g)
    alpha[0, 0], alpha[0, -1] = 1.0, 0.0  # a fully opaque and a fully transparent row
    rgba = torch.cat([rgb, alpha])
    for name, t in [("an RGB", rgb), ("a grey", grey), ("an RGBA", rgba)]:
        given = t.clone()
        out = to_rgb(given)
        assert torch.equal(given, t), (
            f"your function changed {name} input in place (e.g. mul_ on a slice of it): compute a new tensor"
        )
        assert isinstance(out, torch.Tensor) and out.shape == (3, 4, 5), (
            f"{name} [{t.shape[0]}, H, W] input must become [3, H, W], got {shape_of(out)}"
        )
    out = to_rgb(rgb.clone())
    assert torch.allclose(out, rgb), "an RGB input must come back unchanged"
    out = to_rgb(grey.clone())
    assert torch.allclose(out, grey.expand(3, -1, -1)), "grey → RGB copies the grey value into all three channels"
    out = to_rgb(rgba.clone())
    expected = rgb * alpha + (1 - alpha)
    if torch.allclose(out, expected, atol=1e-5):
        return
    if torch.allclose(out, rgb, atol=1e-3):
        raise AssertionError("dropping alpha shows hidden (transparent) pixels: blend onto white")
    if torch.allclose(out, rgb * alpha, atol=1e-5):
        raise AssertionError("that blends onto black (transparent pixels come out 0): the background is white")
    if torch.allclose(out, rgb * (1 - alpha) + alpha, atol=1e-5):
        raise AssertionError(
            "alpha = 1 means opaque: opaque pixels must keep their colour, transparent ones turn white"
        )
    raise AssertionError("RGBA on white is rgb · alpha + 1 · (1 − alpha)")


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))


def _groups_of(opt: torch.optim.Optimizer) -> dict[int, dict]:
    return {id(p): group for group in opt.param_groups for p in group["params"]}


@exercise(
    "07.3",
    "make_optimizer(model, lr, weight_decay): AdamW over trainable parameters only; "
    "no weight decay on biases and normalisation parameters",
    hint="two fixes: hand over only parameters that require gradients, and split them into two parameter "
    "groups by their number of dimensions (look up 'per-parameter options' in torch.optim's docs).",
)
def _check_make_optimizer(make_optimizer) -> None:
    for lr, wd in [(1e-3, 0.05), (3e-4, 0.2)]:  # two settings, so hard-coded numbers show
        torch.manual_seed(0)
        model = _Net()
        model.features.requires_grad_(False)  # a frozen backbone
        opt = make_optimizer(model, lr, wd)
        assert isinstance(opt, torch.optim.Optimizer), f"return a torch optimizer, got {type(opt).__name__}"
        if not isinstance(opt, torch.optim.AdamW):
            if isinstance(opt, torch.optim.Adam) and not opt.defaults.get("decoupled_weight_decay", False):
                raise AssertionError(
                    "Adam's weight_decay adds an L2 term to the gradient, which Adam then rescales; "
                    "AdamW decays the weights directly (decoupled): use torch.optim.AdamW"
                )
            if not isinstance(opt, torch.optim.Adam):
                raise AssertionError(f"the task asks for AdamW, you built {type(opt).__name__}")
        groups = _groups_of(opt)
        handed = [p for group in opt.param_groups for p in group["params"]]
        assert len(handed) == len(groups), "a parameter appears twice in the optimizer"
        assert not any(id(p) in groups for p in model.features.parameters()), (
            "frozen parameters (requires_grad=False) were handed to the optimizer: filter on p.requires_grad"
        )
        trainable = [p for p in model.parameters() if p.requires_grad]
        assert all(id(p) in groups for p in trainable), "every trainable parameter must be in the optimizer"
        for name, p in model.named_parameters():
            if id(p) not in groups:
                continue
            group = groups[id(p)]
            if p.ndim < 2:
                assert group["weight_decay"] == 0, (
                    f"{name} ({p.ndim}-D: a bias or a normalisation weight) gets weight_decay={group['weight_decay']}: "
                    "1-D parameters must get weight_decay=0 (their names do not all end in 'bias')"
                )
            else:
                assert group["weight_decay"] == wd, (
                    f"{name} ({p.ndim}-D) gets weight_decay={group['weight_decay']}, expected the given {wd}: "
                    "weight matrices and kernels (ndim ≥ 2) keep the weight decay"
                )
            assert group["lr"] == lr, (
                f"{name} gets lr={group['lr']}, expected the given {lr}: use the learning rate "
                "you are given, in every group"
            )
        model.features.requires_grad_(True)
        opt = make_optimizer(model, lr, wd)
        groups = _groups_of(opt)
        assert all(id(p) in groups for p in model.parameters()), (
            "once unfrozen, all parameters must be in the optimizer"
        )
        bn = model.features[1].weight
        assert groups[id(bn)]["weight_decay"] == 0, "BatchNorm's weight is 1-D: no weight decay"


class _Block(nn.Module):
    """conv → BatchNorm → ReLU6(inplace) → pool → linear: the ReLU6 overwrites what it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.act = nn.ReLU6(inplace=True)
        self.fc = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.act(self.bn(self.conv(x))).mean(dim=(2, 3)))


def _foreign(model: _Block, seen: list) -> list:
    """'Someone else's' hooks; the first also notes which kinds of hooks sit on the layer when it runs."""
    return [
        model.act.register_forward_pre_hook(lambda m, i: seen.append(len(m._forward_pre_hooks) > 1)),
        model.register_forward_hook(lambda m, i, o: None),
    ]


@exercise(
    "07.4",
    "record_input(model, layer, x): the tensor `layer` receives during model(x), as it was before the "
    "layer ran (even an in-place layer), without autograd graph, no hook of yours left behind (even if "
    "the forward pass raises) and other hooks left alone",
    hint="a forward hook runs after the layer, a forward pre-hook before it (look up "
    "register_forward_pre_hook); store a detached copy, and remove exactly your handle in a `finally:`.",
)
def _check_record_input(record_input) -> None:
    torch.manual_seed(2)
    model = randomise_batchnorm(_Block(), seed=2).eval()
    with torch.no_grad():
        model.bn.weight.mul_(4)  # BatchNorm outputs well outside ReLU6's [0, 6]
    pre_hooked: list[bool] = []
    foreign = _foreign(model, pre_hooked)
    for layer, name in [(model.act, "act"), (model.bn, "bn")]:
        x = torch.randn(2, 3, 7, 5)
        with torch.no_grad():
            conv = model.conv(x)
            expected = model.bn(conv).clone() if layer is model.act else conv.clone()
        got = record_input(model, layer, x)
        check_captured(model, foreign, got, expected, f"model.{name} receives")
        if not torch.allclose(got, expected, atol=1e-5):
            if layer is model.act and torch.allclose(got, expected.clamp(0, 6), atol=1e-5):
                if pre_hooked and pre_hooked[-1]:
                    raise AssertionError(
                        "your recording is clipped to [0, 6]: your pre-hook stored the tensor itself, "
                        "which the in-place ReLU6 then overwrote; store a clone"
                    )
                raise AssertionError(
                    "your recording is clipped to [0, 6]: a forward hook runs after the layer, when "
                    "the in-place ReLU6 has already overwritten its input; use a forward pre-hook"
                )
            raise AssertionError(
                f"the recorded tensor differs from what model.{name} receives: record the layer "
                "you are given, before it runs"
            )
        assert not got.requires_grad and got.grad_fn is None, (
            "the recording keeps the autograd graph alive: detach it (or run under torch.inference_mode())"
        )
    # a wrong channel count makes the forward pass raise
    check_cleanup_after_raise(lambda: record_input(model, model.act, torch.randn(2, 4, 7, 5)), model, foreign)


class _Probe(nn.Module):
    """conv → BatchNorm → dropout: records the mode, autograd state and input of each forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.Flatten())
        self.seen: list[tuple[bool, bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.training, torch.is_grad_enabled(), torch.is_inference_mode_enabled()))
        return self.body(x)


@exercise(
    "07.5",
    "run(model, x): logits on the CPU, computed in eval mode under torch.inference_mode(), on whatever "
    "device and dtype the model has (the model itself unchanged)",
    hint="read the device and dtype off one of the model's parameters and move the input there (not the model "
    "to the input); switch the mode with a method call; look up torch.inference_mode.",
)
def _check_run(run) -> None:
    torch.manual_seed(1)
    x = torch.randn(2, 3, 8, 6)
    devices = [torch.device("cpu")] + ([get_device()] if get_device().type != "cpu" else [])
    for device in devices:
        for dtype in (torch.float32, torch.float64):
            if device.type == "mps" and dtype == torch.float64:
                continue
            model = randomise_batchnorm(_Probe(), seed=3).to(device, dtype).train()
            given = x.clone()
            out = run(model, given)
            assert torch.equal(given, x), "your function changed the input tensor in place"
            p = next(model.parameters())
            assert (p.device.type, p.dtype) == (device.type, dtype), (
                f"the model is now on {p.device} in {p.dtype}, it was on {device} in {dtype}: move the input to the "
                "model, do not change the model"
            )
            assert model.seen, "call the model on the input"
            training, grad, inference = model.seen[-1]
            assert not training, "the model ran in train mode: call model.eval() (with parentheses) first"
            assert not grad or inference, (
                "the forward pass built an autograd graph (detaching the result afterwards is too late): run it under "
                "torch.inference_mode()"
            )
            assert inference, (
                "torch.no_grad() avoids the graph too, but this task asks for torch.inference_mode(): "
                "it also skips autograd's version counters, and its outputs cannot slip back into training"
            )
            assert isinstance(out, torch.Tensor), f"return the logits tensor, got {type(out).__name__}"
            assert out.device.type == "cpu", f"bring the result back to the CPU (.cpu()), it is on {out.device}"
            assert out.dtype == dtype, (
                f"the logits are {out.dtype}, the model computes in {dtype}: move the input to "
                "the model's dtype, not to a fixed one"
            )
            model.eval()
            with torch.no_grad():
                ref = model.body(x.to(device, dtype)).cpu()
            assert torch.allclose(out.to(ref.dtype), ref, atol=1e-4), "the logits differ from model(x) in eval mode"
