"""Training a small ResNet from scratch on Fashion-MNIST (notebook 10): one training run, a grid of runs over
seeds, and an honest verdict for each comparison. The network and its variants are :mod:`.small_resnet`'s,
re-exported here so that the notebook reaches everything as ``scratch``.

The notebook writes the network and the training loop inline first; this module packages them so that the
experiments (plain vs residual at two depths, pre-activation, augmentation, label smoothing, LR schedule)
are one call each::

    from course_utils.lessons import scratch
    data = scratch.Split.make(load_fashion_mnist("train"), load_fashion_mnist("test"), 100, train_per_class=200)
    base = scratch.Setup("residual", width=8, depth=3, recipe=scratch.Recipe(epochs=3))
    runs = scratch.run_grid({"plain": base.but(block="plain"), "residual": base}, data, seeds=(0, 1, 2))
    print(scratch.compare(runs["plain"], runs["residual"], "train_loss", higher_is_better=False).verdict)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..core.device import eval_mode, model_device
from ..core.errors import ExperimentError
from ..data.fashion_mnist import LabelledImages
from ..data.tensors import RandomCropFlip, TensorLoader, per_class, split_off
from ..measure.seeds import MIN_SEEDS, Runs, differs
from ..train.finetune import decay_groups
from ._checks import positive
from .small_resnet import (
    BLOCKS,
    PlainBlock,
    PreActivationBlock,
    ShortcutA,
    SmallResNet,
    stage_activation_std,
    stage_gradient_norms,
)

__all__ = [
    "BLOCKS",
    "Comparison",
    "PlainBlock",
    "PreActivationBlock",
    "Recipe",
    "Run",
    "SCHEDULES",
    "Setup",
    "ShortcutA",
    "SmallResNet",
    "Split",
    "compare",
    "evaluate",
    "make_scheduler",
    "run_grid",
    "stage_activation_std",
    "stage_gradient_norms",
    "summarise",
    "train",
]

#: The learning-rate schedules :func:`make_scheduler` knows.
SCHEDULES = ("onecycle", "constant")


# --------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class Split:
    """Training images, a validation split cut from the training set, and the (official) test images; uint8."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor

    @classmethod
    def make(
        cls,
        train: LabelledImages,
        test: LabelledImages,
        val_per_class: int = 100,
        train_per_class: int | None = None,
        test_per_class: int | None = None,
        seed: int = 0,
    ) -> Split:
        """``val_per_class`` images of each class go to validation; ``train_per_class`` (None: all the rest)
        are drawn from the rest; ``test_per_class`` (None: the whole test split) from the test split."""
        rest, val = split_off(train.labels, val_per_class, seed=seed)
        if train_per_class is not None:
            rest = per_class(train.labels, train_per_class, seed=seed + 1, exclude=val)
        test_idx = (
            torch.arange(len(test.labels)) if test_per_class is None else per_class(test.labels, test_per_class, seed)
        )
        return cls(
            train.images[rest],
            train.labels[rest],
            train.images[val],
            train.labels[val],
            test.images[test_idx],
            test.labels[test_idx],
        )

    def __repr__(self) -> str:
        return f"Split(train {len(self.train_labels):,}, val {len(self.val_labels):,}, test {len(self.test_labels):,})"


# --------------------------------------------------------------------------- one training run


@dataclass(frozen=True)
class Recipe:
    """How a network is trained: AdamW, a schedule, optional label smoothing and augmentation.

    ``weight_decay`` applies to conv kernels and weight matrices only (:func:`course_utils.train.decay_groups`).

    ``schedule``: ``"onecycle"`` (``torch.optim.lr_scheduler.OneCycleLR``: a warm-up over ``warmup`` of the
    steps from ``lr / 25`` up to ``lr`` along a cosine, then down to almost 0) or ``"constant"`` (``lr``). ``padding``:
    random crops after padding by that many pixels, plus horizontal flips (0: no augmentation).
    """

    epochs: int = 3
    batch_size: int = 64
    lr: float = 4e-3
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    warmup: float = 0.25
    label_smoothing: float = 0.0
    padding: int = 0
    channels_last: bool = True

    def __post_init__(self) -> None:
        positive("epochs", self.epochs)
        positive("batch_size", self.batch_size)
        if self.schedule not in SCHEDULES:
            raise ExperimentError(f"schedule={self.schedule!r}: choose one of {', '.join(SCHEDULES)}")
        if not 0 <= self.warmup < 1 or not 0 <= self.label_smoothing < 1 or not self.lr > 0:
            raise ExperimentError(
                f"warmup={self.warmup}, label_smoothing={self.label_smoothing}, lr={self.lr}: "
                "warmup and label_smoothing are fractions in [0, 1), lr is above 0"
            )
        if self.padding < 0:
            raise ExperimentError(f"padding={self.padding}: use 0 (no augmentation) or more pixels")


def make_scheduler(
    optimizer: torch.optim.Optimizer, recipe: Recipe, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The recipe's schedule over ``total_steps`` optimizer steps (call ``step()`` after every batch)."""
    positive("total_steps", total_steps)
    if recipe.schedule == "onecycle":
        if recipe.warmup * total_steps < 2 or (1 - recipe.warmup) * total_steps < 2:
            raise ExperimentError(
                f"a one-cycle schedule over {total_steps} steps with warmup={recipe.warmup} leaves under 2 steps "
                "to warm up or to anneal: train for more steps (more images, epochs or a smaller batch)"
            )
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.lr, total_steps=total_steps, pct_start=recipe.warmup
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


@torch.inference_mode()
def evaluate(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500, channels_last: bool = False
) -> tuple[float, float]:
    """``(mean cross-entropy, accuracy)`` of ``model`` in eval mode on uint8 ``images`` (the model's device)."""
    device = model_device(model)
    loss_sum, correct = 0.0, 0
    with eval_mode(model), torch.inference_mode():  # every submodule's flag is restored afterwards
        for x, y in TensorLoader(images, labels, batch_size=batch_size, device=device):
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            logits = model(x)
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
    return loss_sum / len(labels), correct / len(labels)


@dataclass
class Run:
    """One training run: per-epoch training loss/accuracy (running, in train mode), validation accuracy, the
    final test loss and accuracy, seconds of training and the images seen."""

    label: str
    seed: int
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    test_loss: float = math.nan
    test_acc: float = math.nan
    seconds: float = 0.0
    images: int = 0
    grad_norms: list[dict[str, float]] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else math.nan


def train(
    model: nn.Module,
    data: Split,
    recipe: Recipe,
    seed: int = 0,
    label: str = "",
    test: bool = True,
    probe: tuple[torch.Tensor, torch.Tensor] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Run:
    """Train ``model`` in place (on its device) with ``recipe`` on ``data.train_*``; returns the :class:`Run`.

    Every epoch: one shuffled pass (its own generator from ``seed``, so two runs with one seed see the same
    batches), the running training loss and accuracy, then the validation accuracy. After the last epoch the
    test split is evaluated once (``test=False`` skips it). Nothing is chosen on the test split. With a
    ``probe`` batch ``(x, y)``, :func:`stage_gradient_norms` on it are recorded before training and after every
    epoch (``run.grad_norms``).
    """
    device = model_device(model)
    if recipe.channels_last:
        model.to(memory_format=torch.channels_last)
    augment = RandomCropFlip(recipe.padding, flip=True, seed=seed) if recipe.padding else None
    loader = TensorLoader(
        data.train_images,
        data.train_labels,
        recipe.batch_size,
        shuffle=True,
        seed=seed,
        transform=augment,
        device=device,
        drop_last=True,
    )
    if len(loader) == 0:
        raise ExperimentError(f"{len(data.train_labels)} training images make no batch of {recipe.batch_size}")
    optimizer = torch.optim.AdamW(decay_groups(model, recipe.weight_decay), lr=recipe.lr)  # none on biases, norms
    scheduler = make_scheduler(optimizer, recipe, recipe.epochs * len(loader))
    run = Run(label, seed)
    if probe is not None:
        run.grad_norms.append(stage_gradient_norms(model, *probe))
    for epoch in range(recipe.epochs):
        start, loss_sum, correct, seen = time.perf_counter(), 0.0, 0, 0
        model.train()
        for x, y in loader:
            if recipe.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += float(loss.detach()) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        run.seconds += time.perf_counter() - start
        run.images += seen
        run.train_loss.append(loss_sum / seen)
        run.train_acc.append(correct / seen)
        run.val_acc.append(evaluate(model, data.val_images, data.val_labels, channels_last=recipe.channels_last)[1])
        if probe is not None:
            run.grad_norms.append(stage_gradient_norms(model, *probe))
        if progress is not None:
            progress(f"{label} seed {seed} epoch {epoch + 1}/{recipe.epochs}: val {run.val_acc[-1]:.3f}")
    if test:
        run.test_loss, run.test_acc = evaluate(
            model, data.test_images, data.test_labels, channels_last=recipe.channels_last
        )
    model.eval()
    return run


# --------------------------------------------------------------------------- a grid of runs over seeds


@dataclass(frozen=True)
class Setup:
    """One row's setting: the network (``block``, ``width``, ``depth``) and its :class:`Recipe`."""

    block: str = "residual"
    width: int = 16
    depth: int = 1
    recipe: Recipe = field(default_factory=Recipe)

    def build(self, seed: int) -> SmallResNet:
        """The network, initialised from ``seed`` (the same seed gives plain and residual twins the same weights)."""
        torch.manual_seed(seed)
        return SmallResNet(self.block, self.width, self.depth)

    def but(self, **changes: object) -> Setup:
        """A copy with some fields changed; recipe fields (``padding=2``) go to the recipe."""
        recipe_fields = {k: v for k, v in changes.items() if k in Recipe.__dataclass_fields__}
        own = {k: v for k, v in changes.items() if k not in recipe_fields}
        unknown = set(own) - set(Setup.__dataclass_fields__)
        if unknown:
            raise ExperimentError(
                f"unknown setting(s) {sorted(unknown)}: use {sorted(Setup.__dataclass_fields__)} or a Recipe field"
            )
        return replace(self, **own, recipe=replace(self.recipe, **recipe_fields))


def run_grid(
    setups: Mapping[str, Setup],
    data: Split,
    seeds: Sequence[int] = (0, 1, 2),
    device: torch.device | str = "cpu",
    probe: tuple[torch.Tensor, torch.Tensor] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, list[Run]]:
    """Train every setup once per seed (seed-major: one seed of every setup, then the next); ``{label: [Run, …]}``."""
    if len(seeds) < 1 or not setups:
        raise ExperimentError("run_grid needs at least one setup and one seed")
    runs: dict[str, list[Run]] = {label: [] for label in setups}
    for seed in seeds:
        for label, setup in setups.items():
            model = setup.build(seed).to(device)
            runs[label].append(train(model, data, setup.recipe, seed=seed, label=label, probe=probe, progress=progress))
    return runs


# --------------------------------------------------------------------------- the verdict


def summarise(values: Sequence[float]) -> Runs:
    """One metric over seeds as :class:`~course_utils.measure.Runs` (mean, lowest, highest, spread)."""
    vals = [float(v) for v in values]
    if not vals or any(math.isnan(v) for v in vals):
        raise ExperimentError(f"summarise needs measured values, got {vals}")
    return Runs(vals)


@dataclass(frozen=True)
class Comparison:
    """Setting A against setting B on one metric: each summarised over seeds, and the verdict."""

    metric: str
    a: Runs
    b: Runs
    winner: str | None  #: "A" or "B" when the gap exceeds the spread (:func:`course_utils.measure.differs`), else None
    verdict: str


def compare(
    runs_a: Sequence[Run],
    runs_b: Sequence[Run],
    metric: str = "test_acc",
    names: tuple[str, str] = ("A", "B"),
    higher_is_better: bool = True,
) -> Comparison:
    """Compare two settings over seeds; a difference is claimed only by the course's rule
    (:func:`course_utils.measure.differs`: the gap between the means exceeds the larger min–max spread).

    ``metric``: an attribute of :class:`Run` (``test_acc``, ``test_loss``) or ``train_loss`` / ``train_acc`` /
    ``val_acc`` (their last epoch). Fewer than :data:`~course_utils.measure.MIN_SEEDS` runs on either side is an error: one seed is an
    anecdote.
    """
    if min(len(runs_a), len(runs_b)) < MIN_SEEDS:
        raise ExperimentError(f"{len(runs_a)} and {len(runs_b)} runs: compare at least {MIN_SEEDS} seeds per setting")

    def value(run: Run) -> float:
        v = getattr(run, metric, None)
        if isinstance(v, list):
            v = v[-1] if v else None
        if not isinstance(v, (int, float)):
            raise ExperimentError(f"metric={metric!r}: use test_acc, test_loss, train_loss, train_acc or val_acc")
        return float(v)

    a, b = summarise([value(r) for r in runs_a]), summarise([value(r) for r in runs_b])
    name_a, name_b = names
    if differs(a, b):
        winner = "A" if (a.mean > b.mean) == higher_is_better else "B"
        verdict = f"{name_a if winner == 'A' else name_b} better (the gap exceeds the spread over seeds)"
    else:
        winner, verdict = None, "within noise (the gap is within the spread over seeds)"
    return Comparison(metric, a, b, winner, verdict)
