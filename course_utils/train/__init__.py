"""Training: fine-tuning and linear probes (:mod:`.finetune`), and how good the result is (:mod:`.metrics`)."""

from .finetune import (
    History,
    count_trainable,
    decay_groups,
    fit,
    freeze_all_but,
    freeze_bn_stats,
    param_groups,
    run_epoch,
    train_linear_probe,
)
from .metrics import accuracy, confusion_matrix, misclassified, per_class_accuracy, predict_loader

__all__ = [
    "History",
    "accuracy",
    "confusion_matrix",
    "count_trainable",
    "decay_groups",
    "fit",
    "freeze_all_but",
    "freeze_bn_stats",
    "misclassified",
    "param_groups",
    "per_class_accuracy",
    "predict_loader",
    "run_epoch",
    "train_linear_probe",
]
