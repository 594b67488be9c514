"""Wrong tensors into the course's helpers: a course error that says what was expected, never a raw traceback.

Every helper that takes a batch is fed the classic mistakes: a single image without the batch
dimension, the wrong rank, channels-last, grey or RGBA channels, uint8 pixels, an empty batch
and images too small for an ImageNet network.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from course_utils.core.errors import CourseError, InputShapeError
from course_utils.core.validate import check_batch
from course_utils.data.images import load_image
from course_utils.inspect import (
    cosine_similarity_matrix,
    extract_embeddings,
    feature_maps,
    grad_cam,
    mass_inside,
    nearest_neighbours,
)
from course_utils.lessons.plain_vs_residual import gradient_norms
from course_utils.measure import compare_latency, measure_cost
from course_utils.models.predict import predict_proba, topk
from tests.reliability_summary import tally

#: (label, bad input, what the message must say)
BATCH_MISTAKES = [
    # a 3-D tensor is one raw image (pixels in [0, 1] or 0..255); preprocessed values need the batch dimension
    ("one preprocessed image, no batch dim", torch.randn(3, 224, 224), r"4 dimensions.*unsqueeze\(0\)"),
    ("rank 1", torch.rand(224), r"expected a batch of shape \[N, 3, H, W\]"),
    ("rank 5", torch.rand(1, 1, 3, 224, 224), r"expected a batch of shape \[N, 3, H, W\]"),
    ("channels last", torch.rand(2, 224, 224, 3), r"3 channels.*permute\(0, 3, 1, 2\)"),
    ("grey", torch.rand(2, 1, 224, 224), r"3 channels.*expand"),
    ("rgba", torch.rand(2, 4, 224, 224), r"3 channels.*alpha"),
    ("uint8 pixels", torch.randint(0, 255, (2, 3, 224, 224), dtype=torch.uint8), r"floating-point.*uint8"),
    ("integer pixels", torch.zeros(1, 3, 224, 224, dtype=torch.long), r"floating-point.*int64"),
    ("empty batch", torch.rand(0, 3, 224, 224), r"empty"),
    ("too small", torch.rand(1, 3, 16, 16), r"at least 32 pixels.*16×16"),
    ("a list, not a tensor", [[0.0]], r"expected a tensor"),
]


def _clean_error(fn, pattern: str, label: str) -> CourseError:
    with pytest.raises(CourseError) as info:
        fn()
    exc = info.value
    assert isinstance(exc, ValueError), f"{label}: {type(exc).__name__} should also be a ValueError"
    assert re.search(pattern, str(exc), re.S), f"{label}: {exc}"
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__), (
        f"{label}: chained traceback"
    )
    return exc


@pytest.mark.parametrize("label,bad,pattern", BATCH_MISTAKES, ids=[m[0] for m in BATCH_MISTAKES])
def test_image_batch_helpers_say_what_they_expected(lite0, label, bad, pattern):
    helpers = {
        "predict_proba": lambda: predict_proba(lite0, bad),
        "extract_embeddings": lambda: extract_embeddings(lite0, bad, progress=False),
        "grad_cam": lambda: grad_cam(lite0, bad, "_conv_head"),
    }
    if label == "a list, not a tensor":  # a list is read as images: the loader says what it expected
        helpers = {"predict_proba": lambda: predict_proba(lite0, bad)}
        pattern = r"expected an array of shape|cannot load"
    for name, call in helpers.items():
        _clean_error(call, pattern, f"{name}({label})")
    assert not lite0.model.training and all(p.grad is None for p in lite0.model.parameters())
    tally(inputs=len(helpers), faults=len(helpers))


def test_feature_maps_and_custom_models(lite0):
    checks = [
        (lambda: feature_maps(lite0, torch.rand(224), ["_conv_head"]), r"4 dimensions"),
        (lambda: feature_maps(lite0, torch.randn(3, 64, 64), ["_conv_head"]), r"looks preprocessed.*unsqueeze"),
        (lambda: feature_maps(lite0, torch.zeros(1, 3, 64, 64, dtype=torch.uint8), ["_conv_head"]), r"floating-point"),
        (lambda: feature_maps(lite0, torch.rand(1, 1, 64, 64), ["_conv_head"]), r"could not run.*channel"),
        (
            lambda: extract_embeddings(nn.Conv2d(3, 4, 3), torch.rand(2, 1, 8, 8), progress=False),
            r"could not run.*channel",
        ),
        (lambda: measure_cost(nn.Conv2d(3, 4, 3), torch.rand(1, 1, 8, 8)), r"could not run on input of shape.*channel"),
        (lambda: measure_cost(nn.Conv2d(3, 4, 5), torch.rand(1, 3, 2, 2)), r"H and W are large enough"),
        (lambda: measure_cost(nn.Conv2d(3, 4, 3), torch.zeros(1, 3, 8, 8, dtype=torch.uint8)), r"dtype"),
        (
            lambda: compare_latency({"c": nn.Conv2d(3, 4, 3)}, torch.rand(1, 1, 8, 8), min_run_time=0.01),
            r"could not run.*channel",
        ),
        (
            lambda: compare_latency({"c": nn.Conv2d(3, 4, 5)}, torch.rand(1, 3, 2, 2), min_run_time=0.01),
            r"large enough",
        ),
        (lambda: topk(torch.rand(2, 1000).softmax(1), lite0.categories), r"one probability vector of shape \[C\]"),
        (lambda: cosine_similarity_matrix(torch.rand(1280)), r"\[N, D\].*unsqueeze"),
        (lambda: nearest_neighbours(torch.rand(2, 8), torch.rand(3, 4)), r"same model"),
        (lambda: mass_inside(torch.rand(2, 7, 7), (0, 0, 3, 3)), r"one map \[H, W\]"),
        (lambda: load_image(torch.rand(2, 3, 8, 8)), r"expected an array of shape"),
        (
            lambda: gradient_norms(nn.Conv2d(3, 4, 3), torch.rand(3, 8, 8), torch.zeros(3, dtype=torch.long)),
            r"expected images x of shape \[N, C, H, W\]",
        ),
    ]
    for i, (call, pattern) in enumerate(checks):
        _clean_error(call, pattern, f"check {i}")
    tally(inputs=len(checks), faults=len(checks))


def test_good_batches_still_work(lite0):
    """The checks let every correct form through: a preprocessed batch, or one raw image as a [3, H, W] tensor."""
    raw = torch.rand(3, 64, 80)
    x = lite0.preprocess(load_image(raw))
    assert x.shape == (3, 224, 224)
    assert predict_proba(lite0, x[None]).shape == (1, 1000)
    assert extract_embeddings(lite0, x[None], progress=False).shape == (1, 1280)
    assert feature_maps(lite0, x[None], ["_conv_head"])["_conv_head"].shape == (1, 1280, 7, 7)
    torch.testing.assert_close(predict_proba(lite0, raw), predict_proba(lite0, x[None]))  # the same image
    assert feature_maps(lite0, raw, ["_conv_head"])["_conv_head"].shape == (1, 1280, 7, 7)
    assert check_batch(torch.rand(1, 3, 32, 32), "t").shape == (1, 3, 32, 32)
    assert check_batch(torch.rand(3, 5, 5), "t", channels=None, min_size=None, add_batch_dim=True).shape == (1, 3, 5, 5)
    with pytest.raises(InputShapeError, match="t: expected"):
        check_batch(torch.rand(1, 3, 31, 64), "t")
    tally(inputs=6)
