"""Reference solutions for notebook 10, and typical wrong answers the checkers must reject."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PreActBlock", "SOLUTIONS", "WRONG", "smoothed_cross_entropy", "warmup_cosine"]


class PreActBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return out + identity


def smoothed_cross_entropy(logits, target, eps):
    log_p = logits.log_softmax(dim=1)
    n, c = logits.shape
    q = torch.full_like(log_p, eps / c)
    q[torch.arange(n), target] += 1 - eps
    return -(q * log_p).sum(dim=1).mean()


def warmup_cosine(step, total_steps, warmup_steps, peak_lr):
    if step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    t = (step - warmup_steps) / (total_steps - warmup_steps)
    return peak_lr * 0.5 * (1 + math.cos(math.pi * t))


# 10.1 — a learner's typical slips
class _ReluAfterAddition(PreActBlock):  # the original block's last ReLU kept
    def forward(self, x):
        return F.relu(super().forward(x))


class _PostActivationOrder(PreActBlock):  # conv → BN → ReLU, the original order, with bn1 over planes
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__(inplanes, planes, stride, downsample)
        self.bn1 = nn.BatchNorm2d(planes)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return out + identity


class _ShortcutFromPreactivated(PreActBlock):  # the shortcut takes relu(bn1(x)) instead of x
    def forward(self, x):
        x = F.relu(self.bn1(x))
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv2(F.relu(self.bn2(self.conv1(x))))
        return out + identity


class _AddsIntoInput(PreActBlock):  # saves memory by adding into x: the caller's tensor changes
    def forward(self, x):
        out = self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))
        if self.downsample is not None:
            return out + self.downsample(x)
        x += out
        return x


class _IgnoresDownsample(PreActBlock):
    def forward(self, x):
        out = self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))
        return out + x


class _NoSecondRelu(PreActBlock):
    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(self.bn2(out))
        return out + identity


class _Bn1OverPlanes(PreActBlock):  # right whenever inplanes == planes, wrong where a stage widens
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__(inplanes, planes, stride, downsample)
        self.bn1 = nn.BatchNorm2d(planes)


class _StrideOnConv2(PreActBlock):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__(inplanes, planes, 1, downsample)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, padding=1, bias=False)


# 10.2
def _plain_cross_entropy(logits, target, eps):  # eps ignored
    return F.cross_entropy(logits, target)


def _smoothing_over_c_minus_1(logits, target, eps):
    log_p = logits.log_softmax(dim=1)
    n, c = logits.shape
    q = torch.full_like(log_p, eps / (c - 1))
    q[torch.arange(n), target] = 1 - eps
    return -(q * log_p).sum(dim=1).mean()


def _summed_over_batch(logits, target, eps):
    return smoothed_cross_entropy(logits, target, eps) * len(target)


def _naive_log_of_softmax(logits, target, eps):  # exp overflows for large logits
    p = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
    log_p = p.log()
    n, c = logits.shape
    q = torch.full_like(log_p, eps / c)
    q[torch.arange(n), target] += 1 - eps
    return -(q * log_p).sum(dim=1).mean()


def _forgot_the_uniform_part(logits, target, eps):
    return (1 - eps) * F.cross_entropy(logits, target)


def _eps_not_divided_by_c(logits, target, eps):
    log_p = logits.log_softmax(dim=1)
    n, _ = logits.shape
    q = torch.full_like(log_p, eps)
    q[torch.arange(n), target] += 1 - eps
    return -(q * log_p).sum(dim=1).mean()


def _shifts_logits_in_place(logits, target, eps):  # the max-trick, done in place on the caller's tensor
    with torch.no_grad():
        logits -= logits.max(dim=1, keepdim=True).values
    return smoothed_cross_entropy(logits, target, eps)


def _one_loss_per_image(logits, target, eps):
    log_p = logits.log_softmax(dim=1)
    n, c = logits.shape
    q = torch.full_like(log_p, eps / c)
    q[torch.arange(n), target] += 1 - eps
    return -(q * log_p).sum(dim=1)


# 10.3
def _warmup_from_zero(step, total_steps, warmup_steps, peak_lr):  # step 0 trains with LR 0
    if step < warmup_steps:
        return peak_lr * step / warmup_steps
    return warmup_cosine(step, total_steps, warmup_steps, peak_lr)


def _cosine_over_all_steps(step, total_steps, warmup_steps, peak_lr):
    if step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    return peak_lr * 0.5 * (1 + math.cos(math.pi * (step - warmup_steps) / total_steps))


def _cosine_without_offset(step, total_steps, warmup_steps, peak_lr):
    if step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    return peak_lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))


def _divides_by_zero_without_warmup(step, total_steps, warmup_steps, peak_lr):
    warm = peak_lr * (step + 1) / warmup_steps
    if step < warmup_steps:
        return warm
    return peak_lr * 0.5 * (1 + math.cos(math.pi * (step - warmup_steps) / (total_steps - warmup_steps)))


def _full_cosine(step, total_steps, warmup_steps, peak_lr):  # cos from 1 to −1: negative LRs
    if step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    return peak_lr * math.cos(math.pi * (step - warmup_steps) / (total_steps - warmup_steps))


def _peak_hard_coded(step, total_steps, warmup_steps, peak_lr):
    return warmup_cosine(step, total_steps, warmup_steps, 1.0)


def _decay_one_step_late(step, total_steps, warmup_steps, peak_lr):
    if step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    return peak_lr * 0.5 * (1 + math.cos(math.pi * (step - warmup_steps + 1) / (total_steps - warmup_steps)))


SOLUTIONS = {"10.1": PreActBlock, "10.2": smoothed_cross_entropy, "10.3": warmup_cosine}
WRONG = {
    "10.1": [
        _ReluAfterAddition,
        _PostActivationOrder,
        _ShortcutFromPreactivated,
        _AddsIntoInput,
        _IgnoresDownsample,
        _NoSecondRelu,
        _Bn1OverPlanes,
        _StrideOnConv2,
    ],
    "10.2": [
        _plain_cross_entropy,
        _smoothing_over_c_minus_1,
        _summed_over_batch,
        _naive_log_of_softmax,
        _forgot_the_uniform_part,
        _eps_not_divided_by_c,
        _shifts_logits_in_place,
        _one_loss_per_image,
    ],
    "10.3": [
        _warmup_from_zero,
        _cosine_over_all_steps,
        _cosine_without_offset,
        _divides_by_zero_without_warmup,
        _full_cosine,
        _peak_hard_coded,
        _decay_one_step_late,
    ],
}
