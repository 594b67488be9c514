"""Checkers for notebook 09 (deployment: folding, export, int8 quantization)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..deploy.export import export_program
from ..models.surgery import randomise_batchnorm
from . import NotYet, exercise

__all__ = []

#: Convolutions "any conv" covers: (in, out, kernel, stride, padding, dilation, groups, bias, padding_mode).
_CONVS = [
    (3, 8, 3, 2, 1, 1, 1, True, "zeros"),
    (8, 8, 3, 1, 1, 1, 8, False, "zeros"),  # depthwise, no bias
    (4, 6, (3, 5), (2, 1), (1, 2), 1, 2, True, "zeros"),  # non-square kernel, stride and padding; grouped
    (4, 4, 1, 1, 0, 1, 1, False, "zeros"),  # pointwise
    (4, 6, 3, 1, 2, 2, 1, True, "reflect"),  # dilated, reflection padding
    (3, 5, 3, 1, "same", 1, 1, True, "circular"),
]


def _bn_case(index: int, eps: float, seed: int) -> tuple[nn.Conv2d, nn.BatchNorm2d]:
    in_ch, out_ch, kernel, stride, padding, dilation, groups, bias, mode = _CONVS[index]
    g = torch.Generator().manual_seed(seed)
    conv = nn.Conv2d(in_ch, out_ch, kernel, stride, padding, dilation, groups, bias=bias, padding_mode=mode)
    with torch.no_grad():
        for p in conv.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    bn = randomise_batchnorm(nn.BatchNorm2d(out_ch, eps=eps), seed)  # statistics far from mean 0, variance 1
    with torch.no_grad():
        bn.running_var.mul_(0.2)  # small variances, so that a missing ε shows
        bn.weight[::2].neg_()  # a trained γ can be negative (and β, μ have both signs already)
        bn.running_mean.mul_(4)
    return conv, bn.eval()


def _call(fn, *args):
    try:
        return fn(*args)
    except (NotImplementedError, NotYet):
        raise
    except AssertionError as exc:  # the learner's own assert is their code failing, not the checker's verdict
        raise AssertionError(f"your function's own assert failed: {exc}") from None


@exercise(
    "09.1",
    "fold_bn(conv, bn): one Conv2d equal to bn(conv(x)) in eval mode, refusing a BatchNorm in train mode",
    hint="BatchNorm in eval mode is y = γ·(z − μ)/√(σ² + ε) + β, a per-output-channel scale and shift: "
    "scale the conv's weights per output channel and fold everything else into a bias; build the new conv "
    "with all of the old one's settings (stride, padding, groups).",
)
def _check_fold_bn(fold_bn) -> None:
    for index, eps in enumerate([0.1, 1e-3, 1e-5, 1e-3, 0.1, 1e-5]):
        seed, bias = index, _CONVS[index][7]
        conv, bn = _bn_case(index, eps, seed)
        before = copy.deepcopy((conv.state_dict(), bn.state_dict()))
        x = torch.randn(1, conv.in_channels, 13, 9, generator=torch.Generator().manual_seed(seed + 10))
        with torch.no_grad():
            expected = bn(conv(x))
        folded = _call(fold_bn, conv, bn)
        assert isinstance(folded, nn.Conv2d), f"return one nn.Conv2d (the folded layer), got {type(folded).__name__}"
        for key, value in before[0].items():
            assert torch.equal(conv.state_dict()[key], value), (
                f"your function changed the original conv's {key}: build a new Conv2d and leave the model untouched"
            )
        for key, value in before[1].items():
            assert torch.equal(bn.state_dict()[key], value), f"your function changed the BatchNorm's {key}"
        for attr in ("stride", "padding", "groups", "dilation", "kernel_size", "padding_mode"):
            assert getattr(folded, attr) == getattr(conv, attr), (
                f"the folded conv has {attr}={getattr(folded, attr)} but the original has {getattr(conv, attr)}: "
                "copy every setting of the original conv"
            )
        assert folded.bias is not None, "the folded conv needs a bias: that is where β and μ go"
        with torch.no_grad():
            got = folded(x)
        std = torch.sqrt(bn.running_var + bn.eps).reshape(-1, 1, 1, 1)
        w = folded.weight.detach()
        w_var = conv.weight * (bn.weight.reshape(-1, 1, 1, 1) / (bn.running_var + bn.eps).reshape(-1, 1, 1, 1))
        w_no_eps = conv.weight * (bn.weight.reshape(-1, 1, 1, 1) / bn.running_var.sqrt().reshape(-1, 1, 1, 1))
        assert not torch.allclose(w, w_var.detach(), rtol=1e-4), (
            "you divided by the variance σ² + ε; divide by the standard deviation √(σ² + ε)"
        )
        assert not (eps >= 1e-2 and torch.allclose(w, w_no_eps.detach(), rtol=1e-4)), (
            "ε is missing: BatchNorm divides by √(σ² + ε), not √σ²"
        )
        w_abs = conv.weight * bn.weight.abs().reshape(-1, 1, 1, 1) / std
        assert not torch.allclose(w, w_abs.detach(), rtol=1e-4), (
            "the sign of γ is lost: a trained BatchNorm's γ can be negative, and then it flips the channel"
        )
        w_ok = torch.allclose(w, (conv.weight * bn.weight.reshape(-1, 1, 1, 1) / std).detach(), rtol=1e-4, atol=1e-5)
        assert w_ok, "the folded weights are wrong: multiply each output channel's filter by γ/√(σ² + ε)"
        if bias:
            no_bias = (bn.bias - bn.running_mean * bn.weight / std.flatten()).detach()
            assert not torch.allclose(folded.bias.detach(), no_bias, atol=1e-5), (
                "the original conv's bias b is missing: the new bias is β + (b − μ)·γ/√(σ² + ε)"
            )
        assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4), (
            f"folded output differs from bn(conv(x)) by {(got - expected).abs().max():.2e}; the bias is β + (b − μ)·γ/√(σ² + ε)"
        )
    conv, bn = _bn_case(0, 1e-5, 3)
    bn.train()
    try:
        _call(fold_bn, conv, bn)
    except (NotImplementedError, NotYet):
        raise
    except Exception:
        assert bn.training, "your function switched the BatchNorm to eval mode; refuse instead and leave it alone"
        return
    raise AssertionError(
        "fold_bn folded a BatchNorm that is in training mode; in train mode BatchNorm normalises with "
        "each batch's own statistics, so no fixed conv equals it: raise an error instead"
    )


class _Wrap(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def _gate_reference(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x.mean(dim=(1, 2, 3), keepdim=True) > 0, x * 2, -x)


def _gate_inputs() -> torch.Tensor:
    """Four images [2, 2, 3] whose per-image mean disagrees with every other statistic a gate might use."""
    big, small = 9.0, 0.5
    img0 = torch.full((2, 2, 3), -small)  # mean > 0, but its median, channel 0 and minimum are negative
    img0[1, 0, :] = big
    img1 = torch.full((2, 2, 3), small)  # mean < 0, but its median, maximum and channel 0 are positive
    img1[1, 1, :] = -big
    img2 = torch.tensor([1.0, -1.0, 2.0, -2.0, 0.5, -0.5] * 2).reshape(2, 2, 3)  # mean exactly 0: not positive
    img3 = torch.full((2, 2, 3), -3.0)  # mean < 0 and large: the batch's mean is negative
    x = torch.stack([img0, img1, img2, img3])
    means = x.mean(dim=(1, 2, 3))
    assert means[0] > 0 > means[1] and means[2] == 0 and x.mean() < 0 and x[0].median() < 0 < x[1].median()
    return x


@exercise(
    "09.2",
    "exportable_gate(x): per image, 2·x when its mean is positive else −x, with no Python `if` on tensor values",
    hint="torch.export records tensor operations, not Python decisions: compute the condition as a tensor "
    "(one value per image, keepdim so it broadcasts) and select between both branches with torch.where.",
)
def _check_gate(exportable_gate) -> None:
    g = torch.Generator().manual_seed(0)
    x = _gate_inputs()
    original = x.clone()
    got = _call(exportable_gate, x)
    assert torch.equal(x, original), "your function changed its input in place; return a new tensor (no mul_ / *=)"
    assert isinstance(got, torch.Tensor) and got.shape == x.shape, "return a tensor of the input's shape"
    try:
        program = export_program(_Wrap(exportable_gate).eval(), torch.randn(2, 2, 5, 7, generator=g) + 1)
    except Exception:
        raise AssertionError(
            "torch.export could not capture it: a Python `if` or .item() on a tensor value is a "
            "decision the graph cannot hold"
        ) from None
    expected = _gate_reference(x)
    assert not torch.allclose(got[0], -x[0]), (
        "image 0 has a positive mean (a few large positive values, most pixels negative) but was negated: decide "
        "on the mean of each whole image, not on its median, minimum, one channel or the batch"
    )
    assert not torch.allclose(got[1], 2 * x[1]), (
        "image 1 has a negative mean (most pixels positive, a few large negative ones) but was doubled: decide on "
        "the mean of each whole image, not on its median, maximum or one channel"
    )
    assert not torch.allclose(got[1], x[1].abs()), "image 1 (negative mean) must become −x, not |x|"
    assert not torch.allclose(got[2], 2 * x[2]), "image 2's mean is exactly 0, which is not positive: it is negated"
    assert torch.allclose(got, expected), (
        "wrong values: an image whose mean is positive is doubled, every other image negated, each image on its own "
        "mean over its channels and pixels (reduce over dims 1, 2, 3 with keepdim) — one decision per image, not per "
        "channel or per batch"
    )
    for sign in (1.0, -1.0):  # the exported graph must take the other branch on other data
        y = torch.randn(2, 2, 5, 7, generator=g) + sign
        assert torch.allclose(program.module()(y), _gate_reference(y)), (
            f"the exported graph gives wrong values for images with {'positive' if sign > 0 else 'negative'} means: "
            "it baked in one branch"
        )
    one = torch.randn(1, 2, 4, 6, generator=g) - 1
    assert torch.allclose(_call(exportable_gate, one), _gate_reference(one)), "wrong for a batch of one image"


def _fake_quant_reference(x: torch.Tensor, lo: float, hi: float, num_bits: int = 8) -> torch.Tensor:
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    qmax = 2**num_bits - 1
    scale = (hi - lo) / qmax
    zp = round(-lo / scale)
    return (torch.clamp(torch.round(x / scale) + zp, 0, qmax) - zp) * scale


@exercise(
    "09.3",
    "fake_quant(x, lo, hi, num_bits): quantize to num_bits unsigned integers over [lo, hi] and back",
    hint="affine quantization: scale = range / (number of steps), an integer zero point so that 0.0 is exact, "
    "round to the nearest level, clip to the integer range, then map back to real values; "
    "the range must contain 0.",
)
def _check_fake_quant(fake_quant) -> None:
    x = torch.linspace(-3.0, 5.0, 1001)
    cases = [(-1.3, 2.7, 4), (-2.0, 4.0, 8), (0.5, 3.0, 8), (-6.0, -1.0, 6)]
    for lo, hi, bits in cases:
        original = x.clone()
        got = _call(fake_quant, x, lo, hi, bits)
        assert torch.equal(x, original), "your function changed x in place; return a new tensor"
        assert isinstance(got, torch.Tensor) and got.shape == x.shape, "return a tensor of the same shape as x"
        expected = _fake_quant_reference(x, lo, hi, bits)
        r_lo, r_hi = min(lo, 0.0), max(hi, 0.0)
        scale = (r_hi - r_lo) / (2**bits - 1)
        assert not (got.max() > r_hi * 1.5 + 1 and got.min() >= 0), (
            "the result looks like the integer codes q; return the real values (q − zero_point)·scale"
        )
        zero = _call(fake_quant, torch.zeros(3), lo, hi, bits)
        assert torch.all(zero == 0), (
            f"fake_quant(0) gave {zero[0].item():.4g} for range [{lo}, {hi}]: 0.0 must be exactly representable "
            "(an integer zero point, and a range extended to contain 0)"
        )
        assert got.max() <= r_hi + scale and got.min() >= r_lo - scale, (
            f"values outside [{r_lo}, {r_hi}] were not clipped (got {got.min():.3g} … {got.max():.3g}): clamp the "
            "integers to [0, 2**num_bits − 1]"
        )
        levels = torch.unique(got).numel()
        assert levels <= 2**bits, f"{levels} different values for {bits} bits: at most 2**num_bits levels"
        inside = (x >= r_lo) & (x <= r_hi)
        err = (got - x)[inside].abs().max().item()
        assert err <= scale / 2 + 1e-5, (
            f"inside the range the error reaches {err:.3g}, more than half a step ({scale / 2:.3g}): round to the "
            "nearest level (torch.round), don't truncate"
        )
        assert torch.allclose(got, expected, atol=1e-5), (
            f"values differ from the expected ones for range [{lo}, {hi}] with {bits} bits: "
            "scale = (hi − lo) / (2**num_bits − 1)"
        )
