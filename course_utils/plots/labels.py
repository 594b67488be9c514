"""Text labels beside scatter points that never overlap each other, the points or the frame."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

__all__ = ["place_labels"]


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
