"""Image pipeline: course_utils's loader and preprocessing versus PIL + ``weights.transforms()``.

Both turn the five bundled photos (files on disk) into one normalised batch for ResNet-50:
``course_utils.data.images.to_batch`` (``load_image``: EXIF orientation, mode conversion, error
messages; then ``clf.preprocess``) against ``Image.open(p).convert("RGB")`` and
``ResNet50_Weights.DEFAULT.transforms()``, timed interleaved by ``course_utils.measure.compare_functions``
(at least ``--rounds`` runs each). Reported: the images/s ratio, the median of the per-round ratios
(``paired_ratio``). Targets: outputs equal
(max |Δ| ≤ 1e-5) and course_utils at least 0.90× the raw images/s (the extra checks may cost a
little, not more). The last line reads ``name: value (target)``; the exit status is non-zero
when a target is missed.

    COURSE_OFFLINE=1 python benchmarks/bench_image_pipeline.py [--rounds N]
"""

from __future__ import annotations

import sys

import torch
from benchlib import finish, fmt, fmt_ratio, header, rounds_parser
from PIL import Image
from torchvision.models import ResNet50_Weights

from course_utils import load_classifier, setup
from course_utils.data.images import SAMPLE_IMAGES, sample_path, to_batch
from course_utils.measure import compare_functions, paired_ratio

MIN_RATIO, TOLERANCE, REPEAT = 0.90, 1e-5, 4
BUDGET = 10.0  # seconds: more rounds until the spreads settle, at most this long (never fewer than --rounds)


def main() -> int:
    args = rounds_parser(__doc__, 9, "interleaved runs at least (never fewer than 5)").parse_args()
    setup(seed=0, quiet=True)
    header(f"image loading + preprocessing, {len(SAMPLE_IMAGES)} photos × {REPEAT}", "cpu")
    paths = [sample_path(n) for n in SAMPLE_IMAGES] * REPEAT
    clf = load_classifier("resnet50", device="cpu", quiet=True)
    transforms = ResNet50_Weights.DEFAULT.transforms()

    def raw() -> torch.Tensor:
        return torch.stack([transforms(Image.open(p).convert("RGB")) for p in paths])

    def course() -> torch.Tensor:
        return to_batch(paths, clf.preprocess)

    diff = (raw() - course()).abs().max().item()
    s = compare_functions(
        {"raw": raw, "course": course}, "cpu", warmup=1, min_runs=args.rounds, min_run_time=1.0, max_run_time=BUDGET
    )
    r = paired_ratio(s["raw"], s["course"])  # raw time / course time = course images/s ÷ raw images/s
    n = len(paths)
    print(f"PIL + weights.transforms()   {n / s['raw'].median:6.1f} images/s  {fmt(s['raw'])} per {n} images")
    print(f"course_utils to_batch        {n / s['course'].median:6.1f} images/s  {fmt(s['course'])} per {n} images")
    print(f"images/s ratio course/raw {fmt_ratio(r)} · max |Δ| between the batches {diff:.1e}")
    ok = r.median >= MIN_RATIO and diff <= TOLERANCE
    return finish(
        "image_pipeline_ratio", f"{r.median:.2f}x, max |Δ| {diff:.1e}", f">= {MIN_RATIO}x, |Δ| <= {TOLERANCE:.0e}", ok
    )


if __name__ == "__main__":
    sys.exit(main())
