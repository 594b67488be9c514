"""Reference solutions for notebook 01, and typical wrong answers the checkers must reject."""

from __future__ import annotations

from torch import nn

__all__ = ["Bottleneck", "SHAPES", "SOLUTIONS", "WRONG", "bottleneck_params", "shortcut"]


def shortcut(in_channels, out_channels, stride):
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def bottleneck_params(inplanes, planes, projection):
    out = planes * 4
    convs = inplanes * planes + 9 * planes * planes + planes * out
    bns = 2 * (planes + planes + out)
    proj = inplanes * out + 2 * out if projection else 0
    return convs + bns + proj


SHAPES = {
    "maxpool": (2, 64, 40, 40),
    "layer1": (2, 256, 40, 40),
    "layer2": (2, 512, 20, 20),
    "layer3": (2, 1024, 10, 10),
    "layer4": (2, 2048, 5, 5),
    "avgpool": (2, 2048, 1, 1),
    "fc": (2, 1000),
}


# ----------------------------------------------------------------------------- typical wrong answers


def _shortcut_always_project(in_channels, out_channels, stride):
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))


def _shortcut_no_stride(in_channels, out_channels, stride):
    return shortcut(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()


def _shortcut_3x3(in_channels, out_channels, stride):
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False), nn.BatchNorm2d(out_channels)
    )


def _shortcut_no_bn(in_channels, out_channels, stride):
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)


class _BottleneckStrideOnConv1(Bottleneck):
    """The original paper's layout: the stride sits on the first 1×1 conv."""

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__(inplanes, planes, stride, downsample)
        self.conv1.stride = (stride, stride)
        self.conv2.stride = (1, 1)


class _BottleneckNoFinalRelu(Bottleneck):
    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out)) + identity


class _BottleneckNoSkip(Bottleneck):
    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)))


class _BottleneckExpand2(Bottleneck):
    expansion = 2


class _BottleneckWithBias(Bottleneck):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__(inplanes, planes, stride, downsample)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=True)


def _shortcut_conv_bias(in_channels, out_channels, stride):
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride), nn.BatchNorm2d(out_channels))


def _shortcut_with_relu(in_channels, out_channels, stride):
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU()
    )


def _shortcut_only_checks_stride(in_channels, out_channels, stride):
    if stride == 1:
        return nn.Identity()
    return shortcut(in_channels, out_channels, stride)


def _shortcut_bn_on_input(in_channels, out_channels, stride):
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(in_channels))


def _shortcut_hard_coded(in_channels, out_channels, stride):
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(16, 32, 1, 2, bias=False), nn.BatchNorm2d(32))


class _BottleneckRelu6(Bottleneck):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__(inplanes, planes, stride, downsample)
        self.relu = nn.ReLU6()


class _BottleneckIgnoresStride(Bottleneck):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__(inplanes, planes, 1, downsample)


class _BottleneckReluBeforeBn(Bottleneck):
    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn1(self.relu(self.conv1(x)))
        out = self.bn2(self.relu(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class _BottleneckSkipAfterRelu(Bottleneck):
    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out))) + identity


def _params_without_bn(inplanes, planes, projection):
    out = planes * 4
    return inplanes * planes + 9 * planes * planes + planes * out + (inplanes * out if projection else 0)


def _params_ignore_projection(inplanes, planes, projection):
    return bottleneck_params(inplanes, planes, False)


def _params_counts_running_stats(inplanes, planes, projection):
    return bottleneck_params(inplanes, planes, projection) + 2 * (6 * planes + (4 * planes if projection else 0))


def _params_hard_coded(inplanes, planes, projection):
    return 75_008  # layer1[0] of ResNet-50, read off a printout


def _params_no_expansion(inplanes, planes, projection):
    convs = inplanes * planes + 9 * planes * planes + planes * planes
    return convs + 2 * 3 * planes + (inplanes * planes + 2 * planes if projection else 0)


def _params_with_conv_bias(inplanes, planes, projection):
    return bottleneck_params(inplanes, planes, projection) + 6 * planes + (4 * planes if projection else 0)


def _params_kernel_3_not_9(inplanes, planes, projection):
    return bottleneck_params(inplanes, planes, projection) - 6 * planes * planes


_SHAPES_NO_EXPANSION = {
    **SHAPES,
    "layer1": (2, 64, 40, 40),
    "layer2": (2, 128, 20, 20),
    "layer3": (2, 256, 10, 10),
    "layer4": (2, 512, 5, 5),
    "avgpool": (2, 512, 1, 1),
}
_SHAPES_NO_MAXPOOL = {
    **SHAPES,
    "maxpool": (2, 64, 80, 80),
    "layer1": (2, 256, 80, 80),
    "layer2": (2, 512, 40, 40),
    "layer3": (2, 1024, 20, 20),
    "layer4": (2, 2048, 10, 10),
}
_SHAPES_FLAT_FC = {**SHAPES, "fc": (2, 1000, 1, 1)}
_SHAPES_224 = {
    **SHAPES,
    "maxpool": (2, 64, 56, 56),
    "layer1": (2, 256, 56, 56),
    "layer2": (2, 512, 28, 28),
    "layer3": (2, 1024, 14, 14),
    "layer4": (2, 2048, 7, 7),
}  # the familiar numbers, for 224×224
_SHAPES_FLAT_AVGPOOL = {**SHAPES, "avgpool": (2, 2048)}
_SHAPES_BATCH_ONE = {k: (1, *v[1:]) for k, v in SHAPES.items()}
_SHAPES_LAYER1_HALVES = {**SHAPES, "layer1": (2, 256, 20, 20)}
_SHAPES_CHANNELS_LAST = {**SHAPES, "layer1": (2, 40, 40, 256)}


SOLUTIONS = {"01.1": shortcut, "01.2": Bottleneck, "01.3": bottleneck_params, "01.4": SHAPES}
WRONG = {
    "01.1": [
        _shortcut_always_project,
        _shortcut_no_stride,
        _shortcut_3x3,
        _shortcut_no_bn,
        _shortcut_conv_bias,
        _shortcut_with_relu,
        _shortcut_only_checks_stride,
        _shortcut_bn_on_input,
        _shortcut_hard_coded,
    ],
    "01.2": [
        _BottleneckStrideOnConv1,
        _BottleneckNoFinalRelu,
        _BottleneckNoSkip,
        _BottleneckExpand2,
        _BottleneckWithBias,
        _BottleneckRelu6,
        _BottleneckIgnoresStride,
        _BottleneckReluBeforeBn,
        _BottleneckSkipAfterRelu,
    ],
    "01.3": [
        _params_without_bn,
        _params_ignore_projection,
        _params_counts_running_stats,
        _params_hard_coded,
        _params_no_expansion,
        _params_with_conv_bias,
        _params_kernel_3_not_9,
    ],
    "01.4": [
        _SHAPES_NO_EXPANSION,
        _SHAPES_NO_MAXPOOL,
        _SHAPES_FLAT_FC,
        _SHAPES_224,
        _SHAPES_FLAT_AVGPOOL,
        _SHAPES_BATCH_ONE,
        _SHAPES_LAYER1_HALVES,
        _SHAPES_CHANNELS_LAST,
    ],
}
