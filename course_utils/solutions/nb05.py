"""Reference solutions for notebook 05, and typical wrong answers the checkers must reject."""

from __future__ import annotations

from torch import nn

__all__ = ["SOLUTIONS", "WRONG", "depthwise_conv", "depthwise_intensity", "separable_macs"]


def depthwise_conv(channels, kernel, stride):
    return nn.Conv2d(channels, channels, kernel, stride, padding=kernel // 2, groups=channels, bias=False)


def separable_macs(k, m, n, size):
    return k * k * m * size * size + m * n * size * size


def depthwise_intensity(channels, kernel, size):
    flops = 2 * kernel * kernel * channels * size * size
    nbytes = 4 * (2 * channels * size * size + channels * kernel * kernel)
    return flops / nbytes


# 05.1 — a learner's typical slips
def _depthwise_standard(channels, kernel, stride):  # forgot groups: a standard conv
    return nn.Conv2d(channels, channels, kernel, stride, padding=kernel // 2, bias=False)


def _depthwise_no_padding(channels, kernel, stride):  # the map shrinks
    return nn.Conv2d(channels, channels, kernel, stride, groups=channels, bias=False)


def _depthwise_padding_1(channels, kernel, stride):  # right for 3×3 only
    return nn.Conv2d(channels, channels, kernel, stride, padding=1, groups=channels, bias=False)


def _depthwise_kernel_3(channels, kernel, stride):  # ignores the kernel argument
    return nn.Conv2d(channels, channels, 3, stride, padding=1, groups=channels, bias=False)


def _depthwise_ignores_stride(channels, kernel, stride):
    return nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels, bias=False)


def _depthwise_with_bias(channels, kernel, stride):  # nn.Conv2d's default bias=True
    return nn.Conv2d(channels, channels, kernel, stride, padding=kernel // 2, groups=channels)


def _depthwise_multiplier_2(channels, kernel, stride):  # two filters per channel
    return nn.Conv2d(channels, 2 * channels, kernel, stride, padding=kernel // 2, groups=channels, bias=False)


def _depthwise_block(channels, kernel, stride):  # the whole block instead of the conv
    return nn.Sequential(depthwise_conv(channels, kernel, stride), nn.BatchNorm2d(channels), nn.ReLU6())


# 05.2
def _separable_flops(k, m, n, size):
    return 2 * separable_macs(k, m, n, size)


def _depthwise_only(k, m, n, size):
    return k * k * m * size * size


def _standard_macs(k, m, n, size):
    return k * k * m * n * size * size


def _kernel_not_squared(k, m, n, size):
    return k * m * size * size + m * n * size * size


def _size_not_squared(k, m, n, size):
    return k * k * m * size + m * n * size


def _kernel_3_hard_coded(k, m, n, size):
    return 9 * m * size * size + m * n * size * size


# 05.3
def _intensity_macs(channels, kernel, size):
    return depthwise_intensity(channels, kernel, size) / 2


def _intensity_no_output(channels, kernel, size):
    return 2 * kernel * kernel * channels * size * size / (4 * (channels * size * size + channels * kernel * kernel))


def _intensity_no_weights(channels, kernel, size):
    return 2 * kernel * kernel * channels * size * size / (4 * 2 * channels * size * size)


def _intensity_one_byte(channels, kernel, size):
    return 2 * kernel * kernel * channels * size * size / (2 * channels * size * size + channels * kernel * kernel)


def _intensity_standard_conv(channels, kernel, size):
    flops = 2 * kernel * kernel * channels * channels * size * size
    return flops / (4 * (2 * channels * size * size + channels * channels * kernel * kernel))


def _intensity_floor_division(channels, kernel, size):
    flops = 2 * kernel * kernel * channels * size * size
    return flops // (4 * (2 * channels * size * size + channels * kernel * kernel))


SOLUTIONS = {"05.1": depthwise_conv, "05.2": separable_macs, "05.3": depthwise_intensity}
WRONG = {
    "05.1": [
        _depthwise_standard,
        _depthwise_no_padding,
        _depthwise_padding_1,
        _depthwise_kernel_3,
        _depthwise_ignores_stride,
        _depthwise_with_bias,
        _depthwise_multiplier_2,
        _depthwise_block,
    ],
    "05.2": [
        _separable_flops,
        _depthwise_only,
        _standard_macs,
        _kernel_not_squared,
        _size_not_squared,
        _kernel_3_hard_coded,
    ],
    "05.3": [
        _intensity_macs,
        _intensity_no_output,
        _intensity_no_weights,
        _intensity_one_byte,
        _intensity_standard_conv,
        _intensity_floor_division,
    ],
}
