"""Figures the notebooks share: an image beside its top-k bars, and image grids."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from PIL import Image


def _as_displayable(img: Image.Image | np.ndarray | torch.Tensor) -> np.ndarray | Image.Image:
    if isinstance(img, torch.Tensor):
        arr = img.detach().cpu().float()
        if arr.ndim == 3 and arr.shape[0] in (1, 3):
            arr = arr.permute(1, 2, 0)
        arr = arr.numpy()
        lo, hi = arr.min(), arr.max()
        return (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    return img


def topk_bars(ax: Axes, preds: Sequence[tuple[str, float]], title: str | None = None) -> Axes:
    """Horizontal bars of ``(label, probability)`` pairs, best at the top."""
    labels = [p[0] for p in preds][::-1]
    probs = [float(p[1]) for p in preds][::-1]
    ax.barh(range(len(probs)), probs, color="#4c72b0")
    ax.set_yticks(range(len(probs)), labels)
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    for y, p in enumerate(probs):
        ax.text(min(p + 0.02, 0.85), y, f"{p:.1%}", va="center", fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def show_predictions(image: Image.Image | np.ndarray | torch.Tensor, preds: Sequence[tuple[str, float]],
                     title: str | None = None) -> Figure:
    """The image on the left, its top-k probabilities on the right."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [1, 1.3]})
    left.imshow(_as_displayable(image))
    left.axis("off")
    if title:
        left.set_title(title)
    topk_bars(right, preds)
    fig.tight_layout()
    return fig


def image_grid(images: Sequence[Image.Image | np.ndarray | torch.Tensor], titles: Sequence[str] | None = None,
               ncols: int = 4, size: float = 2.5) -> Figure:
    """Images in a grid with optional titles."""
    if not images:
        raise ValueError("image_grid needs at least one image")
    ncols = max(1, min(ncols, len(images)))
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(_as_displayable(images[i]), cmap="gray" if np.ndim(images[i]) == 2 else None)
            if titles is not None and i < len(titles):
                ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig
