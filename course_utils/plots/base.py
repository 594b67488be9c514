"""What every figure shares: axes to draw on (new or given), showing images, plain log ticks, a running mean."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from PIL import Image

from ..core.errors import PlotError

Axs = Axes | Sequence[Axes] | np.ndarray | None
Maps = Mapping[str, torch.Tensor]

__all__ = ["figure_png", "plain_log_axis", "smooth"]


def _axes(ax: Axs, n: int, **subplots: object) -> tuple[Figure, list[Axes]]:
    """The figure and ``n`` axes to draw on: new ones (``plt.subplots(**subplots)``) or the ``n`` given ones."""
    if ax is None:
        fig, made = plt.subplots(squeeze=False, **subplots)
        return fig, list(made.flat)
    given = [ax] if isinstance(ax, Axes) else list(np.asarray(ax, dtype=object).flat)
    if len(given) != n or not all(isinstance(a, Axes) for a in given):
        raise PlotError(f"this figure draws on {n} axes; got {len(given)}: pass ax=None or {n} matplotlib Axes")
    return given[0].figure, given


def _finish(fig: Figure, own: bool) -> Figure:
    if own:
        fig.tight_layout()
    return fig


def _as_displayable(img: Image.Image | np.ndarray | torch.Tensor) -> np.ndarray | Image.Image:
    if isinstance(img, torch.Tensor):
        arr = img.detach().cpu().float()
        if arr.ndim == 3 and arr.shape[0] in (1, 3):
            arr = arr.permute(1, 2, 0)
        arr = arr.numpy()
        lo, hi = arr.min(), arr.max()
        return (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    return img


def figure_png(fig: Figure, dpi: int = 72) -> str:
    """The figure as base64 PNG text, as notebooks store images (the figure is closed afterwards)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def smooth(values: Sequence[float], window: int = 10) -> list[float]:
    """Running mean over the last ``window`` values (shorter at the start), for readable loss curves."""
    if not isinstance(window, int) or window < 1:
        raise PlotError(f"window={window!r}: must be a positive whole number")
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


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
