"""course_utils.data.checkpoints: safe checkpoints that carry their classes and preprocessing, and clear errors."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from course_utils.core.errors import CheckpointError
from course_utils.data.checkpoints import build_preprocess, load_checkpoint, load_into, save_checkpoint
from course_utils.data.datasets import course_dataset
from course_utils.models import reset_classifier
from course_utils.models.efficientnet_lite import transforms as lite_transforms


def test_describe_preprocess_reads_default_and_explicit_interpolation():
    """torchvision stores a default Resize interpolation as a string and an explicit one as an enum: both work."""
    from torchvision.transforms import InterpolationMode, v2

    from course_utils.data.checkpoints import describe_preprocess

    default = describe_preprocess(v2.Compose([v2.Resize(64), v2.ToImage()]))
    bicubic = describe_preprocess(v2.Compose([v2.Resize(64, interpolation=InterpolationMode.BICUBIC), v2.ToImage()]))
    assert (default["interpolation"], bicubic["interpolation"]) == ("bilinear", "bicubic")
    assert default["resize_size"] == [64]


def _resnet18() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None)


def test_checkpoint_roundtrip_and_class_mismatch(tmp_path):
    data = course_dataset("textures5")
    model = _resnet18()
    reset_classifier(model, 5)
    pre = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms()
    path = save_checkpoint(model, tmp_path / "ck" / "m.pt", data.classes, pre, arch="resnet18", epochs=2)
    raw = torch.load(path, map_location="cpu", weights_only=True)  # a plain, safe dict
    assert raw["classes"] == data.classes and raw["extra"] == {"epochs": 2}
    fresh = _resnet18()
    torch.manual_seed(5)
    reset_classifier(fresh, 5)
    assert load_into(fresh, path) == data.classes
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
    img = data[0][0]
    assert torch.allclose(build_preprocess(load_checkpoint(path)["preprocess"])(img), pre(img), atol=1e-5)
    bicubic = lite_transforms(96, 112)  # a v2.Compose: its interpolation is recorded too
    info = save_checkpoint(model, tmp_path / "lite.pt", data.classes, bicubic)
    rebuilt = build_preprocess(load_checkpoint(info)["preprocess"])
    assert load_checkpoint(info)["preprocess"]["interpolation"] == "bicubic"
    assert torch.allclose(rebuilt(img), bicubic(img), atol=1e-5)
    three = _resnet18()
    reset_classifier(three, 3)
    with pytest.raises(CheckpointError, match=r"trained for 5 classes.*reset_classifier\(model, 5\)"):
        load_into(three, path)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nope.pt")
