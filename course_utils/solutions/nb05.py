"""Reference solutions for notebook 05, and typical wrong answers the checkers must reject."""

from __future__ import annotations

from torch import nn


def depthwise_conv(channels, kernel, stride):
    return nn.Conv2d(channels, channels, kernel, stride, padding=kernel // 2, groups=channels, bias=False)


def separable_macs(k, m, n, size):
    return k * k * m * size * size + m * n * size * size


def depthwise_intensity(channels, kernel, size):
    flops = 2 * kernel * kernel * channels * size * size
    nbytes = 4 * (2 * channels * size * size + channels * kernel * kernel)
    return flops / nbytes


def _depthwise_standard(channels, kernel, stride):
    return nn.Conv2d(channels, channels, kernel, stride, padding=kernel // 2, bias=False)


def _depthwise_no_padding(channels, kernel, stride):
    return nn.Conv2d(channels, channels, kernel, stride, groups=channels, bias=False)


def _separable_flops(k, m, n, size):
    return 2 * separable_macs(k, m, n, size)


def _depthwise_only(k, m, n, size):
    return k * k * m * size * size


def _standard_macs(k, m, n, size):
    return k * k * m * n * size * size


def _intensity_macs(channels, kernel, size):
    return depthwise_intensity(channels, kernel, size) / 2


def _intensity_no_output(channels, kernel, size):
    return 2 * kernel * kernel * channels * size * size / (4 * (channels * size * size + channels * kernel * kernel))


SOLUTIONS = {"05.1": depthwise_conv, "05.2": separable_macs, "05.3": depthwise_intensity}
WRONG = {
    "05.1": [_depthwise_standard, _depthwise_no_padding],
    "05.2": [_separable_flops, _depthwise_only, _standard_macs],
    "05.3": [_intensity_macs, _intensity_no_output],
}
