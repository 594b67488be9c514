"""Plot helpers draw what they claim."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils.images import sample_image  # noqa: E402
from course_utils.plotting import image_grid, show_predictions, topk_bars  # noqa: E402


def test_show_predictions_draws_image_and_bars():
    preds = [("tabby", 0.5), ("tiger cat", 0.3), ("lynx", 0.1)]
    fig = show_predictions(sample_image("chelsea"), preds, title="cat")
    left, right = fig.axes
    assert left.images and left.get_title() == "cat"
    assert [t.get_text() for t in right.get_yticklabels()] == ["lynx", "tiger cat", "tabby"]
    assert [round(b.get_width(), 2) for b in right.patches] == [0.1, 0.3, 0.5]
    plt.close(fig)


def test_topk_bars_on_given_axes():
    fig, ax = plt.subplots()
    assert topk_bars(ax, [("a", 0.9)], title="t") is ax and ax.get_title() == "t" and ax.get_xlim() == (0, 1)
    plt.close(fig)


def test_image_grid_layout_and_tensors():
    imgs = [sample_image("coffee"), torch.rand(3, 8, 8), torch.rand(8, 8)]
    fig = image_grid(imgs, titles=["a", "b", "c"], ncols=2)
    assert len(fig.axes) == 4 and sum(bool(ax.images) for ax in fig.axes) == 3
    assert fig.axes[1].get_title() == "b"
    plt.close(fig)
    with pytest.raises(ValueError):
        image_grid([])
