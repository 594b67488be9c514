"""Tools for studying residual networks: deep plain/residual CNNs, gradient norms, a patch dataset
cut from the bundled photos, shape tables and block probes (training on real data: notebook 10).

The learner writes the blocks themselves (notebook 01); this module holds the plumbing that
the experiments around them need, so that later notebooks can reuse it::

    from course_utils.lessons import residual as rb
    x, y, classes = rb.photo_patches()
    norms = rb.gradient_norms(rb.deep_cnn(16, residual=True), x[:64], y[:64])
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from ..core.device import buffers_kept, eval_mode, model_device
from ..core.errors import ExperimentError
from ..data.images import SAMPLE_IMAGES, sample_image
from ..inspect.hooks import HookSet
from ..measure.flops import count_params
from ..measure.report import format_table

__all__ = [
    "Patches",
    "ShapeRow",
    "TwinBlock",
    "block_changes",
    "deep_cnn",
    "format_shape_table",
    "gradient_norms",
    "photo_patches",
    "shape_table",
]


def _positive(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ExperimentError(f"{name}={value!r}: must be a positive whole number")
    return value


# --------------------------------------------------------------------------- deep plain / residual CNNs


class TwinBlock(nn.Module):
    """conv3×3-BN-ReLU-conv3×3-BN, then ``+ x`` when ``residual``, then ReLU.

    With ``residual=False`` it is the *plain twin*: exactly the same layers and parameters,
    without the skip connection.
    """

    def __init__(self, channels: int, residual: bool = True) -> None:
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + x if self.residual else out)

    def extra_repr(self) -> str:
        return f"residual={self.residual}"


def deep_cnn(depth: int, residual: bool, width: int = 16, num_classes: int = 5, in_channels: int = 3) -> nn.Sequential:
    """A stem conv, ``depth`` :class:`TwinBlock` s (``2 * depth`` 3×3 convs), global pooling and a linear head.

    ``deep_cnn(d, residual=True)`` and ``deep_cnn(d, residual=False)`` have identical layers and
    parameter counts; with the same seed they also start from identical weights.
    """
    _positive("depth", depth)
    _positive("width", width)
    _positive("num_classes", num_classes)
    _positive("in_channels", in_channels)
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.Sequential(*(TwinBlock(width, residual) for _ in range(depth))),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, num_classes),
    )


# --------------------------------------------------------------------------- gradients and training


def _check_batch(x: torch.Tensor, y: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise ExperimentError(f"x and y must be tensors, got {type(x).__name__} and {type(y).__name__}")
    if x.ndim != 4 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
        raise ExperimentError(
            f"expected images x of shape [N, C, H, W] and labels y of shape [N], got {tuple(x.shape)} and {tuple(y.shape)}"
        )


def gradient_norms(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    layer_types: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear),
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
) -> list[tuple[str, float]]:
    """L2 norm of the loss gradient w.r.t. each layer's weight, input side first: ``[(name, norm), …]``.

    One forward and backward pass on ``(x, y)`` in the model's current mode; the gradients and the running
    statistics that a pass in train mode changes are put back afterwards, so the model is left as it was.
    """
    _check_batch(x, y)
    device = model_device(model)
    grads = {id(p): p.grad for p in model.parameters()}
    model.zero_grad(set_to_none=True)
    try:
        with buffers_kept(model):
            loss = loss_fn(model(x.to(device)), y.to(device))
            loss.backward()
        norms = [
            (name, float(m.weight.grad.norm()))
            for name, m in model.named_modules()
            if isinstance(m, layer_types) and m.weight.grad is not None
        ]
    finally:
        for p in model.parameters():
            p.grad = grads[id(p)]
    if not norms:
        raise ExperimentError(
            f"{type(model).__name__} has no {', '.join(t.__name__ for t in layer_types)} layers with gradients"
        )
    return norms


# --------------------------------------------------------------------------- a small real dataset, offline


@dataclass(frozen=True)
class Patches:
    """Image patches ``images`` [N, 3, S, S] (normalised), integer ``labels`` [N] and the class names."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]

    def __iter__(self):  # allows ``x, y, classes = photo_patches()``
        return iter((self.images, self.labels, self.classes))


def photo_patches(
    n_per_photo: int = 128,
    size: int = 16,
    min_frac: float = 0.15,
    max_frac: float = 0.4,
    photos: Iterable[str] | None = None,
    seed: int = 0,
) -> Patches:
    """A small real classification set: random square crops of the bundled photos, labelled by photo.

    For each photo, ``n_per_photo`` crops with a side between ``min_frac`` and ``max_frac`` of
    the photo's shorter side are cut at random places, randomly mirrored and resized to
    ``size``×``size``. The task — which photo does this patch come from? — needs colour and
    texture, so a CNN can learn it. Deterministic for a given ``seed``; built in memory in about
    a second; per-channel normalised to mean 0, std 1.
    """
    _positive("n_per_photo", n_per_photo)
    _positive("size", size)
    if not 0 < min_frac <= max_frac <= 1:
        raise ExperimentError(f"min_frac={min_frac}, max_frac={max_frac}: need 0 < min_frac <= max_frac <= 1")
    names = list(photos) if photos is not None else list(SAMPLE_IMAGES)
    if len(names) < 2:
        raise ExperimentError(f"photos={names!r}: a classification set needs at least two photos")
    gen = torch.Generator().manual_seed(seed)
    images, labels = [], []
    for label, name in enumerate(names):
        img = sample_image(name)  # raises ImageLoadError naming the photo if unknown
        scale = 4 * size / (max(min_frac, 1e-3) * min(img.size))  # shrink first: crops need ≤4× the pixels of `size`
        if scale < 1:
            img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))))
        t = TF.to_dtype(TF.pil_to_tensor(img), torch.float32, scale=True)
        h, w = t.shape[-2:]
        short = min(h, w)
        for _ in range(n_per_photo):
            side = int(short * (min_frac + (max_frac - min_frac) * torch.rand(1, generator=gen).item()))
            side = max(side, 2)
            top = int(torch.randint(h - side + 1, (1,), generator=gen))
            left = int(torch.randint(w - side + 1, (1,), generator=gen))
            patch = TF.resized_crop(t, top, left, side, side, [size, size], antialias=True)
            if torch.rand(1, generator=gen).item() < 0.5:
                patch = TF.horizontal_flip(patch)
            images.append(patch)
            labels.append(label)
    x = torch.stack(images)
    mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)
    return Patches((x - mean) / std, torch.tensor(labels), names)


# --------------------------------------------------------------------------- inspecting networks


@dataclass(frozen=True)
class ShapeRow:
    """One line of a shape table."""

    name: str
    kind: str
    shape: tuple[int, ...]
    params: int


def shape_table(
    model: nn.Module, input_size: Sequence[int] = (1, 3, 224, 224), depth: int = 1, device: str | torch.device = "meta"
) -> list[ShapeRow]:
    """Output shape of each submodule ``depth`` levels down (and shallower leaves), in call order.

    By default the pass runs on PyTorch's ``meta`` device on a copy of the model: shapes are
    propagated without any arithmetic, so even a large network takes milliseconds.
    """
    _positive("depth", depth)
    size = tuple(input_size)
    if len(size) < 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ExperimentError(f"input_size={input_size!r}: give positive sizes, e.g. (1, 3, 224, 224)")
    device = torch.device(device)
    probe = copy.deepcopy(model).to(device) if device.type == "meta" else model
    rows: list[ShapeRow] = []

    def hook(mod, inputs, output, name):
        out = output[0] if isinstance(output, (tuple, list)) else output
        rows.append(ShapeRow(name, type(mod).__name__, tuple(out.shape), count_params(mod)))

    with HookSet() as hooks:
        for name, m in probe.named_modules():
            level = name.count(".") + 1 if name else 0
            if level == depth or (0 < level < depth and not any(True for _ in m.children())):
                hooks.forward(m, lambda mod, i, o, name=name: hook(mod, i, o, name))
        with eval_mode(probe), torch.no_grad():
            probe(torch.zeros(size, device=device))
    return rows


def format_shape_table(rows: Sequence[ShapeRow]) -> str:
    """The rows of :func:`shape_table` as an aligned text table (:func:`~course_utils.measure.format_table`)."""
    table = [
        {"layer": r.name, "type": r.kind, "output shape": str(list(r.shape)), "params": f"{r.params:,}"} for r in rows
    ]
    return format_table(table, align="<<<>")


def block_changes(
    model: nn.Module, x: torch.Tensor, block_types: tuple[type[nn.Module], ...] = (BasicBlock, Bottleneck)
) -> list[tuple[str, float]]:
    """How much each residual block changes its input: ``[(name, ‖out − in‖ / ‖in‖), …]``.

    Blocks whose output shape differs from their input (a projection shortcut) are reported as
    ``nan``. A block that starts as the identity shows 0.
    """
    rows: list[tuple[str, float]] = []

    def hook(mod, inputs, output, name=""):
        inp = inputs[0]
        if inp.shape != output.shape:
            rows.append((name, float("nan")))
        else:
            rows.append((name, float((output - inp).norm() / inp.norm().clamp_min(1e-12))))

    blocks = [(name, m) for name, m in model.named_modules() if isinstance(m, block_types)]
    if not blocks:
        raise ExperimentError(f"{type(model).__name__} holds no {', '.join(t.__name__ for t in block_types)} blocks")
    with HookSet() as hooks, buffers_kept(model), torch.no_grad():  # a pass in train mode moves BatchNorm's statistics
        for name, m in blocks:
            hooks.forward(m, lambda mod, i, o, name=name: hook(mod, i, o, name))
        model(x)
    return rows
