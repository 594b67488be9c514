"""Figures the notebooks share: one course-wide style, an image beside its top-k bars, image grids,
plain-number log axes and labels placed so that they never overlap.

:func:`apply_style` (called by ``setup()``) sets the style of every course figure in one place:
titles of at least 11 pt, tick labels of at least 9 pt, a readable dpi, no offset or power-of-ten
tick labels where plain numbers fit.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox
from PIL import Image

#: The course's figure style (matplotlib rcParams); :func:`apply_style` installs it.
STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": "figure",
    "font.size": 10.5,
    "axes.titlesize": 12,
    "axes.titlepad": 8,
    "axes.labelsize": 11,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9.5,
    "legend.framealpha": 0.9,
    "figure.titlesize": 13,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.formatter.useoffset": False,
    "axes.formatter.limits": (-4, 6),
    "image.cmap": "viridis",
}
MIN_TITLE_PT, MIN_TICK_PT = 11, 9


def apply_style() -> None:
    """Install :data:`STYLE` for every later figure (``setup()`` does this in each notebook's first cell)."""
    import matplotlib.pyplot  # noqa: F401  (selects the backend first, so that it cannot reset the style later)

    matplotlib.rcParams.update(STYLE)


def plain_log_axis(axis: Axis) -> None:
    """Ticks of a log axis as plain numbers at 1-2-5 steps (``2``, ``20``, ``50`` ms), never ``2×10¹``."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    lo, hi = sorted(axis.get_view_interval())
    lo = max(lo, 1e-12)
    ticks = [
        m * 10.0**e
        for e in range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1)
        for m in (1, 2, 5)
        if lo <= m * 10.0**e <= hi
    ]
    if len(ticks) > 8:
        ticks = [t for t in ticks if f"{t:.0e}"[0] in "15"]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def _renderer(fig: Figure):
    fig.canvas.draw()
    get = getattr(fig.canvas, "get_renderer", None)
    return get() if get is not None else fig._get_renderer()


def _overlap(a: Bbox, b: Bbox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _outside(box: Bbox, frame: Bbox) -> float:
    inside = _overlap(box, frame)
    return box.width * box.height - inside


def _distance(px: float, py: float, box: Bbox) -> float:
    dx = max(box.x0 - px, 0.0, px - box.x1)
    dy = max(box.y0 - py, 0.0, py - box.y1)
    return float(np.hypot(dx, dy))


def _candidates():
    """Label offsets (points) with their alignment, nearest first: right, left, above, below, then diagonals."""
    directions = [(1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1), (0, 1), (0, -1)]
    for radius in (7, 16, 28, 42):
        for dx, dy in directions:
            ha = {1: "left", -1: "right", 0: "center"}[dx]
            va = {1: "bottom", -1: "top", 0: "center"}[dy]
            yield (dx * radius, dy * radius * 0.8), ha, va, radius > 7


def place_labels(
    ax: Axes, labels: Sequence[str], xs: Sequence[float], ys: Sequence[float], fontsize: float | None = None
) -> list:
    """Annotate point i with ``labels[i]``, choosing for each label an offset that overlaps no other label,
    no point and no legend, and stays inside the axes (a small greedy placer); a label set further
    away gets a thin leader line to its point. Call it after the layout is final (after ``tight_layout``).
    Returns the annotations.
    """
    fig = ax.figure
    renderer = _renderer(fig)
    frame = ax.get_window_extent(renderer).padded(-2)
    pix = ax.transData.transform(np.column_stack([xs, ys])) if len(xs) else np.zeros((0, 2))
    radius = 7.0 * fig.dpi / 72
    markers = [Bbox.from_extents(px - radius, py - radius, px + radius, py + radius) for px, py in pix]
    legend = ax.get_legend()
    fixed = [legend.get_window_extent(renderer)] if legend is not None else []
    placed: list[Bbox] = []
    texts = []
    size = fontsize or matplotlib.rcParams["xtick.labelsize"]
    order = sorted(range(len(labels)), key=lambda i: (pix[i][0], -pix[i][1]))
    for i in order:
        best = None
        for offset, ha, va, leader in _candidates():
            text = ax.annotate(
                labels[i],
                (xs[i], ys[i]),
                textcoords="offset points",
                xytext=offset,
                ha=ha,
                va=va,
                fontsize=size,
                zorder=4,
            )
            box = text.get_window_extent(renderer).padded(1.5)
            others = [m for j, m in enumerate(markers) if j != i]
            score = sum(_overlap(box, b) for b in placed + others + fixed) + 10 * _outside(box, frame)
            own = _distance(*pix[i], box)
            if leader:  # the leader line must not cross another label
                cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
                steps = [
                    (pix[i][0] + t * (cx - pix[i][0]), pix[i][1] + t * (cy - pix[i][1]))
                    for t in np.linspace(0.1, 0.9, 9)
                ]
                score += 20.0 * sum(b.contains(x, y) for b in placed for x, y in steps)
            if not leader and any(_distance(*pix[j], box) < own + 3 for j in range(len(pix)) if j != i):
                score += 50.0  # next to another point: a reader would pair the label with that one
            if best is None or score < best[0]:
                if best is not None:
                    best[1].remove()
                best = (score, text, box, leader)
            else:
                text.remove()
            if score == 0:
                break
        _, text, box, leader = best
        if leader:
            text.remove()
            text = ax.annotate(
                labels[i],
                (xs[i], ys[i]),
                textcoords="offset points",
                xytext=text.get_position(),
                ha=text.get_ha(),
                va=text.get_va(),
                fontsize=size,
                zorder=4,
                arrowprops={"arrowstyle": "-", "color": "0.45", "lw": 0.7, "shrinkA": 1, "shrinkB": 5},
            )
        text.set_in_layout(False)
        placed.append(box)
        texts.append(text)
    return texts


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
    """Horizontal bars of ``(label, probability)`` pairs, best at the top; values stay inside the frame."""
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
    return ax


def show_predictions(
    image: Image.Image | np.ndarray | torch.Tensor, preds: Sequence[tuple[str, float]], title: str | None = None
) -> Figure:
    """The image on the left, its top-k probabilities on the right."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [1, 1.3]})
    left.imshow(_as_displayable(image))
    left.axis("off")
    if title:
        left.set_title(title)
    topk_bars(right, preds)
    fig.tight_layout()
    return fig


def image_grid(
    images: Sequence[Image.Image | np.ndarray | torch.Tensor],
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    size: float = 2.5,
) -> Figure:
    """Images in a grid with optional titles (wrapped to the column width, at least 11 pt)."""
    import matplotlib.pyplot as plt

    if not images:
        raise ValueError("image_grid needs at least one image")
    ncols = max(1, min(ncols, len(images)))
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(_as_displayable(images[i]), cmap="gray" if np.ndim(images[i]) == 2 else None)
            if titles is not None and i < len(titles):
                ax.set_title(textwrap.fill(str(titles[i]), width=max(12, int(size * 9))), fontsize=MIN_TITLE_PT)
    fig.tight_layout()
    return fig


__all__ = [
    "MIN_TICK_PT",
    "MIN_TITLE_PT",
    "STYLE",
    "apply_style",
    "image_grid",
    "place_labels",
    "plain_log_axis",
    "show_predictions",
    "topk_bars",
]
