"""Every figure of the course: one style, one way to draw, one way to show.

Every figure function is named ``plot_*`` and returns a :class:`~matplotlib.figure.Figure`.

Each figure function returns a :class:`~matplotlib.figure.Figure` and accepts ``ax=None``: without it the
function makes its own figure, with it it draws into the given axes (a sequence of axes for figures with
several panels), so a figure can be part of a larger one. Notebooks show a figure by calling the function
as a cell's statement and ``plt.show()``. The style (:mod:`course_utils.core.style`) is installed by ``setup()``.
Helpers: :func:`plain_log_axis` (plain-number log ticks), :func:`place_labels` (labels that never overlap),
:func:`overlay` (a heat map over an image), :func:`smooth` (a running mean), :func:`figure_png`.
"""

from .base import figure_png, plain_log_axis, smooth
from .images import (
    overlay,
    plot_channel,
    plot_gradcam,
    plot_image_grid,
    plot_predictions,
    plot_similarity,
    plot_top_channels,
    plot_topk,
)
from .labels import place_labels
from .tradeoff import plot_tradeoff
from .training import (
    plot_confusion_matrix,
    plot_few_shot,
    plot_gradient_norms,
    plot_history,
    plot_losses,
    plot_misclassified,
    plot_seed_bands,
    plot_seed_runs,
)

__all__ = [
    "figure_png",
    "overlay",
    "place_labels",
    "plain_log_axis",
    "plot_channel",
    "plot_confusion_matrix",
    "plot_few_shot",
    "plot_gradcam",
    "plot_gradient_norms",
    "plot_history",
    "plot_image_grid",
    "plot_losses",
    "plot_misclassified",
    "plot_predictions",
    "plot_seed_bands",
    "plot_seed_runs",
    "plot_similarity",
    "plot_top_channels",
    "plot_topk",
    "plot_tradeoff",
    "smooth",
]
