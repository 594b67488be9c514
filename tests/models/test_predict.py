"""Batched prediction: same answers as one by one, top-k ordering, folders and lists."""

from __future__ import annotations

import shutil

import pytest
import torch

from course_utils.data.images import SAMPLE_IMAGES, sample_image, sample_images, sample_path, to_batch
from course_utils.models.predict import Prediction, predict, predict_proba, topk


def test_topk_orders_and_clamps():
    probs = torch.tensor([0.1, 0.6, 0.3])
    out = topk(probs, ["a", "b", "c"], 2)
    assert out == [Prediction("b", pytest.approx(0.6), 1), Prediction("c", pytest.approx(0.3), 2)]
    assert len(topk(probs, ["a", "b", "c"], 10)) == 3
    with pytest.raises(ValueError, match="shape"):
        topk(torch.zeros(2, 3), ["a", "b", "c"])


def test_batched_equals_one_by_one(lite0):
    photos = list(sample_images().values())
    batched = predict_proba(lite0, photos, batch_size=2)
    assert batched.shape == (len(photos), 1000)
    torch.testing.assert_close(batched.sum(1), torch.ones(len(photos)), atol=1e-4, rtol=0)
    for i, img in enumerate(photos):
        torch.testing.assert_close(predict_proba(lite0, [img])[0], batched[i], atol=1e-4, rtol=1e-3)


def test_predict_gives_one_entry_per_image_whatever_the_input(lite0, tmp_path):
    """One return type: a list with one ranked list per image, for one image, a path, a folder, a list or a batch."""
    (single,) = predict(lite0, sample_image("coffee"), k=3)
    assert len(single) == 3 and single[0].label == "espresso"
    assert single[0].prob >= single[1].prob >= single[2].prob
    (by_path,) = predict(lite0, sample_path("coffee"), k=3)
    assert [p.label for p in by_path] == [p.label for p in single]
    for name in ("chelsea", "coffee"):
        shutil.copy(sample_path(name), tmp_path / SAMPLE_IMAGES[name])
    folder = predict(lite0, tmp_path, k=1)
    assert [r[0].label for r in folder][1] == "espresso" and len(folder) == 2
    listed = predict(lite0, [sample_image("chelsea"), sample_image("coffee")], k=1)
    assert [r[0].label for r in listed] == [r[0].label for r in folder]
    batch = to_batch([sample_image("chelsea"), sample_image("coffee")], lite0.preprocess)
    batched = predict(lite0, batch, k=1)  # a 4-D tensor is a preprocessed batch, as for predict_proba
    assert [r[0].label for r in batched] == [r[0].label for r in folder]
    for result in (single, by_path, folder, listed, batched):
        assert isinstance(result, list)
    assert all(isinstance(r, list) and isinstance(r[0], Prediction) for r in (*folder, *listed, *batched))


def test_one_meaning_for_a_tensor(lite0):
    """A 4-D tensor is a preprocessed batch; a 2-D or 3-D tensor is one raw image, as load_image reads it."""
    import numpy as np

    from course_utils.data.images import load_image

    pixels = torch.from_numpy(np.array(sample_image("coffee"))).permute(2, 0, 1)  # uint8 [3, H, W]
    as_image = predict_proba(lite0, sample_image("coffee"))
    torch.testing.assert_close(predict_proba(lite0, pixels), as_image)
    torch.testing.assert_close(predict_proba(lite0, pixels.float() / 255), as_image, atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(predict_proba(lite0, lite0.preprocess(load_image(pixels))[None]), as_image)
    assert to_batch(pixels, lite0.preprocess).shape == (1, 3, 224, 224)
    preprocessed = lite0.preprocess(sample_image("coffee"))  # [3, 224, 224], normalised: not raw pixels
    with pytest.raises(ValueError, match=r"looks preprocessed.*4 dimensions.*unsqueeze\(0\)"):
        predict(lite0, preprocessed)
    with pytest.raises(ValueError, match="a 4-D tensor"):
        load_image(preprocessed[None])


def test_preprocessed_batch_and_bad_shapes(lite0):
    batch = to_batch([sample_image("rocket"), sample_image("astronaut")], lite0.preprocess)
    assert batch.shape == (2, 3, 224, 224)
    assert predict_proba(lite0, batch).shape == (2, 1000)
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        predict_proba(lite0, batch[:, :1])
    assert not lite0.model.training
