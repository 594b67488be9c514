"""Notebook 04's experiments: a pretrained EfficientNet-Lite0 fine-tuned on Fashion-MNIST, every result over seeds.

The notebook writes each step by hand (transforms, embeddings, the training loop); this module holds the
bookkeeping around them, so that every comparison is read the same way::

    from course_utils.lessons import finetune_fmnist as ff
    probe = ff.Runs([0.64, 0.65, 0.63])          # one test accuracy per seed (the same draws for every method)
    print(probe)                                 # 64.0 % (63.0–65.0)
    print(ff.verdict(probe, pixels, ("probe", "pixels")))   # a difference, or "within noise"

* :class:`Runs`, :func:`differs` and :func:`verdict` (from :mod:`course_utils.measure.seeds`, the course's one
  rule) — a method's accuracy over seeds as mean (min–max), and whether two methods differ by more than that
  spread; :func:`results_table` prints several.
* :func:`bn_statistics`, :class:`BatchStatsRecorder`, :func:`replay_running_mean` — BatchNorm's running
  statistics, the batch statistics a forward pass in train mode feeds into them, and the moving average
  ``running = (1 − momentum)·running + momentum·batch`` recomputed by hand from those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..core.errors import ExperimentError
from ..measure.seeds import MIN_SEEDS, Runs, differs, verdict

__all__ = [
    "MIN_SEEDS",
    "BatchStatsRecorder",
    "Runs",
    "bn_layers",
    "bn_statistics",
    "differs",
    "replay_running_mean",
    "results_table",
    "share_moved",
    "verdict",
]

_BN = nn.modules.batchnorm._BatchNorm


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
