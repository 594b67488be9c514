"""Checkers for notebook 10 (training a ResNet from scratch)."""

from __future__ import annotations

import copy
import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn

from ..lessons.scratch import PreActivationBlock, ShortcutA
from ..models.surgery import randomise_batchnorm
from . import exercise
from ._fixtures import shape_of

__all__ = []

# --------------------------------------------------------------------------- 10.1 the pre-activation block


def _downsample(kind: str | None, inplanes: int, planes: int, stride: int) -> nn.Module | None:
    if kind == "A":
        return ShortcutA(stride, planes - inplanes)
    if kind == "projection":
        return nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
    return None


def _variants(ref: PreActivationBlock, x: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
    """Outputs of typical mistakes, computed with the reference's own layers, and what each got wrong."""
    skip = x if ref.downsample is None else ref.downsample(x)
    pre = F.relu(ref.bn1(x))
    branch = ref.conv2(F.relu(ref.bn2(ref.conv1(pre))))
    out = [
        (
            F.relu(branch + skip),
            "the output has no negative values: nothing comes after the addition in a "
            "pre-activation block (no ReLU), so the identity path stays clean from block to block",
        ),
        (branch, "the output ignores the shortcut: add x (or downsample(x)) to the second conv's output"),
        (
            ref.conv2(F.relu(ref.bn2(ref.conv1(pre)))) + (pre if ref.downsample is None else ref.downsample(pre)),
            "the shortcut carries the block's input x itself, not the normalised relu(bn1(x)): only then is it "
            "an identity path",
        ),
        (ref.conv2(ref.bn2(ref.conv1(pre))) + skip, "a ReLU belongs between bn2 and conv2 (BN → ReLU → conv, twice)"),
        (
            ref.conv2(F.relu(ref.bn2(ref.conv1(ref.bn1(x))))) + skip,
            "a ReLU belongs between bn1 and conv1 (BN → ReLU → conv, twice)",
        ),
    ]
    if ref.bn1.num_features == ref.conv1.out_channels:  # the original post-activation order loads the same weights
        post = ref.bn2(ref.conv2(F.relu(ref.bn1(ref.conv1(x)))))
        for candidate in (post + skip, F.relu(post + skip)):
            out.append(
                (
                    candidate,
                    "that is the original (post-activation) order conv → BN → ReLU; the "
                    "pre-activation block puts BN and ReLU before each conv: BN → ReLU → conv, twice",
                )
            )
    return out


@exercise(
    "10.1",
    "PreActBlock(inplanes, planes, stride, downsample): BN-ReLU-conv-BN-ReLU-conv, then + shortcut(x), nothing after",
    hint="the same four layers as a BasicBlock (bn1 over the input channels, then conv1, bn2, conv2; no conv biases) "
    "in a new order: each conv is preceded by its BatchNorm and a ReLU. The shortcut (x, or downsample(x) when "
    "given) is added at the very end, and nothing follows the addition.",
)
def _check_preact(block_cls) -> None:
    g = torch.Generator().manual_seed(10)
    configs = [
        (16, 16, 1, None),
        (8, 16, 2, "A"),
        (8, 16, 2, "projection"),
        (12, 12, 1, None),
        (6, 12, 1, "projection"),
    ]
    for k, (inplanes, planes, stride, kind) in enumerate(configs):
        call = f"PreActBlock({inplanes}, {planes}, stride={stride}, downsample={kind or None})"
        downsample = _downsample(kind, inplanes, planes, stride)
        torch.manual_seed(100 + k)
        ref = randomise_batchnorm(PreActivationBlock(inplanes, planes, stride, copy.deepcopy(downsample)), seed=k)
        block = block_cls(inplanes, planes, stride, copy.deepcopy(downsample))
        assert isinstance(block, nn.Module), f"{call} must build an nn.Module, got {type(block).__name__}"
        bn1 = getattr(block, "bn1", None)
        if isinstance(bn1, nn.BatchNorm2d) and bn1.num_features != inplanes:
            raise AssertionError(
                f"{call}: bn1 normalises {bn1.num_features} channels, but it comes first, on the block's input x: "
                f"BatchNorm2d(inplanes={inplanes})"
            )
        convs = [m for n, m in block.named_modules() if isinstance(m, nn.Conv2d) and not n.startswith("downsample")]
        assert all(c.bias is None for c in convs), (
            "the convolutions have no bias (bias=False), as in torchvision's blocks"
        )
        try:
            block.load_state_dict(ref.state_dict(), strict=True)
        except RuntimeError as exc:
            lines = str(exc).splitlines()
            first = lines[1].strip() if len(lines) > 1 else str(exc)
            raise AssertionError(
                f"{call}: the reference weights do not load ({first}); name the layers bn1, conv1, bn2, conv2 "
                "(bn1 over inplanes, conv1 inplanes → planes with the stride, bn2 and conv2 over planes) and keep "
                "downsample as given"
            ) from None
        h, w = (9, 7) if k % 2 else (8, 8)
        for mode in ("eval", "train"):
            training = mode == "train"
            ref.train(training)
            block.train(training)
            batch = 1 if not training and k == 0 else 4  # batch 1 in eval mode: nothing averages over images
            x = torch.randn(batch, inplanes, h, w, generator=g)
            untouched = x.clone()
            with torch.no_grad():
                got = block(x)
            assert torch.equal(x, untouched), (
                f"{call}: your block changed its input x in place (an in-place ReLU or += on x?): the shortcut "
                "needs the original x, and the caller's tensor must stay as it was"
            )
            with torch.no_grad():
                want = ref(x)
            assert isinstance(got, torch.Tensor) and got.shape == want.shape, (
                f"{call}: output {shape_of(got)} for input {list(x.shape)}, expected {list(want.shape)}"
                + (": apply the stride in conv1" if isinstance(got, torch.Tensor) and stride == 2 else "")
            )
            if torch.allclose(got, want, atol=1e-5, rtol=1e-4):
                continue
            with torch.no_grad():
                for candidate, why in _variants(ref, x):
                    if candidate.shape == got.shape and torch.allclose(got, candidate, atol=1e-5, rtol=1e-4):
                        raise AssertionError(f"{call}: {why}")
            if stride == 2 and getattr(getattr(block, "conv1", None), "stride", (1, 1)) != (stride, stride):
                raise AssertionError(f"{call}: the stride belongs on conv1 (the first conv), as in BasicBlock")
            raise AssertionError(
                f"{call}, {mode} mode: the output differs from bn1 → ReLU → conv1 → bn2 → ReLU → conv2, "
                "plus the shortcut of x"
            )


# --------------------------------------------------------------------------- 10.2 label smoothing by hand


def _loss_variants(logits: torch.Tensor, target: torch.Tensor, eps: float) -> list[tuple[torch.Tensor, str]]:
    n, c = logits.shape
    logp = logits.log_softmax(1)
    nll = -logp.gather(1, target[:, None]).squeeze(1)
    uniform = -logp.mean(1)
    right = (1 - eps) * nll + eps * uniform
    out = [
        (right.sum(), "you summed over the batch: return the mean over the images"),
        (nll.mean(), "the loss ignores eps: it is plain cross-entropy"),
        (
            ((1 - eps) * nll).mean(),
            "the smoothed target also puts ε/C on every class: add ε times the mean of −log p over the classes",
        ),
        (((1 - eps) * nll + eps * c * uniform).mean(), "the ε is shared among the C classes: ε/C each, not ε each"),
        (
            ((1 - eps) * nll + eps * (uniform * c - nll) / (c - 1)).mean(),
            "spread ε over all C classes, the true one "
            "included (ε/C each, as torch's label_smoothing does), not over the C − 1 wrong ones",
        ),
        (
            ((1 - eps) * nll - eps * logits.softmax(1).mean(1)).mean(),
            "the uniform part needs log-probabilities (−log p), not probabilities",
        ),
    ]
    return out


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, atol=1e-5, rtol=1e-5))


@exercise(
    "10.2",
    "smoothed_cross_entropy(logits, target, eps): cross-entropy against (1 − ε)·one-hot + ε/C, averaged over the batch",
    hint="compute log-probabilities with a numerically stable log-softmax; the loss of one image is the sum over "
    "classes of −q·log p for the smoothed target q; take the mean over the batch. torch's F.cross_entropy has a "
    "label_smoothing argument to compare with.",
)
def _check_smoothing(smoothed_cross_entropy) -> None:
    g = torch.Generator().manual_seed(20)
    for n, c, eps, scale in (
        (4, 10, 0.1, 3.0),
        (1, 3, 0.2, 2.0),
        (7, 2, 0.0, 1.0),
        (5, 10, 0.3, 4.0),
        (6, 5, 0.1, 400.0),
    ):
        case = f"for {n} image(s), {c} classes, eps={eps}" + (" and large logits" if scale > 100 else "")
        logits = scale * torch.randn(n, c, generator=g)
        target = torch.randint(c, (n,), generator=g)
        logits_in, target_in = logits.clone().requires_grad_(True), target.clone()
        got = smoothed_cross_entropy(logits_in, target_in, eps)
        with torch.no_grad():
            assert torch.equal(logits_in, logits) and torch.equal(target_in, target), (
                f"{case}: your function changed its inputs in place (e.g. logits -= …): work on new tensors"
            )
        assert isinstance(got, torch.Tensor), f"return a torch tensor (the loss), got {type(got).__name__}"
        if got.numel() == n and n > 1 and got.ndim == 1:
            raise AssertionError(f"{case}: you returned one loss per image {list(got.shape)}: average over the batch")
        assert got.numel() == 1, f"{case}: return one number (a 0-dimensional tensor), got shape {list(got.shape)}"
        got = got.reshape(())
        assert torch.isfinite(got), (
            f"{case}: the loss is {got.item()}: log(softmax(…)) overflows for large logits; use log_softmax, "
            "which subtracts the largest logit first"
        )
        want = F.cross_entropy(logits, target, label_smoothing=eps)
        if not _close(got.detach(), want):
            for candidate, why in _loss_variants(logits, target, eps):
                if _close(got.detach(), candidate):
                    raise AssertionError(f"{case}: {why}")
            raise AssertionError(
                f"{case}: expected {want.item():.5f}, got {got.item():.5f} — the target is (1 − ε) on the true class "
                "plus ε/C on every class"
            )
        assert got.requires_grad, (
            f"{case}: the loss carries no gradient (.item(), .detach() or numpy inside?): training needs to "
            "backpropagate through it"
        )
        (grad,) = torch.autograd.grad(got, logits_in)
        reference = logits.clone().requires_grad_(True)
        (want_grad,) = torch.autograd.grad(F.cross_entropy(reference, target, label_smoothing=eps), reference)
        assert torch.allclose(grad, want_grad, atol=1e-6, rtol=1e-4), (
            f"{case}: the value is right but its gradient is not: build the loss from torch operations on logits"
        )


# --------------------------------------------------------------------------- 10.3 warm-up then cosine


def _warmup_cosine(step: int, total: int, warm: int, peak: float) -> float:
    if step < warm:
        return peak * (step + 1) / warm
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warm) / (total - warm)))


def _lr_variants(total: int, warm: int, peak: float) -> list[tuple[list[float], str]]:
    def curve(f):
        try:
            return [f(s) for s in range(total)]
        except ZeroDivisionError:
            return []

    cos = math.cos
    return [
        (
            curve(lambda s: peak * s / warm if s < warm else _warmup_cosine(s, total, warm, peak)),
            "off by one in the warm-up: step 0 already trains, at peak_lr / warmup_steps; use step + 1, so that the "
            "last warm-up step reaches peak_lr",
        ),
        (
            curve(
                lambda s: (
                    _warmup_cosine(s, total, warm, peak)
                    if s < warm
                    else peak * 0.5 * (1 + cos(math.pi * (s - warm + 1) / (total - warm)))
                )
            ),
            "off by one in the decay: the cosine starts at peak_lr at step = warmup_steps (use step − warmup_steps)",
        ),
        (
            curve(
                lambda s: (
                    _warmup_cosine(s, total, warm, peak)
                    if s < warm
                    else peak * 0.5 * (1 + cos(math.pi * (s - warm) / total))
                )
            ),
            "the cosine runs over the remaining total_steps − warmup_steps steps, not over total_steps",
        ),
        (
            curve(
                lambda s: (
                    _warmup_cosine(s, total, warm, peak) if s < warm else peak * 0.5 * (1 + cos(math.pi * s / total))
                )
            ),
            "the cosine must start after the warm-up: measure its progress from step − warmup_steps",
        ),
        (
            curve(
                lambda s: (
                    _warmup_cosine(s, total, warm, peak)
                    if s < warm
                    else peak * cos(math.pi * (s - warm) / (total - warm))
                )
            ),
            "the LR went negative: a half cosine from peak_lr to 0 is peak_lr · ½ · (1 + cos(π·t))",
        ),
        (
            curve(
                lambda s: (
                    _warmup_cosine(s, total, warm, peak)
                    if s < warm
                    else peak * 0.5 * (1 + cos(math.pi * (s - warm) / (total - warm - 1)))
                )
            ),
            "the cosine reaches 0 one step too early: divide by total_steps − warmup_steps",
        ),
    ]


@exercise(
    "10.3",
    "warmup_cosine(step, total_steps, warmup_steps, peak_lr): linear warm-up, then a half cosine down to 0",
    hint="two cases on the step: inside the warm-up the LR grows linearly and reaches peak_lr on the last warm-up "
    "step; afterwards it follows half a cosine (math.cos) from peak_lr down towards 0, over the steps that are "
    "left after the warm-up. A schedule without warm-up (warmup_steps=0) is a plain cosine.",
)
def _check_warmup_cosine(warmup_cosine) -> None:
    for total, warm, peak in (
        (10, 4, 1.0),
        (100, 10, 0.004),
        (50, 0, 0.1),
        (7, 7, 2.0),
        (1000, 250, 3e-3),
        (3, 1, 0.5),
    ):
        case = f"for total_steps={total}, warmup_steps={warm}, peak_lr={peak}"
        want = [_warmup_cosine(s, total, warm, peak) for s in range(total)]
        order = list(range(total))[::-1]  # called out of order: the answer must be a function of its arguments
        got_rev = {s: warmup_cosine(s, total, warm, peak) for s in order}
        got = []
        for s in range(total):
            v = got_rev[s]
            if isinstance(v, torch.Tensor) and v.numel() == 1:
                v = v.item()
            assert isinstance(v, numbers.Real) and not isinstance(v, bool), (
                f"{case}: return the learning rate as a number, got {type(v).__name__} at step {s}"
            )
            got.append(float(v))
        if all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(got, want)):
            continue
        if peak != 1.0 and all(math.isclose(a * peak, b, rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(got, want)):
            raise AssertionError(f"{case}: scale the schedule by peak_lr (it peaks at {max(got):g}, not {peak:g})")
        for candidate, why in _lr_variants(total, warm, peak):
            if candidate and all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(got, candidate)):
                raise AssertionError(f"{case}: {why}")
        bad = next(s for s in range(total) if not math.isclose(got[s], want[s], rel_tol=1e-9, abs_tol=1e-12))
        phase = "warm-up" if bad < warm else "cosine decay"
        raise AssertionError(
            f"{case}: at step {bad} ({phase}) the LR is {got[bad]:.6g}, expected {want[bad]:.6g} — warm up linearly "
            "to peak_lr at step warmup_steps − 1, then decay along half a cosine"
        )
