"""course_utils.models.efficientnet_lite: the real ImageNet EfficientNet-Lite0, its architecture, padding, preprocessing and verified weights."""

from __future__ import annotations

import pytest
import torch

from course_utils.core.errors import WeightsUnavailableError
from course_utils.core.files import sha256_file
from course_utils.data.images import EXPECTED_CLASSES, sample_image
from course_utils.models import IMAGENET_CATEGORIES, predict
from course_utils.models import efficientnet_lite as lite


def test_lite0_real_predictions(lite0):
    assert lite0.pretrained and lite0.notice is None
    (cat,) = predict(lite0, sample_image("chelsea"), k=3)  # one list of predictions per image
    assert cat[0].label in EXPECTED_CLASSES["chelsea"] and cat[0].prob > 0.3
    (coffee,) = predict(lite0, sample_image("coffee"), k=1)
    assert coffee[0].label == "espresso" and coffee[0].prob > 0.8
    assert lite0.categories is IMAGENET_CATEGORIES


def test_lite0_architecture_matches_published_figures():
    model = lite.EfficientNetLite0()
    params = sum(p.numel() for p in model.parameters())
    assert abs(params - lite.META["params"]) / lite.META["params"] < 0.02, params
    assert len(model._blocks) == 16 and model._blocks[3]._depthwise_conv.kernel_size == (5, 5)
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in model.modules())  # Lite: no squeeze-excitation
    out = model.eval()(torch.randn(2, 3, 224, 224))
    assert out.shape == (2, 1000)
    fmap = model.forward_features(torch.randn(1, 3, 224, 224))
    assert fmap.shape == (1, 1280, 7, 7) and model.forward_head(fmap, pre_logits=True).shape == (1, 1280)


def test_same_padding_matches_tensorflow_rule():
    conv = lite.SameConv2d(1, 1, 5, 2, bias=False)
    assert conv.pad.padding == (1, 2, 1, 2)
    assert conv(torch.zeros(1, 1, 224, 224)).shape[-2:] == (112, 112)
    assert lite.SameConv2d(1, 1, 3, 1).pad.padding == (1, 1, 1, 1)


def test_lite0_preprocessing_scales_to_minus_one_one():
    x = lite.transforms()(sample_image("chelsea"))
    assert x.shape == (3, 224, 224) and -1.01 <= x.min() and x.max() <= 1.01


def test_lite0_weights_are_verified(tmp_path, monkeypatch):
    assert sha256_file(lite.weights_path()) == lite.WEIGHTS_SHA256
    assert set(lite.load_state_dict()) == set(lite.EfficientNetLite0().state_dict())
    fake = tmp_path / "efficientnet-lite0-57934424.pth"
    torch.save({"w": torch.zeros(1)}, fake)
    monkeypatch.setattr(lite, "weights_path", lambda: fake)
    with pytest.raises(WeightsUnavailableError, match="SHA-256"):
        lite.load_state_dict()
