"""Reference solutions for notebook 08, and typical wrong answers the checkers must reject."""

from __future__ import annotations

from torch import nn

__all__ = ["GroupedBottleneck", "SOLUTIONS", "WRONG", "conv_params", "flops_factor"]


def conv_params(in_ch, out_ch, kernel, groups, bias=False):
    return out_ch * (in_ch // groups) * kernel * kernel + (out_ch if bias else 0)


class GroupedBottleneck(nn.Module):
    def __init__(self, in_ch, width, groups, out_ch):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + x)


def flops_factor(depth, width, resolution):
    return depth * width**2 * resolution**2


# 08.1
def _conv_params_no_groups(in_ch, out_ch, kernel, groups, bias=False):
    return out_ch * in_ch * kernel * kernel + (out_ch if bias else 0)


def _conv_params_no_bias(in_ch, out_ch, kernel, groups, bias=False):
    return out_ch * (in_ch // groups) * kernel * kernel


def _conv_params_one_bias(in_ch, out_ch, kernel, groups, bias=False):
    return out_ch * (in_ch // groups) * kernel * kernel + (1 if bias else 0)


def _conv_params_groups_twice(in_ch, out_ch, kernel, groups, bias=False):
    return (out_ch // groups) * (in_ch // groups) * kernel * kernel + (out_ch if bias else 0)


def _conv_params_kernel_not_squared(in_ch, out_ch, kernel, groups, bias=False):
    return out_ch * (in_ch // groups) * kernel + (out_ch if bias else 0)


def _conv_params_float(in_ch, out_ch, kernel, groups, bias=False):  # true division: 4608.0, not 4608
    return out_ch * (in_ch / groups) * kernel * kernel + (out_ch if bias else 0)


def _conv_params_kernel_3(in_ch, out_ch, kernel, groups, bias=False):
    return out_ch * (in_ch // groups) * 9 + (out_ch if bias else 0)


# 08.2
class _BottleneckDense(GroupedBottleneck):  # forgot groups= on the 3×3 conv
    def __init__(self, in_ch, width, groups, out_ch):
        super().__init__(in_ch, width, 1, out_ch)


class _BottleneckNoShortcut(GroupedBottleneck):
    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)))


class _BottleneckReluBeforeAdd(GroupedBottleneck):
    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out))) + x


class _BottleneckReLU6(GroupedBottleneck):  # MobileNet's activation in a ResNeXt block
    def __init__(self, in_ch, width, groups, out_ch):
        super().__init__(in_ch, width, groups, out_ch)
        self.relu = nn.ReLU6(inplace=True)


class _BottleneckReluBeforeBN(GroupedBottleneck):  # conv → ReLU → BN: the layer order swapped
    def forward(self, x):
        out = self.bn1(self.relu(self.conv1(x)))
        out = self.bn2(self.relu(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + x)


class _BottleneckInPlaceAdd(GroupedBottleneck):  # right numbers, but the caller's x is overwritten
    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        x += self.bn3(self.conv3(out))
        return self.relu(x)


class _BottleneckNoPadding(GroupedBottleneck):
    def __init__(self, in_ch, width, groups, out_ch):
        super().__init__(in_ch, width, groups, out_ch)
        self.conv2 = nn.Conv2d(width, width, 3, groups=groups, bias=False)


# 08.3
def _flops_linear(depth, width, resolution):
    return depth * width * resolution


def _flops_no_resolution(depth, width, resolution):
    return depth * width**2


def _flops_width_linear(depth, width, resolution):  # counts only the output channels
    return depth * width * resolution**2


def _flops_depth_squared(depth, width, resolution):
    return depth**2 * width**2 * resolution**2


def _flops_sum(depth, width, resolution):
    return depth + width**2 + resolution**2 - 2


def _flops_ignores_depth(depth, width, resolution):
    return width**2 * resolution**2


SOLUTIONS = {"08.1": conv_params, "08.2": GroupedBottleneck, "08.3": flops_factor}
WRONG = {
    "08.1": [
        _conv_params_no_groups,
        _conv_params_no_bias,
        _conv_params_one_bias,
        _conv_params_groups_twice,
        _conv_params_kernel_not_squared,
        _conv_params_float,
        _conv_params_kernel_3,
    ],
    "08.2": [
        _BottleneckDense,
        _BottleneckNoShortcut,
        _BottleneckReluBeforeAdd,
        _BottleneckReLU6,
        _BottleneckReluBeforeBN,
        _BottleneckInPlaceAdd,
        _BottleneckNoPadding,
    ],
    "08.3": [
        _flops_linear,
        _flops_no_resolution,
        _flops_width_linear,
        _flops_depth_squared,
        _flops_sum,
        _flops_ignores_depth,
    ],
}
