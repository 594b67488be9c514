"""Figures of images: predictions with their top-k bars, grids, similarity heat maps, Grad-CAM, feature maps."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image

from ..core.errors import EmbeddingError, FeatureMapError, GradCAMError, PlotError
from ..core.style import MIN_TICK_PT, MIN_TITLE_PT
from ..inspect.feature_maps import one_image_maps, top_channels
from .base import Axs, Maps, _as_displayable, _axes, _finish

__all__ = [
    "overlay",
    "plot_channel",
    "plot_gradcam",
    "plot_image_grid",
    "plot_predictions",
    "plot_similarity",
    "plot_top_channels",
    "plot_topk",
]


def plot_topk(preds: Sequence[tuple[str, float]], title: str | None = None, ax: Axs = None) -> Figure:
    """Horizontal bars of ``(label, probability)`` pairs, best at the top; values stay inside the frame."""
    fig, (ax,) = _axes(ax, 1, figsize=(5, 3))
    labels = [p[0] for p in preds][::-1]
    probs = [float(p[1]) for p in preds][::-1]
    ax.barh(range(len(probs)), probs, color="#4c72b0")
    ax.set_yticks(range(len(probs)), labels)
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    for y, p in enumerate(probs):
        inside = p > 0.75  # a long bar carries its value inside, in white, so it cannot run past the frame
        ax.text(
            p - 0.02 if inside else p + 0.02,
            y,
            f"{p:.1%}",
            va="center",
            ha="right" if inside else "left",
            color="white" if inside else "black",
            fontsize=MIN_TICK_PT + 0.5,
        )
    if title:
        ax.set_title(title)
    return fig


def plot_predictions(
    image: Image.Image | np.ndarray | torch.Tensor,
    preds: Sequence[tuple[str, float]],
    title: str | None = None,
    ax: Axs = None,
) -> Figure:
    """The image on the left, its top-k probabilities on the right (``ax``: two axes)."""
    fig, (left, right) = _axes(ax, 2, ncols=2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [1, 1.3]})
    left.imshow(_as_displayable(image))
    left.axis("off")
    if title:
        left.set_title(title)
    plot_topk(preds, ax=right)
    return _finish(fig, ax is None)


def plot_image_grid(
    images: Sequence[Image.Image | np.ndarray | torch.Tensor],
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    size: float = 2.5,
    ax: Axs = None,
) -> Figure:
    """Images in a grid with optional titles (wrapped to the column width, at least 11 pt); ``ax``: one per image."""
    if not len(images):
        raise PlotError("plot_image_grid needs at least one image")
    ncols = max(1, min(ncols, len(images)))
    nrows = -(-len(images) // ncols)
    n = len(images) if ax is not None else nrows * ncols
    fig, axes = _axes(ax, n, nrows=nrows, ncols=ncols, figsize=(size * ncols, size * nrows + 0.3))
    for i, a in enumerate(axes):
        a.axis("off")
        if i < len(images):
            a.imshow(_as_displayable(images[i]), cmap="gray" if np.ndim(images[i]) == 2 else None)
            if titles is not None and i < len(titles):
                a.set_title(textwrap.fill(str(titles[i]), width=max(12, int(size * 9))), fontsize=MIN_TITLE_PT)
    return _finish(fig, ax is None)


def plot_similarity(
    sim: torch.Tensor, labels: Sequence[str], title: str | None = None, annotate: bool = False, ax: Axs = None
) -> Figure:
    """A heat map of a square or rectangular similarity matrix with ``labels`` on both axes."""
    n, m = sim.shape
    if len(labels) != n:
        raise EmbeddingError(f"{len(labels)} labels for a {n}×{m} matrix: give one label per row")
    col_labels = labels if m == n else [str(j) for j in range(m)]
    fig, (ax_,) = _axes(ax, 1, figsize=(1.5 + 0.32 * m, 1.2 + 0.32 * n))
    im = ax_.imshow(sim.detach().cpu().numpy(), cmap="viridis", vmin=min(0.0, float(sim.min())), vmax=1.0)
    ax_.set_xticks(range(m), col_labels, rotation=90, fontsize=7)
    ax_.set_yticks(range(n), labels, fontsize=7)
    if annotate:
        for i in range(n):
            for j in range(m):
                ax_.text(j, i, f"{float(sim[i, j]):.2f}", ha="center", va="center", fontsize=6, color="w")
    fig.colorbar(im, ax=ax_, fraction=0.04, label="cosine similarity")
    if title:
        ax_.set_title(title)
    return _finish(fig, ax is None)


def overlay(image: np.ndarray | Image.Image, cam: torch.Tensor, alpha: float = 0.45, cmap: str = "jet") -> np.ndarray:
    """``image`` (``[H, W, 3]`` in ``[0, 1]`` or PIL) blended with a colour-mapped map (e.g. a CAM) of the same size."""
    img = np.asarray(image, dtype=np.float32)
    img = np.clip(img / 255.0 if isinstance(image, Image.Image) or img.max() > 1.5 else img, 0.0, 1.0)
    heat = cam.detach().float().cpu().numpy()
    if heat.shape != img.shape[:2]:
        raise GradCAMError(
            f"the CAM {heat.shape} and the image {img.shape[:2]} differ in size; "
            "use the preprocessed image (to_display) the CAM was computed on"
        )
    coloured = matplotlib.colormaps[cmap](heat)[..., :3]
    return np.clip((1 - alpha) * img + alpha * coloured, 0.0, 1.0)


def plot_gradcam(
    images: Sequence[np.ndarray],
    cams: Sequence[torch.Tensor],
    titles: Sequence[str] | None = None,
    alpha: float = 0.45,
    size: float = 3.0,
    ax: Axs = None,
) -> Figure:
    """Each image above its Grad-CAM overlay (``ax``: 2 × N axes, the images' row first)."""
    n = len(images)
    if n == 0 or n != len(cams):
        raise GradCAMError(f"plot_gradcam needs as many CAMs as images (got {n} images, {len(cams)} CAMs)")
    width = size * n * images[0].shape[1] / images[0].shape[0]
    fig, axes = _axes(ax, 2 * n, nrows=2, ncols=n, figsize=(width, 2 * size))
    for i in range(n):
        axes[i].imshow(images[i])
        axes[n + i].imshow(overlay(images[i], cams[i], alpha))
        if titles is not None and i < len(titles):
            axes[i].set_title(titles[i])
        for a in (axes[i], axes[n + i]):
            a.axis("off")
    return _finish(fig, ax is None)


def plot_top_channels(
    maps: Maps,
    k: int = 8,
    image: np.ndarray | Image.Image | None = None,
    title: str | None = None,
    size: float = 1.15,
    ax: Axs = None,
) -> Figure:
    """A grid: one row per layer, its ``k`` most activated channels (each scaled to its own range).

    ``maps`` is ``{layer: [C, h, w]}`` for one image (``[1, C, h, w]`` works too); ``image`` is drawn at the
    left of the first row. Each row is headed by its layer and shape; the figure is at most 9 inches wide so
    that its text stays readable on screen. ``ax``: one per cell, ``len(maps) × (k + 1 if image else k)``.
    """
    if not maps:
        raise FeatureMapError("plot_top_channels needs at least one layer's maps")
    extra = 1 if image is not None else 0
    cols = k + extra
    if ax is None:
        width = min(9.0, size * cols)
        fig = plt.figure(
            figsize=(width, (width / cols + 0.55) * len(maps) + (0.4 if title else 0)), layout="constrained"
        )
        rows = list(np.atleast_1d(fig.subfigures(len(maps), 1)))
        grid = [list(np.atleast_1d(row.subplots(1, cols))) for row in rows]
    else:
        fig, flat = _axes(ax, len(maps) * cols)
        rows, grid = [None] * len(maps), [flat[r * cols : (r + 1) * cols] for r in range(len(maps))]
    for r, (row, axes, (name, fmap)) in enumerate(zip(rows, grid, maps.items())):
        fmap = one_image_maps(fmap, name)
        for a in axes:
            a.axis("off")
        if extra and r == 0:
            axes[0].imshow(image)
            axes[0].set_title("input")
        header = f"{name}: {fmap.shape[0]} channels of {fmap.shape[1]}×{fmap.shape[2]}"
        if row is not None:
            row.suptitle(header, x=0.01, ha="left", fontsize=plt.rcParams["axes.labelsize"])
        for col, c in enumerate(top_channels(fmap, k)):
            axes[col + extra].imshow(fmap[c].numpy(), cmap="viridis")
            axes[col + extra].set_title(f"#{c}" if row is not None or col else f"{header}\n#{c}", loc="left")
    if title:
        fig.suptitle(title)
    return fig


def plot_channel(
    maps_by_image: Mapping[str, Maps],
    image_name: str,
    layer: str,
    channel: int,
    images: Mapping[str, np.ndarray | Image.Image] | None = None,
    ax: Axs = None,
) -> Figure:
    """One channel of one layer for one image, beside the image when ``images`` has it (``ax``: one or two)."""
    if image_name not in maps_by_image:
        raise FeatureMapError(f"no image {image_name!r}; choose one of {', '.join(maps_by_image)}")
    maps = maps_by_image[image_name]
    if layer not in maps:
        raise FeatureMapError(f"no layer {layer!r}; choose one of {', '.join(maps)}")
    fmap = one_image_maps(maps[layer], layer)
    if not 0 <= channel < fmap.shape[0]:
        raise FeatureMapError(f"{layer} has channels 0..{fmap.shape[0] - 1}, not {channel}")
    show_image = images is not None and image_name in images
    fig, axes = _axes(ax, 1 + show_image, ncols=1 + show_image, figsize=(6.4 if show_image else 3.2, 3.2))
    if show_image:
        axes[0].imshow(images[image_name])
        axes[0].set_title(image_name)
    im = axes[-1].imshow(fmap[channel].numpy(), cmap="viridis")
    axes[-1].set_title(f"{layer} · channel {channel} · mean {float(fmap[channel].mean()):.2f}")
    fig.colorbar(im, ax=axes[-1], fraction=0.046)
    for a in axes:
        a.axis("off")
    return _finish(fig, ax is None)
