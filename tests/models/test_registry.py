"""course_utils.models.registry: model names, weights resolution, the offline policy, registering models."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from course_utils.core.errors import ModelRegistryError, UnknownModelError
from course_utils.data.images import sample_image
from course_utils.models import COURSE_MODELS, get_weights, list_models, load_classifier
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
