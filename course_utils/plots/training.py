"""Figures of training: curves, results over seeds, few-shot curves, confusion matrices, misclassified images."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..core.errors import PlotError
from ..core.style import MIN_TICK_PT
from ..data.images import load_image
from .base import Axs, _axes, _finish, plain_log_axis, smooth
from .images import plot_image_grid

__all__ = [
    "plot_confusion_matrix",
    "plot_few_shot",
    "plot_gradient_norms",
    "plot_history",
    "plot_losses",
    "plot_misclassified",
    "plot_seed_bands",
    "plot_seed_runs",
]


def plot_confusion_matrix(
    cm: torch.Tensor, classes: Sequence[str], title: str = "confusion matrix", ax: Axs = None
) -> Figure:
    """The confusion matrix (rows: true class, columns: predicted) as a heat map with counts in the cells."""
    fig, (ax_,) = _axes(ax, 1, figsize=(0.8 * len(classes) + 2.4, 0.8 * len(classes) + 1.8))
    ax_.imshow(cm.numpy(), cmap="Blues")
    ax_.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax_.set_yticks(range(len(classes)), classes)
    ax_.set_xlabel("predicted")
    ax_.set_ylabel("true")
    top = cm.max().item() or 1
    for i in range(len(classes)):
        for j in range(len(classes)):
            v = cm[i, j].item()
            ax_.text(j, i, str(v), ha="center", va="center", color="white" if v > top / 2 else "black")
    ax_.set_title(title)
    return _finish(fig, ax is None)


def plot_misclassified(
    samples: Sequence[tuple[object, int]],
    logits_or_preds: torch.Tensor,
    targets: torch.Tensor,
    classes: Sequence[str],
    max_images: int = 8,
    ax: Axs = None,
) -> Figure:
    """A grid of wrongly classified images titled ``true → predicted``; a figure that says so when there are none.

    ``samples`` are the ``(path, label)`` pairs in the same order as the predictions.
    """
    preds = logits_or_preds.argmax(1) if logits_or_preds.ndim == 2 else logits_or_preds
    wrong = (preds != targets).nonzero().flatten().tolist()[:max_images]
    if not wrong:
        fig, (ax_,) = _axes(ax, 1, figsize=(4, 1))
        ax_.axis("off")
        ax_.text(0.5, 0.5, f"no misclassified images among {len(targets):,}", ha="center", va="center")
        return fig
    images = [load_image(samples[i][0]) for i in wrong]
    titles = [f"{classes[targets[i]]} → {classes[preds[i]]}" for i in wrong]
    return plot_image_grid(images, titles, ncols=min(4, len(images)), ax=ax)


def plot_history(histories: dict[str, object] | object, title: str = "training curves", ax: Axs = None) -> Figure:
    """Loss and accuracy per epoch of one :class:`~course_utils.train.History` or a dict of them (``ax``: two).

    One colour per run: solid lines for training, dashed for validation; one legend below both plots.
    """
    if not isinstance(histories, dict):
        histories = {"": histories}
    fig, (ax_loss, ax_acc) = _axes(ax, 2, ncols=2, figsize=(10, 3.6))
    colours = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for i, (name, h) in enumerate(histories.items()):
        epochs = range(1, len(h.train_loss) + 1)
        label, colour = f"{name} " if name else "", colours[i % len(colours)]
        for a, train, val in ((ax_loss, h.train_loss, h.val_loss), (ax_acc, h.train_acc, h.val_acc)):
            a.plot(epochs, train, "o-", color=colour, label=f"{label}train")
            if val:
                a.plot(epochs, val, "s--", color=colour, label=f"{label}val")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.02))
    for a in (ax_loss, ax_acc):
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.grid(alpha=0.3)
    handles, labels = ax_loss.get_legend_handles_labels()
    if ax is None:
        fig.suptitle(title)
        fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(labels), 4), frameon=False)
    return fig


def plot_few_shot(
    curves: Mapping[str, torch.Tensor],
    shots: Sequence[int],
    chance: float | None = None,
    title: str | None = None,
    ax: Axs = None,
) -> Figure:
    """Accuracy against training images per class (log axis): one line per method, the mean over seeds, and a
    band from the worst to the best seed. ``curves``: ``{name: tensor [len(shots), seeds]}``."""
    if not curves:
        raise PlotError("plot_few_shot needs at least one curve")
    for name, acc in curves.items():
        if acc.ndim != 2 or acc.shape[0] != len(shots):
            raise PlotError(
                f"curve {name!r} has shape {tuple(acc.shape)}; expected [len(shots), seeds] = [{len(shots)}, …]"
            )
    fig, (ax_,) = _axes(ax, 1, figsize=(7.5, 4.2))
    for name, acc in curves.items():
        acc = acc.detach().float().cpu()
        (line,) = ax_.plot(list(shots), acc.mean(1).tolist(), "o-", label=f"{name} (mean of {acc.shape[1]} draws)")
        lo, hi = acc.min(1).values.tolist(), acc.max(1).values.tolist()
        ax_.fill_between(list(shots), lo, hi, color=line.get_color(), alpha=0.2)
    if chance is not None:
        ax_.axhline(chance, color="grey", ls=":", label="chance")
    ax_.set_xscale("log")
    plain_log_axis(ax_.xaxis)
    ax_.set(xlabel="training images per class", ylabel="test accuracy", ylim=(0, 1.02))
    ax_.grid(alpha=0.3)
    ax_.legend(loc="lower right")
    ax_.set_title(title or "Few-shot curve: mean and min–max over draws")
    return _finish(fig, ax is None)


def plot_seed_runs(
    rows: Mapping[str, Sequence[float]], title: str | None = None, xlabel: str = "test accuracy", ax: Axs = None
) -> Figure:
    """One row per method: every seed as a dot, the mean as a bar from zero, the min–max range as a line."""
    if not rows:
        raise PlotError("plot_seed_runs needs at least one method")
    names = list(rows)
    fig, (ax_,) = _axes(ax, 1, figsize=(9, 0.45 * len(names) + 1.4))
    for i, name in enumerate(names):
        vals = [float(v) for v in rows[name]]
        if not vals:
            raise PlotError(f"method {name!r} has no value")
        mean = sum(vals) / len(vals)
        ax_.barh(i, mean, color="#4c72b0", alpha=0.35, height=0.6)
        ax_.plot([min(vals), max(vals)], [i, i], color="#4c72b0", lw=2)
        ax_.plot(vals, [i] * len(vals), "o", color="#4c72b0", ms=5)
        ax_.text(max(vals) + 0.015, i, f"{mean:.1%}", ha="left", va="center", fontsize=MIN_TICK_PT)
    ax_.set_yticks(range(len(names)), names)
    ax_.invert_yaxis()
    ax_.set_xlim(0, 1)
    ax_.set_xlabel(xlabel)
    ax_.grid(alpha=0.3, axis="x")
    ax_.set_title(title or "Each seed (dots), the mean (bar) and the min–max range (line)")
    return _finish(fig, ax is None)


def plot_gradient_norms(
    runs: dict[str, Sequence[tuple[str, float]]], title: str | None = None, ax: Axs = None
) -> Figure:
    """Per-layer gradient norms of several models (``[(layer, norm), …]`` each), log scale, input side left."""
    fig, (ax_,) = _axes(ax, 1, figsize=(7, 3.5))
    for label, norms in runs.items():
        ax_.plot(range(len(norms)), [n for _, n in norms], marker="o", markersize=3, label=label)
    ax_.set_yscale("log")
    ax_.set_xlabel("layer (input → output)")
    ax_.set_ylabel("‖∂loss/∂W‖")
    ax_.set_title(title or "Gradient norm per layer at initialisation")
    ax_.grid(alpha=0.3, which="both")
    ax_.legend()
    return _finish(fig, ax is None)


def plot_losses(
    histories: dict[str, Sequence[float]], window: int = 10, title: str | None = None, ax: Axs = None
) -> Figure:
    """Training-loss curves (raw, faint, and smoothed over ``window`` steps with :func:`smooth`)."""
    fig, (ax_,) = _axes(ax, 1, figsize=(7, 3.5))
    for label, losses in histories.items():
        (line,) = ax_.plot(smooth(losses, window), label=label)
        ax_.plot(losses, color=line.get_color(), alpha=0.2, linewidth=0.8)
    ax_.set_xlabel("training step")
    ax_.set_ylabel("training loss")
    ax_.set_title(title or "Training loss")
    ax_.grid(alpha=0.3)
    ax_.legend()
    return _finish(fig, ax is None)


def plot_seed_bands(
    panels: Mapping[str, Mapping[str, Sequence[Sequence[float]]]],
    ylabel: str | Sequence[str] = "validation accuracy",
    title: str | None = None,
    ncols: int = 3,
    ax: Axs = None,
) -> Figure:
    """One panel per comparison, one curve per setting: the mean over seeds per epoch, with the min–max band.

    ``panels`` is ``{panel title: {setting: [per-epoch values of seed 0, of seed 1, …]}}``; ``ylabel`` is one
    label for every panel or one per panel; ``ax``: one axes per panel.
    """
    if not panels or not all(panels.values()):
        raise PlotError("plot_seed_bands needs at least one panel, each with at least one setting")
    labels = [ylabel] * len(panels) if isinstance(ylabel, str) else list(ylabel)
    if len(labels) != len(panels):
        raise PlotError(f"{len(labels)} y labels for {len(panels)} panels: give one label, or one per panel")
    n = len(panels)
    cols = max(1, min(ncols, n))
    rows = math.ceil(n / cols)
    if ax is None:
        fig, made = plt.subplots(rows, cols, squeeze=False, figsize=(4.2 * cols, 3.2 * rows))
        axes = list(made.flat)
        for extra in axes[n:]:
            extra.set_visible(False)
        axes = axes[:n]
    else:
        fig, axes = _axes(ax, n)
    for a, (name, settings), label in zip(axes, panels.items(), labels):
        for setting, seeds in settings.items():
            values = np.asarray(seeds, dtype=float)
            if values.ndim != 2 or values.shape[1] == 0:
                raise PlotError(f"{name} / {setting}: give a list of per-epoch lists, one per seed, of equal length")
            epochs = np.arange(1, values.shape[1] + 1)
            (line,) = a.plot(epochs, values.mean(0), marker="o", markersize=3, label=f"{setting} ({len(values)} seeds)")
            a.fill_between(epochs, values.min(0), values.max(0), color=line.get_color(), alpha=0.2, linewidth=0)
        a.set(title=name, xlabel="epoch", ylabel=label)
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.grid(alpha=0.3)
        a.legend()
    if ax is None:
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig
