"""FLOPs/parameter counter: agrees with torchvision's published figures and with the conv formula."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from course_utils.core.errors import CourseError
from course_utils.measure import count_params, make_input, measure_cost


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"])
def test_agrees_with_torchvision_meta(name):
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    model = torchvision.models.get_model(name, weights=None)
    cost = measure_cost(model, input_size=224)
    # meta["_ops"] is in G multiply-adds; FlopCounterMode counts 2 FLOPs per multiply-add.
    assert cost.flops == pytest.approx(meta["_ops"] * 2e9, rel=0.01)
    assert cost.macs == pytest.approx(meta["_ops"] * 1e9, rel=0.01)
    assert cost.params == meta["num_params"]


@pytest.mark.parametrize(
    "k,m,n,size,stride", [(3, 8, 16, 14, 1), (3, 32, 64, 28, 2), (5, 16, 24, 10, 1), (1, 7, 9, 5, 1)]
)
def test_conv_flops_match_formula(k, m, n, size, stride):
    conv = nn.Conv2d(m, n, k, stride=stride, padding=k // 2, bias=False)
    out = (size + 2 * (k // 2) - k) // stride + 1
    assert measure_cost(conv, torch.randn(1, m, size, size)).flops == 2 * k * k * m * n * out * out
    dw = nn.Conv2d(m, m, k, stride=stride, padding=k // 2, groups=m, bias=False)
    assert measure_cost(dw, torch.randn(1, m, size, size)).flops == 2 * k * k * m * out * out


def test_flops_scale_with_batch_and_resolution():
    model = torchvision.models.mobilenet_v3_small()
    one = measure_cost(model, input_size=112).flops
    assert measure_cost(model, input_size=112, batch_size=3).flops == 3 * one
    assert measure_cost(model, input_size=(224, 224)).flops > 3 * one


def test_cost_fields_and_mode_restored():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(2))
    model(torch.randn(1, 3, 6, 6))
    model.train()
    cost = measure_cost(model, input_size=6)
    assert model.training, "measure_cost must restore train mode"
    assert cost.params == count_params(model) == 4 * 27 + 4 + 64 * 2 + 2
    assert cost.input_shape == (1, 3, 6, 6)
    assert set(cost.by_operator) == {"convolution", "addmm"} and sum(cost.by_operator.values()) == cost.flops
    assert "params" in str(cost) and cost.macs * 2 == cost.flops


def test_trainable_only_and_shared_params():
    lin = nn.Linear(4, 4)
    model = nn.Sequential(lin, lin, nn.Linear(4, 1))
    assert count_params(model) == 20 + 5
    model[2].requires_grad_(False)
    assert count_params(model, trainable_only=True) == 20


def test_bad_inputs_raise_course_errors():
    with pytest.raises(CourseError, match="3 channels|shape"):
        measure_cost(nn.Conv2d(1, 2, 3), input_size=8)
    with pytest.raises(CourseError, match="input_size"):
        make_input((1, 2, 3))
    with pytest.raises(CourseError, match="positive"):
        make_input(0)
    with pytest.raises(CourseError, match="nn.Module"):
        count_params("resnet18")
