"""Reference solutions for notebook 08, and typical wrong answers the checkers must reject."""

from __future__ import annotations

from torch import nn


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


def _conv_params_no_groups(in_ch, out_ch, kernel, groups, bias=False):
    return out_ch * in_ch * kernel * kernel + (out_ch if bias else 0)


def _conv_params_no_bias(in_ch, out_ch, kernel, groups, bias=False):
    return out_ch * (in_ch // groups) * kernel * kernel


class _BottleneckDense(GroupedBottleneck):
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


def _flops_linear(depth, width, resolution):
    return depth * width * resolution


def _flops_no_resolution(depth, width, resolution):
    return depth * width**2


SOLUTIONS = {"08.1": conv_params, "08.2": GroupedBottleneck, "08.3": flops_factor}
WRONG = {
    "08.1": [_conv_params_no_groups, _conv_params_no_bias],
    "08.2": [_BottleneckDense, _BottleneckNoShortcut, _BottleneckReluBeforeAdd],
    "08.3": [_flops_linear, _flops_no_resolution],
}
