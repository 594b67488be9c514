"""Training loop: notebook 10's loop (uint8 tensors, batched augmentation, channels-last) versus a naive one.

Both train notebook 10's final CI network (``scratch.SmallResNet("residual", width=16, depth=1)``, 8 layers)
on Fashion-MNIST with the same step (AdamW, one-cycle, cross-entropy), batches of 64 and the same
augmentation (random crop after 2 pixels of padding, horizontal flip):

* **course**: ``TensorLoader`` over the uint8 tensor + ``RandomCropFlip`` on the whole batch, model and
  batches in channels-last (what notebook 10 measures and picks on this CPU);
* **course, NCHW**: the same in the default memory format (how much of the gain is the memory format);
* **naive**: a ``Dataset`` of PIL images whose ``__getitem__`` applies torchvision's ``RandomCrop(28,
  padding=2)``, ``RandomHorizontalFlip()`` and ``ToTensor()`` to one image, a ``DataLoader(batch_size=64)``,
  the default memory format.

Reported: images/s of each (``course_utils.measure.compare_functions``: interleaved rounds, at least 5 runs,
median and IQR), the achieved GFLOP/s (FLOPs of one forward + backward pass counted with ``FlopCounterMode``)
against this machine's matmul ceiling (best of square fp32 matmuls, measured in the same run), and the test
accuracy of both loops after the same epochs on the same images, over several seeds. Targets: the course loop
at least 1.5× the naive loop's images/s, and the two loops' mean test accuracies within 1 point. The last line
reads ``name: value (target)``; the exit status is non-zero when a target is missed.

    COURSE_OFFLINE=1 python benchmarks/bench_train.py [--seeds 3] [--per-class 5900] [--epochs 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterable

import torch
import torch.nn.functional as F
import torchvision.transforms as T
from benchlib import finish, header
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import FlopCounterMode

from course_utils import setup
from course_utils.data.fashion_mnist import load_fashion_mnist
from course_utils.data.tensors import RandomCropFlip, TensorLoader
from course_utils.lessons import scratch
from course_utils.measure import compare_functions, format_share, matmul_gflops, paired_ratio, verdict
from course_utils.train import decay_groups

MIN_RATIO, MAX_ACC_GAP, BATCH, WIDTH, PADDING, LR = 1.5, 0.01, 64, 16, 2, 4e-3


class PILImages(Dataset):
    """The naive pipeline: one PIL image per item, transformed one at a time."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images = [Image.fromarray(img[0].numpy(), mode="L") for img in images]
        self.labels = labels.tolist()
        self.transform = T.Compose([T.RandomCrop(28, padding=PADDING), T.RandomHorizontalFlip(), T.ToTensor()])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.images[i]), self.labels[i]


def course_loader(images: torch.Tensor, labels: torch.Tensor, seed: int) -> TensorLoader:
    return TensorLoader(
        images, labels, BATCH, shuffle=True, seed=seed, transform=RandomCropFlip(PADDING, seed=seed), drop_last=True
    )


def naive_loader(dataset: PILImages, seed: int) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=BATCH, shuffle=True, generator=g, drop_last=True)


class Trainer:
    """One model, its optimizer and one-cycle schedule over ``total_steps``; ``steps(n)`` trains n batches,
    starting a new epoch of ``loader`` (a new shuffled order) whenever one ends."""

    def __init__(self, loader: Iterable, total_steps: int, channels_last: bool, seed: int) -> None:
        torch.manual_seed(seed)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = scratch.SmallResNet("residual", WIDTH, 1).to(memory_format=self.memory_format).train()
        self.opt = torch.optim.AdamW(decay_groups(self.model, 5e-4), lr=LR)  # as scratch.train
        self.sched = torch.optim.lr_scheduler.OneCycleLR(self.opt, max_lr=LR, total_steps=total_steps, pct_start=0.25)
        self.loader, self.batches, self.done, self.total = loader, iter(loader), 0, total_steps

    def step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        x = x.contiguous(memory_format=self.memory_format)
        self.opt.zero_grad(set_to_none=True)
        F.cross_entropy(self.model(x), y).backward()
        self.opt.step()
        if self.done < self.total - 1:  # timing rounds may run past the schedule's length: hold its last LR
            self.sched.step()
        self.done += 1

    def steps(self, n: int) -> None:
        for _ in range(n):
            try:
                x, y = next(self.batches)
            except StopIteration:
                self.batches = iter(self.loader)
                x, y = next(self.batches)
            self.step(x, y)


def step_flops(images: torch.Tensor, labels: torch.Tensor) -> int:
    """FLOPs of one training step's forward and backward pass on a batch of ``BATCH`` (FlopCounterMode)."""
    model = scratch.SmallResNet("residual", WIDTH, 1).train()
    x, y = images[:BATCH].float() / 255, labels[:BATCH]
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="training runs per loop for the accuracy check")
    parser.add_argument("--per-class", type=int, default=2000, help="training images per class (max 6000)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=8, help="batches per timed run")
    args = parser.parse_args()
    setup(seed=0, quiet=True)
    header(f"training loop, SmallResNet width {WIDTH} (8 layers), batch {BATCH}, crop + flip augmentation", "cpu")
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    split = scratch.Split.make(train, test, val_per_class=100, train_per_class=min(args.per_class, 5900))
    images, labels = split.train_images, split.train_labels
    pil = PILImages(images, labels)

    # ---- throughput, interleaved: the same number of batches per run for every loop
    flops_per_image = step_flops(images, labels) / BATCH
    trainers = {
        "naive": Trainer(naive_loader(pil, 0), 10_000, False, 0),
        "course": Trainer(course_loader(images, labels, 0), 10_000, True, 0),
        "course, NCHW": Trainer(course_loader(images, labels, 0), 10_000, False, 0),
    }
    timings = compare_functions(
        {name: (lambda t=t: t.steps(args.chunk)) for name, t in trainers.items()},
        warmup=1,
        min_run_time=6.0,
        max_run_time=20.0,
        batch_sizes=args.chunk * BATCH,
    )
    peak = matmul_gflops(threads=torch.get_num_threads())
    print(f"matmul ceiling: {peak:.1f} GFLOP/s (best of fp32 matmuls 256–1024, {torch.get_num_threads()} thread(s))")
    print(f"one training step: {flops_per_image / 1e6:.1f} MFLOP per image (forward + backward, FlopCounterMode)")
    for name, t in timings.items():
        rate = t.throughput * flops_per_image / 1e9
        print(f"{name:<13} {t.throughput:7.0f} images/s  {rate:5.1f} GFLOP/s ({format_share(rate, peak)})  [{t}]")
    speedup = paired_ratio(timings["naive"], timings["course"])
    layout = paired_ratio(timings["course, NCHW"], timings["course"])
    print(f"course / naive images/s: {speedup}; channels-last / NCHW within the course loop: {layout}")

    # ---- accuracy: the same epochs on the same images, several seeds, test split evaluated once per run
    accs: dict[str, list[float]] = {"naive": [], "course": []}
    seconds: dict[str, float] = {"naive": 0.0, "course": 0.0}
    steps_per_epoch = len(labels) // BATCH
    for seed in range(args.seeds):
        for name in accs:
            loader = naive_loader(pil, seed) if name == "naive" else course_loader(images, labels, seed)
            trainer = Trainer(loader, args.epochs * steps_per_epoch, name == "course", seed)
            start = time.perf_counter()
            trainer.steps(args.epochs * steps_per_epoch)
            seconds[name] += time.perf_counter() - start
            _, acc = scratch.evaluate(
                trainer.model, split.test_images, split.test_labels, channels_last=name == "course"
            )
            accs[name].append(acc)
    for name, values in accs.items():
        s = scratch.summarise(values)
        print(
            f"{name:<7} test accuracy {s.fmt()} over {len(values)} seeds, {args.epochs} epoch(s) on {len(labels):,} "
            f"images, {seconds[name] / args.seeds:.1f} s per run"
        )
    gap = abs(statistics.fmean(accs["course"]) - statistics.fmean(accs["naive"]))
    print(f"test accuracy: {verdict(accs['course'], accs['naive'], ('course', 'naive'))}")
    ok = speedup.median >= MIN_RATIO and gap <= MAX_ACC_GAP
    return finish(
        "train_loop_speedup",
        f"{speedup.median:.2f}x course/naive images/s, accuracy gap {100 * gap:.2f} points",
        f">= {MIN_RATIO}x, gap <= {100 * MAX_ACC_GAP:.0f} point",
        ok,
    )


if __name__ == "__main__":
    sys.exit(main())
