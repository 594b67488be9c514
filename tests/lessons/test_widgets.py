"""The upload widget: real files in, predictions or a clear message out (no browser needed here)."""

from __future__ import annotations

import datetime as dt

from course_utils.data.images import sample_path
from course_utils.lessons.widgets import classify_upload, upload_classifier


def _value(name: str, content: bytes) -> tuple[dict, ...]:
    return (
        {
            "name": name,
            "type": "image/jpeg",
            "size": len(content),
            "content": memoryview(content),
            "last_modified": dt.datetime.now(dt.UTC),
        },
    )


def test_upload_classifies_a_real_photo(lite0):
    box = upload_classifier(lite0, k=3)
    upload, status, output = box.children
    upload.value = _value("coffee.jpg", sample_path("coffee").read_bytes())
    assert "espresso" in status.value and "coffee.jpg" in status.value
    assert output.outputs, "the bars figure was not drawn"


def test_bad_upload_gives_message_inside_widget(lite0):
    box = upload_classifier(lite0)
    upload, status, output = box.children
    upload.value = _value("notes.jpg", b"<html>404</html>")
    assert "Could not classify" in status.value and "notes.jpg" in status.value
    assert "Traceback" not in status.value and not output.outputs
    data = sample_path("chelsea").read_bytes()
    upload.value = _value("half.jpg", data[: len(data) // 3])
    assert "half.jpg" in status.value and "truncated" in status.value


def test_classify_upload_names_the_file(lite0):
    image, preds = classify_upload(lite0, "cat.jpg", sample_path("chelsea").read_bytes(), k=2)
    assert image.mode == "RGB" and len(preds) == 2
    try:
        classify_upload(lite0, "empty.png", b"")
    except Exception as exc:  # the course error names the upload, not "<0 bytes>"
        assert "empty.png" in str(exc)
    else:
        raise AssertionError("empty upload accepted")
