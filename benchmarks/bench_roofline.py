"""Roofline: how close ResNet-50 batched inference comes to this machine's matmul ceiling.

In one run, interleaved round by round: the fp32 GFLOP/s of a large ``torch.mm`` (the
practical compute ceiling with the threads available) and the GFLOP/s of ResNet-50 batched
inference through ``course_utils.predict_proba`` (FlopCounterMode FLOPs per image × images/s).
Target: the fraction is at least 0.75. The last line reads ``name: value (target)``; the exit
status is non-zero when the target is missed.

    COURSE_OFFLINE=1 python benchmarks/bench_roofline.py [--rounds N] [--batch N]
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
from benchlib import finish, header, interleaved

from course_utils import load_classifier, sample_images, setup
from course_utils.data.images import to_batch
from course_utils.measure import measure_cost
from course_utils.models.predict import predict_proba

MM_SIZE, TARGET = 2048, 0.75


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16, help="images per inference call")
    args = parser.parse_args()
    device = setup(seed=0, quiet=True)
    header(f"roofline: torch.mm {MM_SIZE}² vs ResNet-50 batched inference (batch {args.batch})", device)
    clf = load_classifier("resnet50", device=device, quiet=True)
    photos = list(sample_images().values())
    batch = to_batch([photos[i % len(photos)] for i in range(args.batch)], clf.preprocess)
    flops_per_image = measure_cost(clf.model, batch[:1].to(device)).flops
    a = torch.randn(MM_SIZE, MM_SIZE, device=device)
    b = torch.randn(MM_SIZE, MM_SIZE, device=device)
    s = interleaved(
        {"mm": lambda: torch.mm(a, b), "resnet50": lambda: predict_proba(clf, batch)}, rounds=args.rounds, device=device
    )
    mm = [2 * MM_SIZE**3 / t / 1e9 for t in s["mm"].times]
    net = [flops_per_image * args.batch / t / 1e9 for t in s["resnet50"].times]
    fractions = [n / m for n, m in zip(net, mm)]
    fraction = statistics.median(net) / statistics.median(mm)
    print(f"torch.mm fp32      {statistics.median(mm):7.1f} GFLOP/s (min–max {min(mm):.1f}–{max(mm):.1f})")
    print(
        f"ResNet-50 batched  {statistics.median(net):7.1f} GFLOP/s (min–max {min(net):.1f}–{max(net):.1f}) · "
        f"{flops_per_image / 1e9:.2f} GFLOP/image · {args.batch / s['resnet50'].median:.1f} images/s"
    )
    print(f"fraction of the matmul ceiling: {fraction:.2f} (per round {min(fractions):.2f}–{max(fractions):.2f})")
    return finish("resnet50_roofline_fraction", f"{fraction:.2f}", f">= {TARGET}", fraction >= TARGET)


if __name__ == "__main__":
    sys.exit(main())
