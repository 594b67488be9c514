"""How good is a classifier: accuracy, per-class accuracy, confusion matrix, mistakes (figures: ``plots``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..core.device import eval_mode, model_device
from ..core.errors import TrainingError

__all__ = ["accuracy", "confusion_matrix", "misclassified", "per_class_accuracy", "predict_loader", "predicted_labels"]


@torch.inference_mode()
def predict_loader(
    model: nn.Module, loader: DataLoader, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``[N, C]`` and targets ``[N]`` (on the CPU) of ``model`` in eval mode over ``loader``.

    The batches go to ``device`` (default: the model's); the model's train/eval flags are restored afterwards.
    """
    device = torch.device(device) if device is not None else model_device(model)
    logits, targets = [], []
    with eval_mode(model):
        for xb, yb in loader:
            logits.append(model(xb.to(device)).float().cpu())
            targets.append(torch.as_tensor(yb))
    return torch.cat(logits), torch.cat(targets)


def predicted_labels(x: torch.Tensor) -> torch.Tensor:
    return x.argmax(1) if x.ndim == 2 else x


def accuracy(logits_or_preds: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of correct predictions (pass logits ``[N, C]`` or predicted labels ``[N]``)."""
    preds = predicted_labels(logits_or_preds)
    if preds.shape != targets.shape:
        raise TrainingError(f"predictions {tuple(preds.shape)} and targets {tuple(targets.shape)} differ in length")
    return (preds == targets).float().mean().item()


def confusion_matrix(logits_or_preds: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``[C, C]`` counts: row = true class, column = predicted class."""
    preds = predicted_labels(logits_or_preds)
    return torch.bincount(targets * num_classes + preds, minlength=num_classes**2).reshape(num_classes, num_classes)


def per_class_accuracy(
    logits_or_preds: torch.Tensor, targets: torch.Tensor, classes: Sequence[str]
) -> dict[str, float]:
    """Accuracy of each class (recall): correct / images of that class (NaN when a class has none)."""
    cm = confusion_matrix(logits_or_preds, targets, len(classes)).float()
    return {c: (cm[i, i] / cm[i].sum()).item() if cm[i].sum() else float("nan") for i, c in enumerate(classes)}


def misclassified(logits_or_preds: torch.Tensor, targets: torch.Tensor) -> list[int]:
    """Indices of the wrong predictions."""
    return (predicted_labels(logits_or_preds) != targets).nonzero().flatten().tolist()
