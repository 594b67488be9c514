"""Batched, no-grad prediction with top-k labels."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import torch

from .images import ImageInput, load_images
from .models import Classifier


class Prediction(NamedTuple):
    """One ranked class: its label, probability and ImageNet index."""

    label: str
    prob: float
    index: int


def topk(probs: torch.Tensor, categories: Sequence[str], k: int = 5) -> list[Prediction]:
    """The ``k`` most probable classes of a 1-D probability vector, best first."""
    if probs.ndim != 1:
        raise ValueError(f"topk expects one probability vector of shape [C], got shape {tuple(probs.shape)}")
    k = max(1, min(int(k), probs.numel()))
    values, indices = probs.float().topk(k)
    return [Prediction(categories[i], float(v), int(i)) for v, i in zip(values.tolist(), indices.tolist())]


def to_batch(clf: Classifier, images: Iterable[ImageInput]) -> torch.Tensor:
    """Load and preprocess images into one float batch ``[N, 3, H, W]`` (on the CPU)."""
    return torch.stack([clf.preprocess(img) for img in load_images(images)])


@torch.inference_mode()
def predict_proba(clf: Classifier, images: str | Path | Iterable[ImageInput] | torch.Tensor,
                  batch_size: int = 32) -> torch.Tensor:
    """Class probabilities ``[N, C]`` for a folder, a list of images, or a preprocessed batch.

    Runs in batches under ``torch.inference_mode()`` with channels-last memory, which is
    faster on CPUs and GPUs alike for convolutional networks.
    """
    batch = images if isinstance(images, torch.Tensor) else to_batch(clf, images)
    if batch.ndim != 4 or batch.shape[1] != 3:
        raise ValueError(f"expected a batch of shape [N, 3, H, W], got {tuple(batch.shape)}")
    model = clf.model.eval().to(memory_format=torch.channels_last)
    out = []
    for chunk in batch.split(batch_size):
        chunk = chunk.to(clf.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        out.append(model(chunk).float().softmax(dim=1).cpu())
    return torch.cat(out)


def predict(clf: Classifier, images: ImageInput | str | Path | Iterable[ImageInput], top: int = 5,
            batch_size: int = 32) -> list[Prediction] | list[list[Prediction]]:
    """Top-``top`` predictions: a list for one image, a list of lists for a list or folder."""
    single = not isinstance(images, (list, tuple)) and not (isinstance(images, (str, Path)) and Path(images).is_dir())
    probs = predict_proba(clf, [images] if single else images, batch_size)
    ranked = [topk(p, clf.categories, top) for p in probs]
    return ranked[0] if single else ranked
