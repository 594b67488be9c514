"""Interactive widgets with a message (never a traceback) when something goes wrong."""

from __future__ import annotations

import base64
import io

import matplotlib.pyplot as plt

from .errors import CourseError
from .models import Classifier
from .plotting import show_predictions
from .predict import predict

#: Largest upload accepted by :func:`upload_classifier` (bytes).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _uploaded_files(value) -> list[tuple[str, bytes]]:
    """``(name, content)`` pairs from a FileUpload value (ipywidgets 8 tuple, or 7's dict)."""
    items = value.values() if isinstance(value, dict) else value
    out = []
    for item in items:
        name = item.get("name") or item.get("metadata", {}).get("name", "upload")
        out.append((name, bytes(item["content"])))
    return out


def _figure_output(fig) -> dict:
    """A figure as a Jupyter ``display_data`` output (PNG), usable with or without a kernel."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"output_type": "display_data", "data": {"image/png": png, "text/plain": "<top-k figure>"}, "metadata": {}}


def classify_upload(clf: Classifier, name: str, content: bytes, top: int = 5):
    """Predictions for one uploaded file; raises a :class:`CourseError` naming the file when unusable."""
    from .errors import ImageLoadError
    from .images import load_image

    if len(content) > MAX_UPLOAD_BYTES:
        raise ImageLoadError(
            f"{name}: {len(content) / 2**20:.1f} MB is too large (limit {MAX_UPLOAD_BYTES // 2**20} MB)"
        )
    try:
        image = load_image(content)
    except ImageLoadError as exc:
        raise ImageLoadError(str(exc).replace(f"<{len(content)} bytes>", name)) from None
    return image, predict(clf, image, top=top)


def upload_classifier(clf: Classifier, top: int = 5):
    """A FileUpload that classifies each uploaded image and draws its top-``top`` bars.

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
            image, preds = classify_upload(clf, name, content, top)
        except CourseError as exc:
            status.value = f"<span style='color:#a00'>Could not classify: {exc}</span>"
            return
        status.value = f"{name}: <b>{preds[0].label}</b> ({preds[0].prob:.1%})"
        fig = show_predictions(image, preds, title=name)
        output.outputs = (_figure_output(fig),)
        plt.close(fig)

    upload.observe(on_upload, names="value")
    box = widgets.VBox([upload, status, output])
    box.on_upload = on_upload  # exposed so that tests and scripts can feed files without a browser
    return box
