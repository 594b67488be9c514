"""Reference solutions for notebook 09, and typical wrong answers the checkers must reject."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SOLUTIONS", "WRONG", "exportable_gate", "fake_quant", "fold_bn"]


def fold_bn(conv, bn):
    if bn.training:
        raise ValueError("fold only in eval mode: training-mode BatchNorm uses the batch's statistics")
    std = torch.sqrt(bn.running_var + bn.eps)
    scale = bn.weight / std
    folded = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        bias=True,
        padding_mode=conv.padding_mode,
    )
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        folded.bias.copy_(bn.bias + (bias - bn.running_mean) * scale)
    return folded


def exportable_gate(x):
    # the Python `if` became a tensor operation: one graph serves both branches
    return torch.where(x.mean(dim=(1, 2, 3), keepdim=True) > 0, x * 2, -x)


def fake_quant(x, lo, hi, num_bits=8):
    lo, hi = min(lo, 0.0), max(hi, 0.0)  # the range must contain 0 so that zero is exact
    qmax = 2**num_bits - 1
    scale = (hi - lo) / qmax
    zero_point = round(-lo / scale)
    q = torch.clamp(torch.round(x / scale) + zero_point, 0, qmax)
    return (q - zero_point) * scale


# ---- 09.1: typical wrong answers
def _fold_in_train_mode(conv, bn):
    std = torch.sqrt(bn.running_var + bn.eps)  # never checks bn.training
    folded = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        bias=True,
        padding_mode=conv.padding_mode,
    )
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * (bn.weight / std).reshape(-1, 1, 1, 1))
        folded.bias.copy_(bn.bias + (bias - bn.running_mean) * bn.weight / std)
    return folded


def _fold_without_conv_bias(conv, bn):
    assert not bn.training
    std = torch.sqrt(bn.running_var + bn.eps)
    folded = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        bias=True,
        padding_mode=conv.padding_mode,
    )
    with torch.no_grad():
        folded.weight.copy_(conv.weight * (bn.weight / std).reshape(-1, 1, 1, 1))
        folded.bias.copy_(bn.bias - bn.running_mean * bn.weight / std)
    return folded


def _fold_with_variance(conv, bn):
    assert not bn.training
    var = bn.running_var + bn.eps  # divides by σ² instead of σ
    folded = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        bias=True,
        padding_mode=conv.padding_mode,
    )
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * (bn.weight / var).reshape(-1, 1, 1, 1))
        folded.bias.copy_(bn.bias + (bias - bn.running_mean) * bn.weight / var)
    return folded


def _fold_without_eps(conv, bn):
    assert not bn.training
    std = torch.sqrt(bn.running_var)
    folded = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        bias=True,
        padding_mode=conv.padding_mode,
    )
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * (bn.weight / std).reshape(-1, 1, 1, 1))
        folded.bias.copy_(bn.bias + (bias - bn.running_mean) * bn.weight / std)
    return folded


def _fold_default_conv(conv, bn):
    # rebuilds the conv from its shape only: stride, padding and groups are lost
    assert not bn.training
    std = torch.sqrt(bn.running_var + bn.eps)
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, bias=True)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * (bn.weight / std).reshape(-1, 1, 1, 1))
        folded.bias.copy_(bn.bias + (bias - bn.running_mean) * bn.weight / std)
    return folded


def _fold_in_place(conv, bn):
    # changes the learner's conv: the original model is now wrong
    assert not bn.training
    std = torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        conv.weight.mul_((bn.weight / std).reshape(-1, 1, 1, 1))
        conv.bias = nn.Parameter(bn.bias + (bias - bn.running_mean) * bn.weight / std)
    return conv


def _fold_abs_gamma(conv, bn):
    # takes |γ| (as if γ were a scale of a standard deviation): wrong for channels with a negative γ
    assert not bn.training
    std = torch.sqrt(bn.running_var + bn.eps)
    scale = bn.weight.abs() / std
    folded = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
        conv.groups, bias=True, padding_mode=conv.padding_mode,
    )  # fmt: skip
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        folded.bias.copy_(bn.bias + (bias - bn.running_mean) * scale)
    return folded


def _fold_loses_dilation(conv, bn):
    # copies stride, padding and groups, but a dilated conv becomes a plain one
    assert not bn.training
    std = torch.sqrt(bn.running_var + bn.eps)
    scale = bn.weight / std
    folded = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, groups=conv.groups,
        bias=True, padding_mode=conv.padding_mode,
    )  # fmt: skip
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        folded.bias.copy_(bn.bias + (bias - bn.running_mean) * scale)
    return folded


def _fold_loses_padding_mode(conv, bn):
    # every argument but padding_mode: a reflect-padded conv becomes zero-padded at the border
    assert not bn.training
    std = torch.sqrt(bn.running_var + bn.eps)
    scale = bn.weight / std
    folded = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
        conv.groups, bias=True,
    )  # fmt: skip
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        folded.bias.copy_(bn.bias + (bias - bn.running_mean) * scale)
    return folded


def _fold_square_kernel(conv, bn):
    # assumes square kernels and strides: kernel_size[0] for both sides
    assert not bn.training
    std = torch.sqrt(bn.running_var + bn.eps)
    scale = bn.weight / std
    k, st = conv.kernel_size[0], conv.stride[0]
    pad = conv.padding if isinstance(conv.padding, str) else conv.padding[0]
    folded = nn.Conv2d(
        conv.in_channels, conv.out_channels, k, st, pad, conv.dilation, conv.groups, bias=True,
        padding_mode=conv.padding_mode,
    )  # fmt: skip
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.copy_((conv.weight * scale.reshape(-1, 1, 1, 1))[..., :k, :k])
        folded.bias.copy_(bn.bias + (bias - bn.running_mean) * scale)
    return folded


# ---- 09.2: typical wrong answers
def _gate_python_if(x):
    if x.mean() > 0:  # a Python decision: export fails (or bakes in one branch)
        return x * 2
    return -x


def _gate_item(x):
    return x * 2 if x.mean().item() > 0 else -x


def _gate_whole_batch(x):
    return torch.where(x.mean() > 0, x * 2, -x)  # one decision for the whole batch, not per image


def _gate_swapped(x):
    return torch.where(x.mean(dim=(1, 2, 3), keepdim=True) > 0, -x, x * 2)


def _gate_abs(x):
    return torch.where(x.mean(dim=(1, 2, 3), keepdim=True) > 0, x * 2, x.abs())


def _gate_median(x):
    return torch.where(x.flatten(1).median(dim=1).values.reshape(-1, 1, 1, 1) > 0, x * 2, -x)


def _gate_max(x):
    return torch.where(x.amax(dim=(1, 2, 3), keepdim=True) > 0, x * 2, -x)


def _gate_per_channel(x):
    return torch.where(x.mean(dim=(2, 3), keepdim=True) > 0, x * 2, -x)  # one decision per channel


def _gate_first_channel(x):
    return torch.where(x[:, :1].mean(dim=(2, 3), keepdim=True) > 0, x * 2, -x)


def _gate_non_negative(x):
    return torch.where(x.mean(dim=(1, 2, 3), keepdim=True) >= 0, x * 2, -x)  # a zero mean is not positive


def _gate_in_place(x):
    keep = x.mean(dim=(1, 2, 3), keepdim=True) > 0
    return x.mul_(torch.where(keep, 2.0, -1.0))


# ---- 09.3: typical wrong answers
def _fq_no_clamp(x, lo, hi, num_bits=8):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / (2**num_bits - 1)
    zp = round(-lo / scale)
    return (torch.round(x / scale) + zp - zp) * scale


def _fq_256_levels(x, lo, hi, num_bits=8):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    qmax = 2**num_bits
    scale = (hi - lo) / qmax
    zp = round(-lo / scale)
    return (torch.clamp(torch.round(x / scale) + zp, 0, qmax) - zp) * scale


def _fq_float_zero_point(x, lo, hi, num_bits=8):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    qmax = 2**num_bits - 1
    scale = (hi - lo) / qmax
    zp = -lo / scale  # not rounded: zero is no longer exactly representable
    return (torch.clamp(torch.round(x / scale + zp), 0, qmax) - zp) * scale


def _fq_fixed_8_bits(x, lo, hi, num_bits=8):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / 255
    zp = round(-lo / scale)
    return (torch.clamp(torch.round(x / scale) + zp, 0, 255) - zp) * scale


def _fq_truncate(x, lo, hi, num_bits=8):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    qmax = 2**num_bits - 1
    scale = (hi - lo) / qmax
    zp = round(-lo / scale)
    return (torch.clamp(torch.trunc(x / scale) + zp, 0, qmax) - zp) * scale


def _fq_range_without_zero(x, lo, hi, num_bits=8):
    qmax = 2**num_bits - 1
    scale = (hi - lo) / qmax
    zp = round(-lo / scale)
    return (torch.clamp(torch.round(x / scale) + zp, 0, qmax) - zp) * scale


def _fq_returns_integers(x, lo, hi, num_bits=8):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    qmax = 2**num_bits - 1
    scale = (hi - lo) / qmax
    zp = round(-lo / scale)
    return torch.clamp(torch.round(x / scale) + zp, 0, qmax)


SOLUTIONS = {"09.1": fold_bn, "09.2": exportable_gate, "09.3": fake_quant}
WRONG = {
    "09.1": [
        _fold_in_train_mode,
        _fold_without_conv_bias,
        _fold_with_variance,
        _fold_without_eps,
        _fold_default_conv,
        _fold_in_place,
        _fold_abs_gamma,
        _fold_loses_dilation,
        _fold_loses_padding_mode,
        _fold_square_kernel,
    ],
    "09.2": [
        _gate_python_if,
        _gate_item,
        _gate_whole_batch,
        _gate_swapped,
        _gate_abs,
        _gate_in_place,
        _gate_median,
        _gate_max,
        _gate_per_channel,
        _gate_first_channel,
        _gate_non_negative,
    ],
    "09.3": [
        _fq_no_clamp,
        _fq_256_levels,
        _fq_float_zero_point,
        _fq_fixed_8_bits,
        _fq_truncate,
        _fq_range_without_zero,
        _fq_returns_integers,
    ],
}
