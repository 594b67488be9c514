"""The most probable classes of one probability vector: labels, probabilities and indices, best first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from ..core.errors import InputShapeError

__all__ = ["Prediction", "topk"]


class Prediction(NamedTuple):
    """One ranked class: its label, probability and ImageNet index."""

    label: str
    prob: float
    index: int


def topk(probs: torch.Tensor, categories: Sequence[str], k: int = 5) -> list[Prediction]:
    """The ``k`` most probable classes of a 1-D probability vector, best first."""
    if not isinstance(probs, torch.Tensor) or probs.ndim != 1:
        shape = tuple(probs.shape) if isinstance(probs, torch.Tensor) else type(probs).__name__
        raise InputShapeError(
            f"topk expects one probability vector of shape [C], got {shape}; for a batch call it per row: [topk(p, categories) for p in probs]"
        )
    k = max(1, min(int(k), probs.numel()))
    values, indices = probs.float().topk(k)
    return [Prediction(categories[i], float(v), int(i)) for v, i in zip(values.tolist(), indices.tolist())]
