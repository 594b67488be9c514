"""The small ResNet of notebook 10 for 28×28 images, its variants and two probes of its stages.

``SmallResNet`` is the CIFAR-style ResNet of He et al. (2016, §4.2): a 3×3 stem, three stages of ``depth`` blocks
at ``width``, ``2·width`` and ``4·width`` channels, global pooling and ``fc``. Its blocks are torchvision's
``BasicBlock`` (``"residual"``), the same block without its skip connection (``"plain"``) or the pre-activation
block of He et al. (2016b) (``"preact"``). :mod:`.scratch` trains it.
"""

from __future__ import annotations

import copy
import statistics

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock

from ..core.device import model_device
from ..core.errors import ExperimentError
from ..inspect.hooks import HookSet
from ._checks import positive
from .plain_vs_residual import gradient_norms

__all__ = [
    "BLOCKS",
    "PlainBlock",
    "PreActivationBlock",
    "ShortcutA",
    "SmallResNet",
    "stage_activation_std",
    "stage_gradient_norms",
]

#: The blocks a :class:`SmallResNet` can be built from.
BLOCKS = ("residual", "plain", "preact")


# --------------------------------------------------------------------------- the blocks and the network


class ShortcutA(nn.Module):
    """He et al.'s parameter-free shortcut ("option A"): keep every ``stride``-th pixel, pad the new channels with 0.

    With it a ResNet has exactly the parameters of its plain twin (He et al. 2016, §4.2).
    """

    def __init__(self, stride: int, extra_channels: int) -> None:
        super().__init__()
        self.stride, self.extra_channels = positive("stride", stride), extra_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra_channels={self.extra_channels}"


class PlainBlock(BasicBlock):
    """torchvision's ``BasicBlock`` without its skip connection: conv-BN-ReLU-conv-BN-ReLU, the same parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)))


class PreActivationBlock(nn.Module):
    """He et al.'s pre-activation block (ECCV 2016): BN-ReLU-conv-BN-ReLU-conv, then ``+ shortcut(x)``, nothing after.

    Same constructor as torchvision's ``BasicBlock``; ``downsample`` (or the identity) is applied to the
    block's input ``x``. ``bn1`` normalises the ``inplanes`` input channels, so the parameter count equals
    ``BasicBlock``'s only when ``inplanes == planes``.
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv1(F.relu(self.bn1(x)))  # not in place: x is still needed for the shortcut
        out = self.conv2(self.relu(self.bn2(out)))
        return out + identity


_BLOCK_CLASSES: dict[str, type[nn.Module]] = {
    "residual": BasicBlock,
    "plain": PlainBlock,
    "preact": PreActivationBlock,
}


class SmallResNet(nn.Module):
    """A ResNet for 28×28 greyscale images, laid out like He et al.'s CIFAR networks (§4.2): ``6n + 2`` layers.

    ``stem`` (3×3 conv to ``width`` channels), three stages of ``depth`` blocks at widths ``width``, ``2·width``,
    ``4·width`` and resolutions 28, 14, 7 (the first block of stages 2 and 3 has stride 2), global average
    pooling and ``fc``. ``block`` is ``"residual"`` (torchvision's ``BasicBlock``), ``"plain"`` (the same
    layers without skips) or ``"preact"`` (:class:`PreActivationBlock`: the stem is a bare conv and a final
    BN-ReLU comes before the pooling). Where a stage changes the shape the shortcut is :class:`ShortcutA`, so
    ``"residual"`` and ``"plain"`` have exactly the same parameters.
    """

    def __init__(
        self, block: str = "residual", width: int = 16, depth: int = 1, num_classes: int = 10, in_channels: int = 1
    ) -> None:
        super().__init__()
        if block not in _BLOCK_CLASSES:
            raise ExperimentError(f"block={block!r}: choose one of {', '.join(BLOCKS)}")
        positive("width", width)
        positive("depth", depth)
        positive("num_classes", num_classes)
        positive("in_channels", in_channels)
        self.block, self.width, self.depth = block, width, depth
        preact = block == "preact"
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        cls, inplanes, stages = _BLOCK_CLASSES[block], width, []
        for planes, stride in ((width, 1), (2 * width, 2), (4 * width, 2)):
            blocks = []
            for i in range(depth):
                s = stride if i == 0 else 1
                shortcut = None
                if block != "plain" and (s != 1 or inplanes != planes):
                    shortcut = ShortcutA(s, planes - inplanes)
                blocks.append(cls(inplanes, planes, s, shortcut))
                inplanes = planes
            stages.append(nn.Sequential(*blocks))
        self.stage1, self.stage2, self.stage3 = stages
        self.post = nn.Sequential(nn.BatchNorm2d(inplanes), nn.ReLU(inplace=True)) if preact else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, num_classes)

    @property
    def layers(self) -> int:
        """Weight layers, counted as He et al. count them: the stem, 6 × ``depth`` convs and ``fc``."""
        return 6 * self.depth + 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(self.post(x)), 1))

    def extra_repr(self) -> str:
        return f"block={self.block!r}, width={self.width}, depth={self.depth} ({self.layers} layers)"


# --------------------------------------------------------------------------- looking inside


def stage_gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """The median over each stage's conv layers of ‖∂loss/∂W‖ (``stem``, ``stage1``…``stage3``, ``fc``).

    One forward and backward pass in the model's current mode
    (:func:`~course_utils.lessons.plain_vs_residual.gradient_norms`); the BatchNorm running statistics that a
    pass in train mode updates are put back afterwards, so probing does not change the training run.
    """
    norms = gradient_norms(model, x, y)  # which puts the running statistics back itself
    groups: dict[str, list[float]] = {}
    for name, value in norms:
        groups.setdefault(name.split(".")[0], []).append(value)
    return {stage: statistics.median(values) for stage, values in groups.items()}


def stage_activation_std(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """The standard deviation of each stage's output on ``x`` as training sees it (BatchNorm on batch statistics).

    Runs a copy of the model in train mode without gradients, so the model's running statistics stay as they are.
    """
    probe = copy.deepcopy(model).train()
    out: dict[str, float] = {}
    with HookSet() as hooks, torch.no_grad():
        for name in ("stem", "stage1", "stage2", "stage3"):
            hooks.forward(getattr(probe, name), lambda m, i, o, name=name: out.__setitem__(name, float(o.std())))
        probe(x.to(model_device(model)))
    return out
