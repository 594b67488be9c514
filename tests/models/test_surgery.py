"""MobileNet helpers: order-based weight copy and feature vectors, on real torchvision models."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.mobilenetv2 import InvertedResidual

from course_utils.core.errors import CourseError
from course_utils.models import backbone
from course_utils.models.surgery import copy_weights


def test_copy_weights_between_differently_named_modules():
    torch.manual_seed(0)
    ref = InvertedResidual(16, 16, 1, 6).eval()
    for m in ref.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    mine = nn.Sequential(
        nn.Conv2d(16, 96, 1, bias=False),
        nn.BatchNorm2d(96),
        nn.ReLU6(),
        nn.Conv2d(96, 96, 3, 1, 1, groups=96, bias=False),
        nn.BatchNorm2d(96),
        nn.ReLU6(),
        nn.Conv2d(96, 16, 1, bias=False),
        nn.BatchNorm2d(16),
    ).eval()
    pairs = copy_weights(ref, mine)
    assert pairs[0] == ("conv.0.0.weight", "0.weight")
    x = torch.randn(2, 16, 8, 8)
    assert torch.allclose(mine(x) + x, ref(x), atol=1e-5)


def test_copy_weights_rejects_mismatch():
    with pytest.raises(CourseError, match="shape mismatch"):
        copy_weights(nn.Conv2d(3, 4, 3), nn.Conv2d(3, 4, 5))
    with pytest.raises(CourseError, match="tensors"):
        copy_weights(nn.Conv2d(3, 4, 3), nn.Conv2d(3, 4, 3, bias=False))


@pytest.mark.parametrize("name,dim", [("mobilenet_v2", 1280), ("mobilenet_v3_small", 576), ("mobilenet_v3_large", 960)])
def test_backbone_pools_the_features(name, dim):
    model = torchvision.models.get_model(name).eval()
    fx = backbone(model)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        feats = fx(x)
        assert feats.shape == (2, dim)
        assert torch.allclose(feats, model.features(x).mean(dim=(2, 3)), atol=1e-5)


def test_backbone_names_the_graph_nodes_it_knows():
    with pytest.raises(CourseError, match="no graph node 'nope'"):
        backbone(torchvision.models.resnet18(), node="nope")
