"""Roofline: how close ResNet-50 batched inference comes to this machine's matmul ceiling.

The ceiling is measured the way notebook 05 measures it (``course_utils.measure.matmul_gflops``): the
**best** run of square fp32 matmuls at several sizes (small ones fit the caches, big ones amortise
overhead), at the thread count of the model. Here those matmuls are timed **interleaved** with ResNet-50
batched inference through ``course_utils.predict_proba`` (``compare_functions``: every candidate once per
round, in rotating order), so load on a shared machine hits the ceiling and the model alike; a standalone
``matmul_gflops`` run just before counts too (the ceiling is the best of all). The model's rate is
FlopCounterMode FLOPs per image × images/s at its median run. Target: a fraction of at least 0.75.

A fraction above 1 is not a success: the model cannot outrun the ceiling it is measured against, so the
ceiling was mis-measured (load during the matmuls, too few runs) and the script fails with that message.
The last line reads ``name: value (target)``; the exit status is non-zero when the target is missed.

    COURSE_OFFLINE=1 python benchmarks/bench_roofline.py [--rounds N] [--batch N]
"""

from __future__ import annotations

import sys

import torch
from benchlib import finish, fmt, header, rounds_parser

from course_utils import load_classifier, sample_images, setup
from course_utils.data.images import to_batch
from course_utils.measure import compare_functions, matmul_gflops, measure_cost
from course_utils.models.predict import predict_proba

MM_SIZES, TARGET = (256, 512, 1024, 2048), 0.75
BUDGET = 40.0  # seconds: more rounds until the spreads settle, at most this long (never fewer than --rounds)


def main() -> int:
    parser = rounds_parser(__doc__, 7, "interleaved runs at least (never fewer than 5)")
    parser.add_argument("--batch", type=int, default=16, help="images per inference call")
    args = parser.parse_args()
    device = setup(seed=0, quiet=True)
    threads = torch.get_num_threads()
    sizes = ", ".join(map(str, MM_SIZES))
    header(f"roofline: best fp32 matmul ({sizes}) vs ResNet-50 batched inference (batch {args.batch})", device)
    clf = load_classifier("resnet50", device=device, quiet=True)
    photos = list(sample_images().values())
    batch = to_batch([photos[i % len(photos)] for i in range(args.batch)], clf.preprocess)
    flops_per_image = measure_cost(clf.model, batch[:1].to(device)).flops

    standalone = matmul_gflops(MM_SIZES, device=device, threads=threads, min_run_time=2.0)
    operands = {n: (torch.randn(n, n, device=device), torch.randn(n, n, device=device)) for n in MM_SIZES}
    fns = {f"mm{n}": (lambda a=a, b=b: a @ b) for n, (a, b) in operands.items()}
    fns["resnet50"] = lambda: predict_proba(clf, batch)
    t = compare_functions(fns, device, threads, warmup=1, min_runs=args.rounds, min_run_time=5.0, max_run_time=BUDGET)
    best_mm = {n: 2 * n**3 / min(t[f"mm{n}"].times) / 1e9 for n in MM_SIZES}
    ceiling = max(standalone, *best_mm.values())
    net = t["resnet50"]
    rate = flops_per_image * args.batch / net.median / 1e9
    best_rate = flops_per_image * args.batch / min(net.times) / 1e9
    fraction = rate / ceiling

    per_size = ", ".join(f"{n}: {g:.1f}" for n, g in best_mm.items())
    print(
        f"matmul ceiling     {ceiling:7.1f} GFLOP/s (best run; interleaved per size {per_size}; standalone {standalone:.1f})"
    )
    print(
        f"ResNet-50 batched  {rate:7.1f} GFLOP/s at the median run, {best_rate:.1f} at the best · "
        f"{flops_per_image / 1e9:.2f} GFLOP/image · {args.batch / net.median:.1f} images/s · {fmt(net)} per batch"
    )
    print(f"fraction of the matmul ceiling: {fraction:.2f} (best run against the ceiling {best_rate / ceiling:.2f})")
    if fraction > 1:
        print(
            f"MEASUREMENT ERROR: ResNet-50 at {rate:.1f} GFLOP/s is above the measured ceiling of {ceiling:.1f}; "
            "a ceiling cannot be beaten, so it was mis-measured (the matmuls ran under load or too briefly). "
            "Rerun on an idle machine."
        )
        return finish(
            "resnet50_roofline_fraction", f"{fraction:.2f}, above 1: measurement error", f"<= 1, >= {TARGET}", False
        )
    return finish("resnet50_roofline_fraction", f"{fraction:.2f}", f">= {TARGET}", fraction >= TARGET)


if __name__ == "__main__":
    sys.exit(main())
