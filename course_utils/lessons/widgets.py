"""Interactive widgets: an upload classifier and a feature-map viewer, with a message (never a traceback)
when something goes wrong, and a static figure wherever widgets cannot run (plain Python, nbconvert/GitHub
renderings, ``COURSE_STATIC=1``)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from ..core.errors import CourseError, FeatureMapError, ImageLoadError
from ..core.notebook import in_notebook
from ..core.settings import env_flag
from ..data.images import load_image
from ..inspect.feature_maps import Maps, one_image_maps, top_channels
from ..models import Classifier, predict
from ..plots import figure_png, plot_channel, plot_predictions, plot_top_channels

__all__ = ["MAX_UPLOAD_BYTES", "classify_upload", "feature_map_viewer", "upload_classifier", "widgets_available"]

#: Largest upload accepted by :func:`upload_classifier` (bytes).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _uploaded_files(value) -> list[tuple[str, bytes]]:
    """``(name, content)`` pairs from a FileUpload value (ipywidgets 8: a tuple of dicts)."""
    return [(item.get("name") or "upload", bytes(item["content"])) for item in value]


def classify_upload(clf: Classifier, name: str, content: bytes, k: int = 5):
    """Predictions for one uploaded file; raises a :class:`CourseError` naming the file when unusable."""
    if len(content) > MAX_UPLOAD_BYTES:
        raise ImageLoadError(
            f"{name}: {len(content) / 2**20:.1f} MB is too large (limit {MAX_UPLOAD_BYTES // 2**20} MB)"
        )
    try:
        image = load_image(content)
    except ImageLoadError as exc:
        raise ImageLoadError(str(exc).replace(f"<{len(content)} bytes>", name)) from None
    return image, predict(clf, image, k=k)[0]


def upload_classifier(clf: Classifier, k: int = 5):
    """A FileUpload that classifies each uploaded image and draws its top-``k`` bars.

    Bad uploads (not an image, truncated, too large) give a one-line message inside the
    widget. Returns the ``VBox``; its ``.children`` are ``(upload, status, output)``.
    """
    import ipywidgets as widgets

    upload = widgets.FileUpload(accept="image/*", multiple=False, description="Upload image")
    status = widgets.HTML(
        value="Choose a photo to classify."
        + ("" if clf.pretrained else " <b>Warning:</b> this model has RANDOM weights here; its labels mean nothing.")
    )
    output = widgets.Output()

    def on_upload(change) -> None:
        files = _uploaded_files(change["new"])
        if not files:
            return
        name, content = files[-1]
        output.clear_output()
        try:
            image, preds = classify_upload(clf, name, content, k)
        except CourseError as exc:
            status.value = f"<span style='color:#a00'>Could not classify: {exc}</span>"
            return
        status.value = f"{name}: <b>{preds[0].label}</b> ({preds[0].prob:.1%})"
        png = figure_png(plot_predictions(image, preds, title=name), dpi=80)
        output.outputs = (
            {"output_type": "display_data", "data": {"image/png": png, "text/plain": "<top-k figure>"}, "metadata": {}},
        )

    upload.observe(on_upload, names="value")
    box = widgets.VBox([upload, status, output])
    box.on_upload = on_upload  # exposed so that tests and scripts can feed files without a browser
    return box


def widgets_available() -> bool:
    """True in a live Jupyter kernel with ipywidgets installed, unless ``COURSE_STATIC=1``."""
    if env_flag("COURSE_STATIC") or not in_notebook():
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
        fig = _static_view(maps_by_image, images)
        plt.close(fig)  # shown once, as the cell's result, not again by the inline backend
        return fig

    import ipywidgets as widgets
    from IPython.display import display

    pick_image = widgets.Dropdown(options=list(maps_by_image), value=first, description="image")
    pick_layer = widgets.Dropdown(options=layers, value=layers[0], description="layer")
    channel = widgets.IntSlider(value=0, min=0, max=1, description="channel", continuous_update=False)
    strongest = widgets.Button(description="strongest channel", tooltip="jump to the most activated channel")
    out = widgets.Output()

    def n_channels() -> int:
        return one_image_maps(maps_by_image[pick_image.value][pick_layer.value], pick_layer.value).shape[0]

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
            data["image/png"] = figure_png(_static_view(maps_by_image, images))
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
