"""Batched prediction (course_utils) versus the per-image loop, on the same 32 images.

The per-image loop is the classic first version: one image at a time, ``torch.no_grad()``,
default memory layout. ``course_utils.predict_proba`` gets all 32 at once and runs them in
batches (``default_batch_size``: 16 on a CPU, 32 on a GPU) under ``torch.inference_mode()``
through ``inference_copy``: a copy of the model with every BatchNorm folded into its convolution, in
channels-last memory (notebook 09; the copy is remade when the model's parameters change, and the
learner's model is never modified). The same batches through the unfolded model are reported, so the
gain of folding shows. Both start from the same preprocessed
tensors (preprocessing is identical per-image work on both sides; the end-to-end ratio from
PIL images is printed too). Each comparison is timed interleaved by ``course_utils.measure.compare_functions``
and reported as the median of the per-round ratios (``paired_ratio``). Targets: MobileNetV3-small ≥ 2.5×; ResNet-50 ≥ 1.0× (on a CPU
ResNet-50 is already near the compute ceiling at batch 1, so batching must simply cost
nothing). Random offline weights do not matter for speed. The last line reads
``name: value (target)``; the exit status is non-zero when a target is missed.

    COURSE_OFFLINE=1 python benchmarks/bench_inference.py [--rounds N]
"""

from __future__ import annotations

import copy
import sys

import torch
from benchlib import finish, fmt, fmt_ratio, header, rounds_parser

from course_utils import load_classifier, sample_images, setup
from course_utils.data.images import to_batch
from course_utils.measure import compare_functions, paired_ratio
from course_utils.models.predict import default_batch_size, predict_proba, to_channels_last

N_IMAGES = 32
TARGETS = {"mobilenet_v3_small": 2.5, "resnet50": 1.0}
ROUNDS = {"mobilenet_v3_small": 5, "resnet50": 5}
BUDGET = 20.0  # seconds per comparison: more rounds until the spreads settle, at most this long


def per_image_loop(model: torch.nn.Module, batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """One image at a time: the loop batching replaces."""
    out = []
    for x in batch:
        with torch.no_grad():
            out.append(model(x.unsqueeze(0).to(device)).softmax(dim=1).cpu())
    return torch.cat(out)


def unfolded_batches(model: torch.nn.Module, batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """predict_proba's batches without the folded copy: the original model, channels-last."""
    out = []
    with torch.inference_mode():
        for chunk in batch.split(default_batch_size(device)):
            chunk = chunk.to(device).contiguous(memory_format=torch.channels_last)
            out.append(model(chunk).softmax(dim=1).cpu())
    return torch.cat(out)


def versus(slow, fast, rounds: int, device: torch.device):
    """Time ``slow`` and ``fast`` interleaved: both timings and the median per-round ratio slow / fast."""
    s = compare_functions(
        {"slow": slow, "fast": fast}, device, warmup=1, min_runs=rounds, min_run_time=1.0, max_run_time=BUDGET
    )
    return s["slow"], s["fast"], paired_ratio(s["slow"], s["fast"])


def main() -> int:
    args = rounds_parser(__doc__, None, "interleaved runs per model at least (default 5)").parse_args()
    device = setup(seed=0, quiet=True)
    header(
        f"batched vs per-image inference, {N_IMAGES} images, predict_proba batches of {default_batch_size(device)}",
        device,
    )
    photos = list(sample_images().values())
    images = [photos[i % len(photos)] for i in range(N_IMAGES)]
    ratios, ok = {}, True
    for name, target in TARGETS.items():
        clf = load_classifier(name, device=device, quiet=True)
        loop_model = copy.deepcopy(clf.model).to(memory_format=torch.contiguous_format)  # same weights, default layout
        batch = to_batch(images, clf.preprocess)
        expected = per_image_loop(loop_model, batch, device)
        got = predict_proba(clf, batch)
        diff = (expected - got).abs().max().item()
        same = torch.allclose(expected, got, rtol=1e-3, atol=1e-6)  # random offline weights give tiny probabilities
        ok &= same
        if not same:
            print(f"{name}: batched and per-image probabilities differ (max |Δp| {diff:.2g})")
        loop, batched, r = versus(
            lambda: per_image_loop(loop_model, batch, device),  # noqa: B023
            lambda: predict_proba(clf, batch),  # noqa: B023
            args.rounds or ROUNDS[name],
            device,
        )
        ratios[name] = r.median
        ok &= r.median >= target
        print(
            f"{name:<20} per-image loop {fmt(loop)}  batched {fmt(batched)}  "
            f"speed-up {fmt_ratio(r)}  target >= {target}x  max |Δp| {diff:.1e}"
        )
        if name == "mobilenet_v3_small":  # what folding adds, and end to end from PIL images
            unfolded_model = to_channels_last(copy.deepcopy(clf.model))
            unfolded, _, r = versus(
                lambda: unfolded_batches(unfolded_model, batch, device),  # noqa: B023
                lambda: predict_proba(clf, batch),  # noqa: B023
                5,
                device,
            )
            print(f"{'':<20} same batches without folding {fmt(unfolded)}: folding gives {fmt_ratio(r)} (reported)")
            loop, batched, r = versus(
                lambda: per_image_loop(loop_model, to_batch(images, clf.preprocess), device),  # noqa: B023
                lambda: predict_proba(clf, images),  # noqa: B023
                5,
                device,
            )
            print(
                f"{'':<20} end to end incl. preprocessing: loop {fmt(loop)}  batched "
                f"{fmt(batched)}  speed-up {fmt_ratio(r)} (reported)"
            )
    value = ", ".join(f"{n} {r:.2f}x" for n, r in ratios.items())
    target = ", ".join(f">= {t}x" for t in TARGETS.values())
    return finish("batched_inference_speedup", value, target, ok)


if __name__ == "__main__":
    sys.exit(main())
