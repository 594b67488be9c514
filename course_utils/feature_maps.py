"""Feature maps: record a network's intermediate activations and look at them.

:func:`feature_maps` records layer outputs with hooks; :func:`plot_top_channels` draws the most
activated channels of each layer as a grid; :func:`feature_map_viewer` is an ipywidgets viewer
(image / layer / channel) that falls back to a static figure wherever widgets cannot run
(plain Python, nbconvert/GitHub renderings, ``COURSE_STATIC=1``).
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from .checks import check_batch
from .errors import CourseError
from .hooks import capture
from .images import ImageInput, load_image
from .models import Classifier
from .notebook import in_notebook

Maps = Mapping[str, torch.Tensor]


class FeatureMapError(CourseError, ValueError):
    """Feature maps of the wrong shape, or an unknown layer / image / channel."""


@torch.inference_mode()
def feature_maps(
    model: nn.Module | Classifier,
    images: ImageInput | Sequence[ImageInput] | torch.Tensor,
    layers: Sequence[str],
    preprocess: Callable | None = None,
) -> dict[str, torch.Tensor]:
    """Outputs ``{layer: [N, C, h, w]}`` (on the CPU) of ``layers`` for a batch or for images.

    Images are preprocessed with the Classifier's (or the given) ``preprocess``; one forward
    pass records every layer through :func:`course_utils.hooks.capture`.
    """
    module = model.model if isinstance(model, Classifier) else model
    if isinstance(images, torch.Tensor):
        batch = check_batch(
            images, "feature_maps", channels=None, min_size=None, add_batch_dim=True, error=FeatureMapError
        )
    else:
        preprocess = preprocess or (model.preprocess if isinstance(model, Classifier) else None)
        if preprocess is None:
            raise FeatureMapError(
                "images need preprocessing: pass preprocess= (e.g. weights.transforms()) or a Classifier"
            )
        items = list(images) if isinstance(images, (list, tuple)) else [images]
        batch = torch.stack([preprocess(load_image(img)) for img in items])
    device = next(module.parameters()).device
    with capture(module.eval(), list(layers)) as out:
        try:
            module(batch.to(device))
        except RuntimeError as exc:
            raise FeatureMapError(
                f"feature_maps: {type(module).__name__} could not run on a batch of shape "
                f"{tuple(batch.shape)} ({exc}); check the channel count, dtype and image size"
            ) from None
    return {name: out[name].float().cpu() for name in layers}


def _one(fmap: torch.Tensor, name: str) -> torch.Tensor:
    if fmap.ndim == 4 and fmap.shape[0] == 1:
        fmap = fmap[0]
    if fmap.ndim != 3:
        raise FeatureMapError(f"{name}: expected one image's maps [C, h, w] (or [1, C, h, w]), got {tuple(fmap.shape)}")
    return fmap.detach().float().cpu()


def top_channels(fmap: torch.Tensor, k: int = 8) -> list[int]:
    """Indices of the ``k`` channels of ``fmap [C, h, w]`` with the largest mean activation, strongest first."""
    fmap = _one(fmap, "fmap")
    k = max(1, min(int(k), fmap.shape[0]))
    return fmap.mean(dim=(1, 2)).topk(k).indices.tolist()


def plot_top_channels(
    maps: Maps, k: int = 8, image: np.ndarray | Image.Image | None = None, title: str | None = None, size: float = 1.15
):
    """A grid: one row per layer, its ``k`` most activated channels (each scaled to its own range).

    ``maps`` is ``{layer: [C, h, w]}`` for one image (``[1, C, h, w]`` works too); ``image`` is
    drawn at the left of the first row. Each row is headed by its layer and shape; text uses the
    course style's sizes, and the figure is at most 9 inches wide so that they stay readable on screen.
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    if not maps:
        raise FeatureMapError("plot_top_channels needs at least one layer's maps")
    extra = 1 if image is not None else 0
    cols = k + extra
    width = min(9.0, size * cols)
    fig = plt.figure(figsize=(width, (width / cols + 0.55) * len(maps) + (0.4 if title else 0)), layout="constrained")
    rows = np.atleast_1d(fig.subfigures(len(maps), 1))
    for row, (name, fmap) in zip(rows, maps.items()):
        fmap = _one(fmap, name)
        axes = np.atleast_1d(row.subplots(1, cols))
        for ax in axes:
            ax.axis("off")
        if extra and row is rows[0]:
            axes[0].imshow(image)
            axes[0].set_title("input")
        row.suptitle(
            f"{name}: {fmap.shape[0]} channels of {fmap.shape[1]}×{fmap.shape[2]}",
            x=0.01,
            ha="left",
            fontsize=plt.rcParams["axes.labelsize"],
        )
        for col, c in enumerate(top_channels(fmap, k)):
            axes[col + extra].imshow(fmap[c].numpy(), cmap="viridis")
            axes[col + extra].set_title(f"#{c}")
    if title:
        fig.suptitle(title)
    return fig


def plot_channel(
    maps_by_image: Mapping[str, Maps],
    image_name: str,
    layer: str,
    channel: int,
    images: Mapping[str, np.ndarray | Image.Image] | None = None,
):
    """One channel of one layer for one image, beside the image; returns the figure."""
    import matplotlib.pyplot as plt

    if image_name not in maps_by_image:
        raise FeatureMapError(f"no image {image_name!r}; choose one of {', '.join(maps_by_image)}")
    maps = maps_by_image[image_name]
    if layer not in maps:
        raise FeatureMapError(f"no layer {layer!r}; choose one of {', '.join(maps)}")
    fmap = _one(maps[layer], layer)
    if not 0 <= channel < fmap.shape[0]:
        raise FeatureMapError(f"{layer} has channels 0..{fmap.shape[0] - 1}, not {channel}")
    show_image = images is not None and image_name in images
    fig, axes = plt.subplots(1, 2 if show_image else 1, figsize=(6.4 if show_image else 3.2, 3.2), squeeze=False)
    if show_image:
        axes[0, 0].imshow(images[image_name])
        axes[0, 0].set_title(image_name)
    ax = axes[0, -1]
    im = ax.imshow(fmap[channel].numpy(), cmap="viridis")
    ax.set_title(f"{layer} · channel {channel} · mean {float(fmap[channel].mean()):.2f}")
    fig.colorbar(im, ax=ax, fraction=0.046)
    for a in axes.flat:
        a.axis("off")
    fig.tight_layout()
    return fig


def widgets_available() -> bool:
    """True in a live Jupyter kernel with ipywidgets installed, unless ``COURSE_STATIC=1``."""
    if os.environ.get("COURSE_STATIC", "").strip().lower() in {"1", "true", "yes", "on"} or not in_notebook():
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def feature_map_viewer(
    maps_by_image: Mapping[str, Maps],
    images: Mapping[str, np.ndarray | Image.Image] | None = None,
    static: bool | None = None,
):
    """Browse feature maps: dropdowns for image and layer, a slider for the channel.

    ``maps_by_image`` is ``{image name: {layer: [C, h, w]}}``. Returns an ipywidgets box in a live
    notebook; its output also carries a static PNG that renderers without widgets (GitHub,
    nbviewer) show. With ``static=True`` (the default where widgets cannot run: plain Python,
    ``COURSE_STATIC=1``) it returns that static figure instead: the strongest channels of every
    layer for the first image.
    """
    if not maps_by_image:
        raise FeatureMapError("feature_map_viewer needs maps of at least one image")
    first = next(iter(maps_by_image))
    layers = list(maps_by_image[first])
    if static is None:
        static = not widgets_available()
    if static:
        import matplotlib.pyplot as plt

        fig = _static_view(maps_by_image, images)
        plt.close(fig)  # shown once, as the cell's result, not again by the inline backend
        return fig

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    pick_image = widgets.Dropdown(options=list(maps_by_image), value=first, description="image")
    pick_layer = widgets.Dropdown(options=layers, value=layers[0], description="layer")
    channel = widgets.IntSlider(value=0, min=0, max=1, description="channel", continuous_update=False)
    strongest = widgets.Button(description="strongest channel", tooltip="jump to the most activated channel")
    out = widgets.Output()

    def n_channels() -> int:
        return _one(maps_by_image[pick_image.value][pick_layer.value], pick_layer.value).shape[0]

    def draw(*_: object) -> None:
        channel.max = n_channels() - 1
        with out:
            out.clear_output(wait=True)
            fig = plot_channel(maps_by_image, pick_image.value, pick_layer.value, channel.value, images)
            display(fig)
            plt.close(fig)

    def jump(*_: object) -> None:
        channel.value = top_channels(maps_by_image[pick_image.value][pick_layer.value], 1)[0]

    for w in (pick_image, pick_layer, channel):
        w.observe(draw, names="value")
    strongest.on_click(jump)
    draw()

    class ViewerBox(widgets.VBox):
        """The viewer; its output also carries a static PNG for renderers without widgets (GitHub, nbviewer)."""

        def _repr_mimebundle_(self, **kwargs: object) -> dict:
            data = super()._repr_mimebundle_(**kwargs) or {}
            data["image/png"] = _png(_static_view(maps_by_image, images))
            return data

    return ViewerBox([widgets.HBox([pick_image, pick_layer]), widgets.HBox([channel, strongest]), out])


def _static_view(maps_by_image: Mapping[str, Maps], images: Mapping[str, np.ndarray | Image.Image] | None):
    first = next(iter(maps_by_image))
    img = images.get(first) if images is not None else None
    return plot_top_channels(
        maps_by_image[first],
        k=6,
        image=img,
        title=f"{first}: strongest channels per layer (static view; run the notebook live for the interactive viewer)",
    )


def _png(fig) -> str:
    """The figure as base64 PNG text (closed afterwards), as notebooks store images."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


__all__ = [
    "FeatureMapError",
    "feature_map_viewer",
    "feature_maps",
    "plot_channel",
    "plot_top_channels",
    "top_channels",
    "widgets_available",
]
