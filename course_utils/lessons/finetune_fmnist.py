"""Notebook 04's experiments: a pretrained EfficientNet-Lite0 fine-tuned on Fashion-MNIST, every result over seeds.

The notebook writes each step by hand (transforms, embeddings, the training loop); this module holds the
bookkeeping around them, so that every comparison is read the same way::

    from course_utils.lessons import finetune_fmnist as ff
    probe = ff.Runs([0.64, 0.65, 0.63])          # one test accuracy per seed (the same draws for every method)
    print(probe)                                 # 64.0 % (63.0–65.0)
    print(ff.verdict(probe, pixels, ("probe", "pixels")))   # a difference, or "within noise"

* :class:`Runs` and :func:`verdict` — a method's accuracy over seeds as mean (min–max), and whether two methods
  differ by more than that spread; :func:`results_table` prints several.
* :func:`bn_statistics`, :class:`BatchStatsRecorder`, :func:`replay_running_mean` — BatchNorm's running
  statistics, the batch statistics a forward pass in train mode feeds into them, and the moving average
  ``running = (1 − momentum)·running + momentum·batch`` recomputed by hand from those.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..core.errors import ExperimentError

#: A difference between two methods is claimed only with at least this many seeds behind each.
MIN_SEEDS = 3

_BN = nn.modules.batchnorm._BatchNorm


@dataclass(frozen=True)
class Runs:
    """One method's result (an accuracy in [0, 1]) for each seed, in seed order."""

    values: tuple[float, ...]

    def __init__(self, values: Iterable[float]) -> None:
        vals = tuple(float(v) for v in values)
        if not vals:
            raise ExperimentError("Runs needs at least one value (one per seed)")
        if not all(math.isfinite(v) for v in vals):
            raise ExperimentError(f"Runs got a value that is not a finite number: {vals}")
        object.__setattr__(self, "values", vals)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        """The mean over seeds."""
        return sum(self.values) / len(self.values)

    @property
    def low(self) -> float:
        """The worst seed."""
        return min(self.values)

    @property
    def high(self) -> float:
        """The best seed."""
        return max(self.values)

    @property
    def spread(self) -> float:
        """Best minus worst seed: how much the result moves from one draw of the data to another."""
        return self.high - self.low

    def __str__(self) -> str:
        return f"{100 * self.mean:.1f} % ({100 * self.low:.1f}–{100 * self.high:.1f})"


def differs(a: Runs, b: Runs) -> bool:
    """Whether the means of ``a`` and ``b`` differ by more than the larger of their spreads over seeds.

    Needs at least :data:`MIN_SEEDS` seeds behind each: with fewer, no difference is claimed.
    """
    for runs in (a, b):
        if not isinstance(runs, Runs):
            raise ExperimentError(f"differs() compares two Runs, got a {type(runs).__name__}")
    if min(len(a), len(b)) < MIN_SEEDS:
        raise ExperimentError(
            f"{len(a)} and {len(b)} seeds: a difference needs at least {MIN_SEEDS} seeds behind each method"
        )
    return abs(a.mean - b.mean) > max(a.spread, b.spread)


def verdict(a: Runs, b: Runs, names: Sequence[str] = ("A", "B")) -> str:
    """One sentence: ``a`` above or below ``b`` by so many points, or "within noise" when the spread is larger."""
    if len(names) != 2:
        raise ExperimentError(f"names: give the two methods' names, got {names!r}")
    first, second = names
    gap, spread = 100 * (a.mean - b.mean), 100 * max(a.spread, b.spread)
    if not differs(a, b):
        return f"{first} vs {second}: {gap:+.1f} points, within noise (the seeds spread over {spread:.1f})"
    side = "above" if gap > 0 else "below"
    return f"{first} is {abs(gap):.1f} points {side} {second} (more than the spread over seeds, {spread:.1f})"


def results_table(rows: Mapping[str, Runs], reference: str | None = None) -> str:
    """A plain-text table: each method's mean (min–max) over seeds and, with ``reference``, how it compares."""
    if not rows:
        raise ExperimentError("results_table needs at least one row")
    if reference is not None and reference not in rows:
        raise ExperimentError(f"reference {reference!r} is not one of the rows: {list(rows)}")
    width = max(len(name) for name in rows) + 2
    seeds = {len(r) for r in rows.values()}
    head = f"{'method':<{width}}{'test accuracy, mean (min–max)':>31}"
    if reference is not None:
        head += f"   vs {reference}"
    lines = [head, "-" * len(head)]
    for name, runs in rows.items():
        line = f"{name:<{width}}{runs!s:>31}"
        if reference is not None and name != reference:
            gap = 100 * (runs.mean - rows[reference].mean)
            line += f"   {gap:+.1f} points" + ("" if differs(runs, rows[reference]) else ", within noise")
        lines.append(line)
    lines.append(f"({'/'.join(str(s) for s in sorted(seeds))} seeds per method)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- BatchNorm's running statistics


def bn_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Every BatchNorm layer of ``model`` by name."""
    return {name: m for name, m in model.named_modules() if isinstance(m, _BN)}


def bn_statistics(model: nn.Module) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """A copy of every BatchNorm layer's ``(running_mean, running_var)``, by layer name."""
    layers = bn_layers(model)
    if not layers:
        raise ExperimentError(f"{type(model).__name__} has no BatchNorm layer")
    return {name: (m.running_mean.detach().clone(), m.running_var.detach().clone()) for name, m in layers.items()}


class BatchStatsRecorder:
    """Records, for every BatchNorm layer in train mode, the per-channel mean and (unbiased) variance of each batch
    it normalises — the values PyTorch folds into its running statistics.

    Use it as a context manager around forward passes; the hooks are removed on exit, also after an error::

        with BatchStatsRecorder(model) as rec:
            model(x)
        rec.means["_bn0"]   # one tensor [C] per forward pass
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers = bn_layers(model)
        if not self.layers:
            raise ExperimentError(f"{type(model).__name__} has no BatchNorm layer to record")
        self.means: dict[str, list[torch.Tensor]] = {name: [] for name in self.layers}
        self.variances: dict[str, list[torch.Tensor]] = {name: [] for name in self.layers}
        self._handles: list = []

    def _hook(self, name: str):
        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            if module.training and module.track_running_stats:
                x = inputs[0].detach()
                dims = [d for d in range(x.ndim) if d != 1]
                self.means[name].append(x.mean(dims).float().cpu())
                self.variances[name].append(x.var(dims, unbiased=True).float().cpu())

        return record

    def __enter__(self) -> BatchStatsRecorder:
        self._handles = [m.register_forward_pre_hook(self._hook(name)) for name, m in self.layers.items()]
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def replay_running_mean(start: torch.Tensor, batch_means: Sequence[torch.Tensor], momentum: float) -> torch.Tensor:
    """The running mean after these batches, by BatchNorm's rule ``running = (1 − momentum)·running + momentum·batch``."""
    if not 0 < momentum <= 1:
        raise ExperimentError(f"momentum={momentum!r}: BatchNorm's moving average needs 0 < momentum ≤ 1")
    running = start.detach().double().clone()
    for batch in batch_means:
        running = (1 - momentum) * running + momentum * batch.double()
    return running.to(start.dtype)


def share_moved(start: torch.Tensor, end: torch.Tensor, target: torch.Tensor) -> float:
    """How far ``end`` went from ``start`` towards ``target``, as a share of the whole way (0: not at all, 1: there).

    The projection of ``end − start`` on ``target − start``, so channels that had far to go count more.
    """
    way = (target - start).double().flatten()
    norm = float(way @ way)
    if norm == 0.0:
        raise ExperimentError("start and target are the same: there is no way to move along")
    return float((end - start).double().flatten() @ way) / norm
