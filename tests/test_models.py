"""Model loading by name and the real EfficientNet-Lite0."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from course_utils.core.errors import ModelRegistryError, UnknownModelError, WeightsUnavailableError
from course_utils.core.files import sha256_file
from course_utils.data.images import EXPECTED_CLASSES, sample_image
from course_utils.models import COURSE_MODELS, IMAGENET_CATEGORIES, get_weights, list_models, load_classifier, predict
from course_utils.models import efficientnet_lite as lite
from course_utils.models.registry import _REGISTRY, ModelEntry, get_entry, register_model


def test_names_and_weights_resolution():
    names = list_models()
    assert set(COURSE_MODELS) <= set(names) and "convnext_tiny" in names
    assert str(get_weights("resnet50")) == "ResNet50_Weights.IMAGENET1K_V2"
    assert str(get_weights("resnet50", "IMAGENET1K_V1")) == "ResNet50_Weights.IMAGENET1K_V1"
    assert get_weights("resnet50", None) is None
    with pytest.raises(UnknownModelError, match="resnet50"):
        get_weights("resnet5")
    with pytest.raises(UnknownModelError, match="IMAGENET1K_V1"):
        get_weights("resnet50", "IMAGENET9K")
    with pytest.raises(UnknownModelError, match="did you mean"):
        load_classifier("mobilenet_v4")
    assert str(UnknownModelError("x y")) == "x y"


@pytest.mark.parametrize("name", [n for n in COURSE_MODELS if n != "efficientnet_lite0"])
def test_course_models_offline_follow_the_policy(name, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    clf = load_classifier(name, device="cpu", quiet=True)
    assert len(clf.categories) == 1000 and not clf.model.training
    assert clf.pretrained == (clf.notice is None)
    with torch.inference_mode():
        out = clf.model(clf.preprocess(sample_image("rocket"))[None])
    assert out.shape == (1, 1000)


def test_weights_none_is_random_and_says_so():
    clf = load_classifier("resnet18", weights=None, device="cpu")
    assert not clf.pretrained and "weights=None" in clf.notice and "RANDOM" in repr(clf)
    lite_random = load_classifier("efficientnet_lite0", weights=None, device="cpu")
    assert not lite_random.pretrained and "weights=None" in lite_random.notice


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


def test_any_torchvision_classifier_by_name(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    clf = load_classifier("squeezenet1_1", device="cpu", quiet=True)
    assert isinstance(clf.model, torchvision.models.SqueezeNet)


def test_efficientnet_lite0_is_a_registered_model_like_any_other(monkeypatch):
    entry = get_entry("efficientnet_lite0")
    assert _REGISTRY["efficientnet_lite0"] is entry and "efficientnet_lite0" in list_models()
    w = get_weights("efficientnet_lite0")
    assert w.url is None and w.cached() and w.status()[0] and str(w) == lite.LABEL
    assert get_weights("efficientnet_lite0", None) is None
    with pytest.raises(UnknownModelError, match="DEFAULT"):
        get_weights("efficientnet_lite0", "IMAGENET9K")
    # A model registered the same way loads through the same path: the registry, not a special case.
    monkeypatch.setitem(_REGISTRY, "tiny_course_net", None)  # removed again when the test ends
    monkeypatch.delitem(_REGISTRY, "tiny_course_net")
    tiny = ModelEntry(
        "tiny_course_net",
        lambda n: nn.Sequential(nn.Flatten(), nn.Linear(12, n)),
        lambda s: None,
        lambda: lambda img: torch.zeros(3, 2, 2),
    )
    register_model(tiny)
    with pytest.raises(ModelRegistryError, match="already registered under the name 'tiny_course_net'"):
        register_model(tiny)  # as strict as torchvision: a taken name raises, it is not silently replaced
    with pytest.raises(ModelRegistryError, match="torchvision classifier"):
        register_model(ModelEntry("resnet18", tiny.build, tiny.weights))
    clf = load_classifier("tiny_course_net", device="cpu")
    assert not clf.pretrained and clf.model[1].out_features == 1000 and "tiny_course_net" in list_models()
