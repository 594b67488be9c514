"""Deep plain and residual twin CNNs, and the measurements that tell them apart (notebook 01): the gradient
norm reaching each layer at initialisation, and how much each residual block changes its input.

``deep_cnn(d, residual=True)`` and ``deep_cnn(d, residual=False)`` have the same layers and, from the same
seed, the same weights; only the skip connections differ::

    norms = gradient_norms(deep_cnn(16, residual=True), x[:64], y[:64])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from ..core.device import buffers_kept, model_device
from ..core.errors import ExperimentError
from ..inspect.hooks import HookSet
from ._checks import positive

__all__ = ["TwinBlock", "block_changes", "deep_cnn", "gradient_norms"]


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
    positive("depth", depth)
    positive("width", width)
    positive("num_classes", num_classes)
    positive("in_channels", in_channels)
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.Sequential(*(TwinBlock(width, residual) for _ in range(depth))),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, num_classes),
    )


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
