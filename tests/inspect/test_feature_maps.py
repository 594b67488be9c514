"""course_utils.inspect.feature_maps: real recorded maps, channel ranking, grid, viewer and its static fallback."""

from __future__ import annotations

import base64

import matplotlib
import matplotlib.pyplot

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course_utils.core.errors import FeatureMapError  # noqa: E402
from course_utils.data.images import sample_image  # noqa: E402
from course_utils.inspect import (  # noqa: E402
    feature_maps,
    hook_count,  # noqa: E402
    top_channels,
)
from course_utils.lessons.widgets import feature_map_viewer  # noqa: E402
from course_utils.plots import plot_channel, plot_top_channels  # noqa: E402

STAGES = ["_blocks.2", "_blocks.4", "_blocks.10", "_blocks.15"]


@pytest.fixture(scope="module")
def maps(lite0):
    return feature_maps(lite0, [sample_image("chelsea"), sample_image("coffee")], STAGES)


def test_feature_maps_shapes_and_values(lite0, maps):
    assert [tuple(maps[s].shape) for s in STAGES] == [
        (2, 24, 56, 56),
        (2, 40, 28, 28),
        (2, 112, 14, 14),
        (2, 320, 7, 7),
    ]
    assert hook_count(lite0.model) == 0
    # the last stage feeds the head: conv_head → bn → ReLU6 → pool reproduces forward_features
    m = lite0.model
    with torch.inference_mode():
        pooled = m.act(m._bn1(m._conv_head(maps["_blocks.15"]))).mean(dim=(2, 3))
        x = torch.stack([lite0.preprocess(sample_image(n)) for n in ("chelsea", "coffee")])
        assert torch.allclose(pooled, m.forward_head(m.forward_features(x), pre_logits=True), atol=1e-4)


def test_top_channels_ranks_by_mean():
    fmap = torch.zeros(5, 3, 3)
    fmap[3] += 2.0
    fmap[1] += 1.0
    fmap[4, 0, 0] = 100.0  # one hot pixel: mean 11.1
    assert top_channels(fmap, 3) == [4, 3, 1]
    ranked = top_channels(fmap[None], 99)  # [1, C, h, w] works; k is capped at C
    assert len(ranked) == 5 and ranked[:3] == [4, 3, 1]
    with pytest.raises(FeatureMapError):
        top_channels(torch.zeros(2, 3, 4, 4))


def test_plots(maps):
    one = {s: m[0] for s, m in maps.items()}
    fig = plot_top_channels(one, k=4, image=sample_image("chelsea"))
    assert isinstance(fig, Figure) and len(fig.axes) == len(STAGES) * 5
    fig = plot_channel({"chelsea": one}, "chelsea", "_blocks.4", 3)
    assert isinstance(fig, Figure)
    with pytest.raises(FeatureMapError, match="_blocks.4 has channels 0..39"):
        plot_channel({"chelsea": one}, "chelsea", "_blocks.4", 40)
    with pytest.raises(FeatureMapError, match="no layer"):
        plot_channel({"chelsea": one}, "chelsea", "layer9", 0)
    with pytest.raises(FeatureMapError, match="no image"):
        plot_channel({"chelsea": one}, "dog", "_blocks.4", 0)
    matplotlib.pyplot.close("all")


def test_viewer_static_fallback_and_widget(maps, monkeypatch):
    by_image = {name: {s: maps[s][i] for s in STAGES} for i, name in enumerate(["chelsea", "coffee"])}
    assert isinstance(feature_map_viewer(by_image), Figure)  # no live kernel here: static figure
    monkeypatch.setenv("COURSE_STATIC", "1")
    assert isinstance(feature_map_viewer(by_image), Figure)
    import ipywidgets as widgets

    box = feature_map_viewer(by_image, static=False)
    assert isinstance(box, widgets.VBox)
    (image, layer), (channel, strongest) = box.children[0].children, box.children[1].children
    assert channel.max == 23  # _blocks.2 has 24 channels
    layer.value = "_blocks.15"
    assert channel.max == 319
    strongest.click()
    assert channel.value == top_channels(by_image["chelsea"]["_blocks.15"], 1)[0]
    image.value = "coffee"
    assert channel.max == 319
    bundle = box._repr_mimebundle_()  # live frontends draw the widget, GitHub/nbviewer the PNG
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    with pytest.raises(FeatureMapError):
        feature_map_viewer({})
    matplotlib.pyplot.close("all")
