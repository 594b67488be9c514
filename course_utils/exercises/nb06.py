"""Checkers for notebook 06 (MobileNet V2/V3)."""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from . import exercise


@exercise("06.1", "hard_sigmoid(x): MobileNetV3's piecewise-linear sigmoid, ReLU6(x + 3) / 6",
          hint="torch.nn.functional.relu6(x + 3) / 6 — it is 0 below −3, 1 above 3 and linear in between.")
def _check_hard_sigmoid(hard_sigmoid) -> None:
    x = torch.linspace(-8, 8, 161)
    got = hard_sigmoid(x.clone())
    assert isinstance(got, torch.Tensor) and got.shape == x.shape, "return a tensor of the same shape as x"
    expected = nn.Hardsigmoid()(x)
    assert not torch.allclose(got, torch.sigmoid(x), atol=1e-3), "that is the smooth sigmoid; V3 uses ReLU6(x + 3) / 6"
    assert got.min() >= 0 and got.max() <= 1, "the output must stay in [0, 1]: clip with ReLU6, then divide by 6"
    assert torch.allclose(got, expected, atol=1e-6), "values differ from nn.Hardsigmoid: ReLU6(x + 3) / 6"


def _head_case(replace_head, name: str, num_classes: int) -> None:
    torch.manual_seed(0)
    kwargs = {"width_mult": 0.5} if name == "mobilenet_v2" else {}
    model = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    n_layers, last = len(model.classifier), model.classifier[-1]
    result = replace_head(model, num_classes)
    model = result if isinstance(result, nn.Module) else model
    assert isinstance(model.classifier, nn.Sequential) and len(model.classifier) == n_layers, (
        f"{name}: keep model.classifier's other layers (dropout, hidden Linear); replace only the last one")
    head = model.classifier[-1]
    assert isinstance(head, nn.Linear), f"{name}: classifier[-1] should be a new nn.Linear, got {type(head).__name__}"
    assert head is not last, f"{name}: the last Linear was not replaced"
    assert head.in_features == last.in_features, (
        f"{name}: the new head takes {head.in_features} features but the layer before it gives {last.in_features}; "
        "use model.classifier[-1].in_features")
    assert head.out_features == num_classes, f"{name}: the new head has {head.out_features} outputs, expected {num_classes}"
    after = model.state_dict()
    for k, v in before.items():
        if not k.startswith(f"classifier.{n_layers - 1}."):
            assert torch.equal(after[k], v), f"{name}: {k} changed; only the last layer should be new"
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, num_classes), f"{name}: output shape {tuple(out.shape)}, expected (2, {num_classes})"


@exercise("06.2", "replace_head(model, num_classes): a new last Linear for MobileNet V2 and V3 alike",
          hint="model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, num_classes); V2's classifier[1] "
               "and V3's classifier[3] are both classifier[-1].")
def _check_replace_head(replace_head) -> None:
    for name, k in (("mobilenet_v2", 5), ("mobilenet_v3_small", 3), ("mobilenet_v3_large", 10)):
        _head_case(replace_head, name, k)


@exercise("06.3", "pareto_front(points): names no other model beats on both latency and accuracy, fastest first",
          hint="a is dominated when some b has b.latency <= a.latency and b.acc >= a.acc and b != a; "
               "keep the others, sorted by latency.")
def _check_pareto(pareto_front) -> None:
    cases = [
        ({"a": (1.0, 60.0), "b": (2.0, 70.0), "c": (3.0, 65.0), "d": (4.0, 80.0)}, ["a", "b", "d"]),
        ({"slow_bad": (9.0, 50.0), "fast_good": (1.0, 90.0)}, ["fast_good"]),
        ({"x": (5.0, 70.0), "y": (5.0, 71.0), "z": (6.0, 71.0), "w": (2.0, 60.0)}, ["w", "y"]),
        ({"only": (3.0, 3.0)}, ["only"]),
    ]
    for points, expected in cases:
        got = pareto_front(dict(points))
        assert isinstance(got, (list, tuple)), f"return a list of names, got {type(got).__name__}"
        got = list(got)
        assert set(got) == set(expected), (
            f"for {points} the front is {sorted(expected)}, got {sorted(got)}: a model is dominated when another is "
            "at least as fast AND at least as accurate (and better in one)")
        assert got == expected, f"order the front by latency, fastest first: expected {expected}, got {got}"
