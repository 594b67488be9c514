"""Accuracy against cost: each model a point, the Pareto front drawn, labels placed without overlaps."""

from __future__ import annotations

import math

from matplotlib.figure import Figure

from ..core.errors import PlotError
from .base import Axs, _axes, _finish, plain_log_axis
from .labels import place_labels

__all__ = ["plot_tradeoff"]


def _front(points: dict[str, tuple[float, float]]) -> list[str]:
    """Names no other point beats on both x (lower) and y (higher), by x."""

    def dominated(a: tuple[float, float]) -> bool:
        return any(b[0] <= a[0] and b[1] >= a[1] and b != a for b in points.values())

    return sorted((n for n, p in points.items() if not dominated(p)), key=lambda n: points[n][0])


def plot_tradeoff(
    points: dict[str, tuple[float, float]],
    xlabel: str = "latency (ms)",
    ylabel: str = "ImageNet acc@1 (%)",
    title: str | None = None,
    logx: bool = True,
    ax: Axs = None,
) -> Figure:
    """Scatter of ``{name: (x, y)}`` with the Pareto front (lower x, higher y) as a step line.

    The x axis reads in plain numbers (1, 2, 5, 10, … ms, no powers of ten) and every label is placed
    beside its point without overlapping another label, a point or the legend, inside the axes.
    """
    if not points:
        raise PlotError("plot_tradeoff needs at least one point")
    front = _front(points)
    fig, (ax_,) = _axes(ax, 1, figsize=(8, 4.8))
    for name, (x, y) in points.items():
        on = name in front
        ax_.scatter(x, y, s=60 if on else 35, color="#c44e52" if on else "#4c72b0", zorder=3)
    xs, ys = zip(*(points[n] for n in front))
    ax_.step(xs, ys, where="post", color="#c44e52", alpha=0.6, label="Pareto front")
    allx, ally = [p[0] for p in points.values()], [p[1] for p in points.values()]
    if logx:
        ax_.set_xscale("log")
        lo, hi = math.log10(min(allx)), math.log10(max(allx))
        pad = max(0.15, 0.2 * (hi - lo))
        ax_.set_xlim(10 ** (lo - pad), 10 ** (hi + 2 * pad))  # room on the right for the slowest model's label
        plain_log_axis(ax_.xaxis)
    else:
        pad = max(1e-9, 0.2 * (max(allx) - min(allx)) or abs(allx[0]) * 0.2 or 1.0)
        ax_.set_xlim(min(allx) - pad, max(allx) + pad)
    ypad = max(0.5, 0.15 * (max(ally) - min(ally)))
    ax_.set_ylim(min(ally) - 1.6 * ypad, max(ally) + ypad)
    ax_.set_xlabel(xlabel)
    ax_.set_ylabel(ylabel)
    ax_.grid(alpha=0.3, which="both")
    ax_.legend(loc="lower right")
    ax_.set_title(title or "accuracy vs latency (up and to the left is better)")
    _finish(fig, ax is None)
    place_labels(ax_, list(points), allx, ally)
    return fig
