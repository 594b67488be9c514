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


def test_predict_shapes_for_single_list_folder(lite0, tmp_path):
    single = predict(lite0, sample_image("coffee"), top=3)
    assert len(single) == 3 and single[0].label == "espresso"
    assert single[0].prob >= single[1].prob >= single[2].prob
    by_path = predict(lite0, sample_path("coffee"), top=3)
    assert [p.label for p in by_path] == [p.label for p in single]
    for name in ("chelsea", "coffee"):
        shutil.copy(sample_path(name), tmp_path / SAMPLE_IMAGES[name])
    folder = predict(lite0, tmp_path, top=1)
    assert [r[0].label for r in folder][1] == "espresso" and len(folder) == 2
    listed = predict(lite0, [sample_image("chelsea"), sample_image("coffee")], top=1)
    assert [r[0].label for r in listed] == [r[0].label for r in folder]


def test_preprocessed_batch_and_bad_shapes(lite0):
    batch = to_batch([sample_image("rocket"), sample_image("astronaut")], lite0.preprocess)
    assert batch.shape == (2, 3, 224, 224)
    assert predict_proba(lite0, batch).shape == (2, 1000)
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        predict_proba(lite0, batch[:, :1])
    assert not lite0.model.training
