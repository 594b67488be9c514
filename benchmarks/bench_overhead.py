"""Overhead of course_utils: ``load_classifier`` + ``predict`` versus the equivalent raw torchvision code.

Same model, same image, same weights (cached pretrained weights when present, else the same
random initialisation offline), interleaved round by round (``course_utils.measure.compare_functions``).
The raw code is what a learner
would write by hand: build the model from its weights enum, ``eval()``, ``weights.transforms()``,
PIL, ``inference_mode``, softmax, top-5. Target: course_utils at most 5 % slower (the median of the
per-round ratios, ``paired_ratio``, ≤ 1.05) for each model. The last line reads ``name: value (target)``; the exit status is
non-zero when the target is missed.

    COURSE_OFFLINE=1 python benchmarks/bench_overhead.py [--rounds N]
"""

from __future__ import annotations

import sys

import torch
import torchvision
from benchlib import finish, fmt, fmt_ratio, header, rounds_parser
from PIL import Image

from course_utils import load_classifier, predict, setup
from course_utils.data.images import sample_path
from course_utils.measure import compare_functions, paired_ratio
from course_utils.models import get_weights

MODELS = ("resnet50", "mobilenet_v3_small")
MAX_SLOWDOWN = 1.05
BUDGET = 30.0  # seconds per model: more rounds until the spreads settle, at most this long


def raw(name: str, path: str, device: torch.device) -> list[tuple[str, float]]:
    """Plain torchvision: the code course_utils packages."""
    weights = torchvision.models.get_model_weights(name).DEFAULT
    model = (
        torchvision.models.get_model(name, weights=weights if get_weights(name).cached() else None).eval().to(device)
    )
    preprocess = weights.transforms()
    img = Image.open(path).convert("RGB")
    with torch.inference_mode():
        probs = model(preprocess(img).unsqueeze(0).to(device)).softmax(dim=1)[0].cpu()
    top = probs.topk(5)
    return [(weights.meta["categories"][i], p) for p, i in zip(top.values.tolist(), top.indices.tolist())]


def course(name: str, path: str, device: torch.device) -> list[tuple[str, float]]:
    """The same with course_utils."""
    clf = load_classifier(name, device=device, quiet=True)
    return [(p.label, p.prob) for p in predict(clf, path, k=5)[0]]


def main() -> int:
    args = rounds_parser(__doc__, 15, "interleaved runs per model at least").parse_args()
    device = setup(seed=0, quiet=True)
    header("course_utils load + predict vs raw torchvision, one image", device)
    path = str(sample_path("chelsea"))
    slowdowns, ok = {}, True
    for name in MODELS:
        torch.manual_seed(0)
        a = raw(name, path, device)
        torch.manual_seed(0)
        b = course(name, path, device)
        same = [label for label, _ in a] == [label for label, _ in b] and all(
            abs(p - q) < 1e-4 for (_, p), (_, q) in zip(a, b)
        )
        s = compare_functions(
            {
                "raw": lambda: raw(name, path, device),  # noqa: B023
                "course": lambda: course(name, path, device),  # noqa: B023
            },
            device,
            warmup=1,
            min_runs=args.rounds,
            min_run_time=2.0,
            max_run_time=BUDGET,
        )
        r = paired_ratio(s["course"], s["raw"])
        slowdowns[name] = r.median
        ok &= same and r.median <= MAX_SLOWDOWN
        print(
            f"{name:<20} raw {fmt(s['raw'])}  course_utils {fmt(s['course'])}  "
            f"course/raw {fmt_ratio(r)}  same top-5: {same}"
        )
    value = ", ".join(f"{n} {v:.3f}x" for n, v in slowdowns.items())
    return finish("course_overhead", value, f"course/raw <= {MAX_SLOWDOWN}", ok)


if __name__ == "__main__":
    sys.exit(main())
