"""How good is a classifier: accuracy, per-class accuracy, confusion matrix, mistakes, training curves."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import nn
from torch.utils.data import DataLoader

from .images import load_image
from .plotting import image_grid


@torch.inference_mode()
def predict_loader(
    model: nn.Module, loader: DataLoader, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``[N, C]`` and targets ``[N]`` (on the CPU) of ``model`` in eval mode over ``loader``."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    logits, targets = [], []
    for xb, yb in loader:
        logits.append(model(xb.to(device)).float().cpu())
        targets.append(torch.as_tensor(yb))
    return torch.cat(logits), torch.cat(targets)


def _preds(x: torch.Tensor) -> torch.Tensor:
    return x.argmax(1) if x.ndim == 2 else x


def accuracy(logits_or_preds: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of correct predictions (pass logits ``[N, C]`` or predicted labels ``[N]``)."""
    preds = _preds(logits_or_preds)
    if preds.shape != targets.shape:
        raise ValueError(f"predictions {tuple(preds.shape)} and targets {tuple(targets.shape)} differ in length")
    return (preds == targets).float().mean().item()


def confusion_matrix(logits_or_preds: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``[C, C]`` counts: row = true class, column = predicted class."""
    preds = _preds(logits_or_preds)
    return torch.bincount(targets * num_classes + preds, minlength=num_classes**2).reshape(num_classes, num_classes)


def per_class_accuracy(
    logits_or_preds: torch.Tensor, targets: torch.Tensor, classes: Sequence[str]
) -> dict[str, float]:
    """Accuracy of each class (recall): correct / images of that class (NaN when a class has none)."""
    cm = confusion_matrix(logits_or_preds, targets, len(classes)).float()
    return {c: (cm[i, i] / cm[i].sum()).item() if cm[i].sum() else float("nan") for i, c in enumerate(classes)}


def plot_confusion_matrix(cm: torch.Tensor, classes: Sequence[str], title: str = "confusion matrix") -> Figure:
    """The confusion matrix as a heat map with counts in the cells."""
    fig, ax = plt.subplots(figsize=(0.8 * len(classes) + 2.4, 0.8 * len(classes) + 1.8))
    ax.imshow(cm.numpy(), cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = cm.max().item() or 1
    for i in range(len(classes)):
        for j in range(len(classes)):
            v = cm[i, j].item()
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > top / 2 else "black")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def misclassified(logits_or_preds: torch.Tensor, targets: torch.Tensor) -> list[int]:
    """Indices of the wrong predictions."""
    return (_preds(logits_or_preds) != targets).nonzero().flatten().tolist()


def plot_misclassified(
    samples: Sequence[tuple[object, int]],
    logits_or_preds: torch.Tensor,
    targets: torch.Tensor,
    classes: Sequence[str],
    max_images: int = 8,
) -> Figure | None:
    """A grid of wrongly classified images titled ``true → predicted``; ``None`` when there are none.

    ``samples`` are the ``(path, label)`` pairs in the same order as the predictions.
    """
    wrong = misclassified(logits_or_preds, targets)[:max_images]
    if not wrong:
        return None
    preds = _preds(logits_or_preds)
    images = [load_image(samples[i][0]) for i in wrong]
    titles = [f"{classes[targets[i]]} → {classes[preds[i]]}" for i in wrong]
    return image_grid(images, titles, ncols=min(4, len(images)))


def plot_history(histories: dict[str, object] | object, title: str = "training curves") -> Figure:
    """Loss and accuracy per epoch of one :class:`~course_utils.training.History` or a dict of them.

    One colour per run: solid lines for training, dashed for validation; one legend below both plots.
    """
    if not isinstance(histories, dict):
        histories = {"": histories}
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    colours = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for i, (name, h) in enumerate(histories.items()):
        epochs = range(1, len(h.train_loss) + 1)
        label, colour = f"{name} " if name else "", colours[i % len(colours)]
        for ax, train, val in ((ax_loss, h.train_loss, h.val_loss), (ax_acc, h.train_acc, h.val_acc)):
            ax.plot(epochs, train, "o-", color=colour, label=f"{label}train")
            if val:
                ax.plot(epochs, val, "s--", color=colour, label=f"{label}val")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.02))
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    handles, labels = ax_loss.get_legend_handles_labels()
    fig.suptitle(title)
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(labels), 4), frameon=False)
    return fig


__all__ = [
    "accuracy",
    "confusion_matrix",
    "misclassified",
    "per_class_accuracy",
    "plot_confusion_matrix",
    "plot_history",
    "plot_misclassified",
    "predict_loader",
]
