"""The course's figure style in one place: :func:`apply_style` (called by ``setup()``) installs it."""

from __future__ import annotations

__all__ = ["STYLE", "apply_style"]

#: The course's figure style (matplotlib rcParams): titles ≥ 11 pt, ticks ≥ 9 pt, plain tick numbers.
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
