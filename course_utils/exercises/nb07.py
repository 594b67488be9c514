"""Checkers for notebook 07 (FAQ & pitfalls): five "spot the bug" exercises."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..device import get_device
from . import exercise

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


@exercise("07.1", "to_input(bgr, mean, std): an OpenCV-style BGR uint8 H×W×3 array → normalised RGB float tensor [3, H, W]",
          hint="three bugs: reverse the channel axis (BGR → RGB), move channels first (permute(2, 0, 1)), "
               "divide by 255 before normalising.")
def _check_to_input(to_input) -> None:
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, size=(5, 6, 3), dtype=np.uint8)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    got = to_input(bgr.copy(), _MEAN, _STD)
    assert isinstance(got, torch.Tensor), f"return a torch tensor, got {type(got).__name__}"
    assert got.shape == (3, 5, 6), f"expected shape [3, H, W] = (3, 5, 6), got {tuple(got.shape)}: channels go first"
    assert got.is_floating_point(), f"expected a float tensor, got {got.dtype}"
    ref = (torch.from_numpy(rgb).permute(2, 0, 1).float() / 255 - torch.tensor(_MEAN)[:, None, None]) \
        / torch.tensor(_STD)[:, None, None]
    assert got.abs().max() < 10, "values are far too large: scale 0–255 to 0–1 (divide by 255) before normalising"
    swapped = (torch.from_numpy(bgr).permute(2, 0, 1).float() / 255
               - torch.tensor(_MEAN)[:, None, None]) / torch.tensor(_STD)[:, None, None]
    assert not torch.allclose(got.float(), swapped, atol=1e-4), "the channels are still in BGR order: reverse them"
    assert torch.allclose(got.float(), ref, atol=1e-4), "values differ from ((rgb / 255) − mean) / std per channel"


@exercise("07.2", "to_rgb(t): a float image tensor [C, H, W] in [0, 1] with C = 1 (grey), 3 (RGB) or 4 (RGBA) → [3, H, W]",
          hint="grey: t.expand(3, -1, -1) (or repeat); RGBA: rgb · alpha + 1 · (1 − alpha) puts it on white; RGB: unchanged.")
def _check_to_rgb(to_rgb) -> None:
    g = torch.Generator().manual_seed(3)
    rgb = torch.rand(3, 4, 5, generator=g)
    grey = torch.rand(1, 4, 5, generator=g)
    alpha = torch.rand(1, 4, 5, generator=g)
    rgba = torch.cat([rgb, alpha])
    out = to_rgb(rgb.clone())
    assert isinstance(out, torch.Tensor) and out.shape == (3, 4, 5), "an RGB input must come back unchanged as [3, H, W]"
    assert torch.allclose(out, rgb), "an RGB input must come back unchanged"
    out = to_rgb(grey.clone())
    assert isinstance(out, torch.Tensor) and out.shape == (3, 4, 5), (
        f"a grey [1, H, W] input must become [3, H, W], got {tuple(getattr(out, 'shape', ()))}: repeat the channel")
    assert torch.allclose(out, grey.expand(3, -1, -1)), "grey → RGB copies the grey value into all three channels"
    out = to_rgb(rgba.clone())
    assert isinstance(out, torch.Tensor) and out.shape == (3, 4, 5), (
        f"an RGBA [4, H, W] input must become [3, H, W], got {tuple(getattr(out, 'shape', ()))}")
    assert not torch.allclose(out, rgb, atol=1e-3), (
        "dropping alpha shows hidden (transparent) pixels: blend onto white with rgb·alpha + (1 − alpha)")
    assert torch.allclose(out, rgb * alpha + (1 - alpha), atol=1e-5), "RGBA on white is rgb · alpha + 1 · (1 − alpha)"


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))


@exercise("07.3", "make_optimizer(model, lr, weight_decay): AdamW over trainable parameters only; "
                  "no weight decay on biases and normalisation parameters",
          hint="params = [p for p in model.parameters() if p.requires_grad]; decay the ones with p.ndim >= 2, "
               "put the rest in a group with weight_decay=0.0.")
def _check_make_optimizer(make_optimizer) -> None:
    torch.manual_seed(0)
    model = _Net()
    model.features.requires_grad_(False)  # a frozen backbone
    opt = make_optimizer(model, 1e-3, 0.05)
    assert isinstance(opt, torch.optim.Optimizer), f"return a torch optimizer, got {type(opt).__name__}"
    handed = [p for group in opt.param_groups for p in group["params"]]
    frozen = [p for p in model.features.parameters()]
    assert not any(p is f for p in handed for f in frozen), (
        "frozen parameters (requires_grad=False) were handed to the optimizer: filter on p.requires_grad")
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(handed) == len(trainable) and all(any(p is h for h in handed) for p in trainable), (
        "every trainable parameter must be in the optimizer exactly once")
    for group in opt.param_groups:
        for p in group["params"]:
            if p.ndim < 2:
                assert group["weight_decay"] == 0, "biases and normalisation weights (1-D) must get weight_decay=0"
            else:
                assert group["weight_decay"] == 0.05, "weight matrices and kernels (ndim ≥ 2) keep the weight decay"
            assert group["lr"] == 1e-3, "use the given learning rate"
    model.features.requires_grad_(True)
    opt = make_optimizer(model, 1e-3, 0.05)
    n = sum(len(g["params"]) for g in opt.param_groups)
    assert n == len(list(model.parameters())), "once unfrozen, all parameters must be in the optimizer"
    bn = model.features[1].weight
    assert any(p is bn and g["weight_decay"] == 0 for g in opt.param_groups for p in g["params"]), (
        "BatchNorm's weight is 1-D: no weight decay")


@exercise("07.4", "run(model, x): logits on the CPU, computed for inference on whatever device and dtype the model has",
          hint="p = next(model.parameters()); model.eval(); under torch.inference_mode(): "
               "model(x.to(p.device, p.dtype)).cpu()")
def _check_run(run) -> None:
    torch.manual_seed(1)
    x = torch.randn(2, 3, 8, 8)
    devices = [torch.device("cpu")] + ([get_device()] if get_device().type != "cpu" else [])
    for device in devices:
        for dtype in (torch.float32, torch.float64):
            if device.type == "mps" and dtype == torch.float64:
                continue
            model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.Flatten())
            model = model.to(device, dtype).train()
            out = run(model, x.clone())
            assert isinstance(out, torch.Tensor), f"return the logits tensor, got {type(out).__name__}"
            assert out.device.type == "cpu", f"bring the result back to the CPU (.cpu()), it is on {out.device}"
            assert not model.training, "the model is still in train mode: call model.eval()"
            assert not out.requires_grad, "the result still tracks gradients: use torch.inference_mode()"
            with torch.no_grad():
                ref = model(x.to(device, dtype)).cpu()
            assert torch.allclose(out.to(ref.dtype), ref, atol=1e-4), "the logits differ from model(x) in eval mode"


@exercise("07.5", "record(model, layer, x): the output of `layer` during model(x), unchanged by later in-place "
                  "operations, with no hook left behind",
          hint="handle = layer.register_forward_hook(...); store output.detach().clone(); "
               "call handle.remove() in a finally block.")
def _check_record(record) -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(3, 6, 3), nn.BatchNorm2d(6), nn.ReLU(inplace=True)).eval()
    layer = model[1]
    x = torch.randn(2, 3, 7, 7)
    with torch.no_grad():
        expected = layer(model[0](x))
    got = record(model, layer, x)
    hooks = len(layer._forward_hooks) + len(layer._forward_pre_hooks)
    assert isinstance(got, torch.Tensor), f"return the recorded tensor, got {type(got).__name__}"
    assert got.shape == expected.shape, f"expected the layer's output shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    assert hooks == 0, f"{hooks} hook(s) are still registered on the layer: keep the handle and call handle.remove()"
    assert got.min() < 0, (
        "the recording has no negative values: the in-place ReLU that runs after the layer overwrote it; "
        "store output.clone()")
    assert torch.allclose(got, expected, atol=1e-5), "the recorded tensor differs from the layer's output"
    assert not got.requires_grad, "detach the recording so it does not keep the autograd graph alive"
