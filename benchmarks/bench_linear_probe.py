"""Linear probe on cached embeddings vs the naive loop that re-runs the frozen backbone every epoch.

Both train the same ``nn.Linear`` head (same init, same batches, same AdamW) for 10 epochs and
report validation accuracy after every epoch, on the bundled dataset with the real EfficientNet-Lite0 backbone; the cached version runs the
backbone once (``course_utils.inspect.CACHE.embed_dataset``, into an empty cache folder every run). The two
are timed interleaved by ``course_utils.measure.compare_functions`` (at least ``MIN_RUNS`` rounds; the first,
untimed call of each warms the decoders, the allocator and the kernels) and compared by the median of the
per-round ratios (``paired_ratio``). Target: at least 8× faster, with validation accuracy within 1 point.
The last line reads ``name: value (target)``; the exit status is non-zero when the target is missed.

    COURSE_OFFLINE=1 COURSE_THREADS=1 python benchmarks/bench_linear_probe.py
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from pathlib import Path

import torch
from benchlib import finish, fmt, fmt_ratio, header
from torch import nn

from course_utils import load_classifier, setup
from course_utils.data.datasets import ImageSubset, course_dataset, split
from course_utils.data.images import load_image
from course_utils.inspect import CACHE
from course_utils.measure import MIN_RUNS, compare_functions, paired_ratio
from course_utils.models.efficientnet_lite import transforms
from course_utils.train import train_linear_probe

EPOCHS, BATCH, LR, SEED, SIZE = 10, 16, 1e-3, 0, 112
TARGET_RATIO, MAX_ACC_GAP = 8.0, 0.01
BUDGET = 60.0  # seconds: more rounds until the spreads settle, at most this long (never fewer than MIN_RUNS)


def naive(clf, train: ImageSubset, val: ImageSubset, preprocess) -> float:
    """Re-run the frozen backbone on every batch of every epoch (and on the validation images after
    each epoch, for the same per-epoch history the probe records); returns the final validation accuracy."""
    body = CACHE.backbone(clf)
    embed = lambda paths: body(torch.stack([preprocess(load_image(p)) for p in paths]))  # noqa: E731
    paths, y = [p for p, _ in train.samples], torch.tensor(train.targets)
    g = torch.Generator().manual_seed(SEED)
    head = nn.Linear(1280, 5)
    with torch.no_grad():  # the same initialisation as train_linear_probe
        bound = 1 / 1280**0.5
        head.weight.uniform_(-bound, bound, generator=g)
        head.bias.uniform_(-bound, bound, generator=g)
    opt = torch.optim.AdamW(head.parameters(), lr=LR, weight_decay=1e-4)
    history = []
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(paths), generator=g).split(BATCH):
            with torch.inference_mode():
                feats = embed([paths[i] for i in idx])
            loss = nn.functional.cross_entropy(head(feats.clone()), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.inference_mode():
            logits = torch.cat(
                [head(embed([p for p, _ in val.samples[i : i + BATCH]])) for i in range(0, len(val), BATCH)]
            )
        history.append((logits.argmax(1) == torch.tensor(val.targets)).float().mean().item())
    return history[-1]


def cached(clf, train: ImageSubset, val: ImageSubset, preprocess, cache_dir: str) -> float:
    """Run the backbone once per image (cached on disk), then train the head on the embeddings."""
    xt, yt = CACHE.embed_dataset(clf, train, preprocess, batch_size=BATCH, cache_dir=cache_dir, progress=False)
    xv, yv = CACHE.embed_dataset(clf, val, preprocess, batch_size=BATCH, cache_dir=cache_dir, progress=False)
    _, hist = train_linear_probe(xt, yt, 5, xv, yv, epochs=EPOCHS, lr=LR, batch_size=BATCH, seed=SEED)
    return hist.val_acc[-1]


def main() -> int:
    setup(seed=0, quiet=True)
    header(f"linear probe on cached embeddings vs the naive loop, {EPOCHS} epochs, EfficientNet-Lite0 at {SIZE} px")
    clf = load_classifier("efficientnet_lite0", device="cpu")
    data = course_dataset("textures5")
    train_idx, val_idx = split(data, 0.25, seed=0)
    train, val = ImageSubset(data, train_idx), ImageSubset(data, val_idx)
    preprocess = transforms(SIZE, SIZE)
    CACHE.backbone(clf)  # build the feature extractor once, outside both timings
    acc: dict[str, float] = {}  # validation accuracy of the last run of each (the same every run)
    with tempfile.TemporaryDirectory() as root:
        folders = (str(Path(root) / f"run{i}") for i in itertools.count())  # an empty cache each run

        def run_naive() -> None:
            acc["naive"] = naive(clf, train, val, preprocess)

        def run_cached() -> None:
            acc["cached"] = cached(clf, train, val, preprocess, next(folders))

        s = compare_functions(
            {"naive": run_naive, "cached": run_cached},
            "cpu",
            warmup=0,
            min_runs=MIN_RUNS,
            min_run_time=1.0,
            max_run_time=BUDGET,
        )
    r = paired_ratio(s["naive"], s["cached"])
    print(f"{len(train)} train / {len(val)} val images")
    print(f"naive loop (backbone every epoch): {fmt(s['naive'], 1, 's')}   val accuracy {acc['naive']:.1%}")
    print(f"cached embeddings + linear probe:  {fmt(s['cached'], 1, 's')}   val accuracy {acc['cached']:.1%}")
    print(f"speed-up of the cache (naive / cached time, per round) {fmt_ratio(r)}")
    gap = abs(acc["naive"] - acc["cached"])
    if gap > MAX_ACC_GAP:
        print(f"accuracy gap {gap:.1%} exceeds {MAX_ACC_GAP:.0%}")
    return finish(
        "linear_probe_speedup",
        f"{r.median:.1f}x",
        f">= {TARGET_RATIO:.0f}x, accuracy within 1 point: {gap:.1%}",
        r.median >= TARGET_RATIO and gap <= MAX_ACC_GAP,
    )


if __name__ == "__main__":
    sys.exit(main())
