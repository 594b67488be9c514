"""Plot helpers draw what they claim."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from course_utils.core.errors import CourseError  # noqa: E402
from course_utils.core.style import MIN_TICK_PT, MIN_TITLE_PT, apply_style  # noqa: E402
from course_utils.data.images import sample_image  # noqa: E402
from course_utils.plots import plain_log_axis, plot_image_grid, plot_predictions, plot_topk  # noqa: E402
from course_utils.plots.labels import _renderer  # noqa: E402


def test_show_predictions_draws_image_and_bars():
    preds = [("tabby", 0.5), ("tiger cat", 0.3), ("lynx", 0.1)]
    fig = plot_predictions(sample_image("chelsea"), preds, title="cat")
    left, right = fig.axes
    assert left.images and left.get_title() == "cat"
    assert [t.get_text() for t in right.get_yticklabels()] == ["lynx", "tiger cat", "tabby"]
    assert [round(b.get_width(), 2) for b in right.patches] == [0.1, 0.3, 0.5]
    plt.close(fig)


def test_topk_bars_on_given_axes():
    fig, ax = plt.subplots()
    assert plot_topk([("a", 0.9)], title="t", ax=ax) is fig and ax.get_title() == "t" and ax.get_xlim() == (0, 1)
    with pytest.raises(CourseError, match="1 axes"):
        plot_topk([("a", 0.9)], ax=[ax, ax])
    plt.close(fig)


def test_image_grid_layout_and_tensors():
    imgs = [sample_image("coffee"), torch.rand(3, 8, 8), torch.rand(8, 8)]
    fig = plot_image_grid(imgs, titles=["a", "b", "c"], ncols=2)
    assert len(fig.axes) == 4 and sum(bool(ax.images) for ax in fig.axes) == 3
    assert fig.axes[1].get_title() == "b"
    plt.close(fig)
    with pytest.raises(ValueError):
        plot_image_grid([])


def test_topk_bar_values_stay_inside_the_frame():
    fig, ax = plt.subplots(figsize=(4, 2.5))
    plot_topk([("espresso", 0.954), ("cup", 0.03)], ax=ax)
    renderer = _renderer(fig)
    frame = ax.get_window_extent(renderer)
    for text in ax.texts:
        box = text.get_window_extent(renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, f"{text.get_text()} runs past the frame"
    plt.close(fig)


#: Latencies (ms, 1 thread) and published acc@1 of notebooks 06 and 08: several labels crowd each other.
CROWDED = {
    "resnet18": (28.0, 69.758),
    "resnet50": (78.0, 80.858),
    "resnext50_32x4d": (86.0, 81.198),
    "wide_resnet50_2": (190.0, 81.602),
    "efficientnet_b0": (34.0, 77.692),
    "convnext_tiny": (82.0, 82.52),
    "mobilenet_v3_large": (11.5, 75.274),
    "efficientnet_lite0": (12.5, 75.1),
    "mobilenet_v2": (13.0, 72.154),
    "mobilenet_v3_small": (4.2, 67.668),
}


@pytest.mark.parametrize(
    "names",
    [
        list(CROWDED),
        [
            "resnet18",
            "resnet50",
            "resnext50_32x4d",
            "wide_resnet50_2",
            "efficientnet_b0",
            "convnext_tiny",
            "mobilenet_v3_large",
        ],
    ],
    ids=["06", "08"],
)
def test_tradeoff_labels_do_not_overlap_and_stay_inside(names):
    from course_utils.plots import plot_tradeoff

    apply_style()
    fig = plot_tradeoff({n: CROWDED[n] for n in names}, title="acc@1 vs latency")
    ax = fig.axes[0]
    renderer = _renderer(fig)
    labels = [t for t in ax.texts if t.get_text() in names]
    assert sorted(t.get_text() for t in labels) == sorted(names)
    boxes = [Text.get_window_extent(t, renderer) for t in labels]  # the text itself, without its leader line
    frame, figure = ax.get_window_extent(renderer), fig.bbox
    for text, box in zip(labels, boxes):
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, (
            f"{text.get_text()} leaves the axes"
        )
        assert figure.contains(box.x0, box.y0) and figure.contains(box.x1, box.y1)
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), f"{labels[i].get_text()} overlaps {labels[j].get_text()}"
    legend = ax.get_legend().get_window_extent(renderer)
    assert not any(box.overlaps(legend) for box in boxes)
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all("10^" not in t and "times" not in t and "$" not in t for t in ticks), ticks  # plain ms
    plt.close(fig)


def test_course_style_is_readable():
    import matplotlib

    apply_style()
    fig, ax = plt.subplots()
    ax.set_title("t")
    assert ax.title.get_fontsize() >= MIN_TITLE_PT and MIN_TITLE_PT >= 11
    assert ax.xaxis.get_ticklabels()[0].get_fontsize() >= MIN_TICK_PT >= 9
    assert matplotlib.rcParams["figure.dpi"] >= 100
    plt.close(fig)


def test_plain_log_axis_ticks_are_plain_numbers():
    fig, ax = plt.subplots()
    ax.set_xscale("log")
    ax.set_xlim(3, 250)
    plain_log_axis(ax.xaxis)
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["5", "10", "20", "50", "100", "200"]
    plt.close(fig)
