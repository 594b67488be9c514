"""Checkers for notebook 06 (MobileNet V2/V3)."""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from . import exercise

__all__ = []


@exercise(
    "06.1",
    "hard_sigmoid(x): MobileNetV3's piecewise-linear sigmoid, 0 below −3, 1 above 3, linear between",
    hint="shift x so that the ramp starts at −3, clip it with a ReLU6 (torch.nn.functional.relu6) and scale "
    "it to [0, 1]; return a new tensor, leave x as it is.",
)
def _check_hard_sigmoid(hard_sigmoid) -> None:
    x = torch.linspace(-8, 8, 161)
    expected = nn.Hardsigmoid()(x)
    inputs = {"1-D": x, "[1, C, H, W] (batch 1, non-square)": x[:120].reshape(1, 2, 6, 10), "float64": x.double()}
    for what, inp in inputs.items():
        original = inp.clone()
        got = hard_sigmoid(inp)
        assert torch.equal(inp, original), (
            f"your function changed its input in place ({what}); compute a new tensor (no add_/clamp_/div_ on x)"
        )
        assert isinstance(got, torch.Tensor) and got.shape == inp.shape, (
            f"for a {what} input of shape {tuple(inp.shape)} return a tensor of the same shape, got "
            f"{tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}"
        )
        assert got.dtype == inp.dtype, f"a {inp.dtype} input gave a {got.dtype} output: keep the input's dtype"
        ref = nn.Hardsigmoid()(inp)
        flat = got.flatten().double()
        if torch.allclose(flat, torch.sigmoid(inp.flatten().double()), atol=1e-3):
            raise AssertionError("that is the smooth sigmoid; V3 replaces it by a piecewise-linear one")
        if torch.allclose(flat, (inp * ref).flatten().double(), atol=1e-5):
            raise AssertionError("that is h-swish, x · hard_sigmoid(x); return only the gate")
        assert got.min() >= 0 and got.max() <= 1, (
            f"the output ranges over {got.min():.2f}…{got.max():.2f}: it must stay in [0, 1] (clip below AND above)"
        )
        assert torch.allclose(got.double(), ref.double(), atol=1e-6), (
            "values differ from nn.Hardsigmoid: it is 0 at x ≤ −3, 1 at x ≥ 3 and 0.5 at x = 0"
        )
    assert torch.allclose(hard_sigmoid(x), expected, atol=1e-6)


def _head_case(replace_head, name: str, num_classes: int) -> None:
    torch.manual_seed(0)
    kwargs = {"width_mult": 0.5} if name == "mobilenet_v2" else {}
    model = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    n_layers, last = len(model.classifier), model.classifier[-1]
    kinds = [type(m) for m in model.classifier]
    result = replace_head(model, num_classes)
    assert isinstance(result, nn.Module), f"{name}: return the model, got {type(result).__name__}"
    model = result
    assert isinstance(getattr(model, "classifier", None), nn.Sequential), (
        f"{name}: keep model.classifier an nn.Sequential; replace only its last layer"
    )
    assert len(model.classifier) >= n_layers, (
        f"{name}: model.classifier has {len(model.classifier)} layers, it had {n_layers}: keep the dropout and hidden "
        "layers, replace only the last one"
    )
    assert len(model.classifier) == n_layers, (
        f"{name}: you added a layer after the old head ({n_layers} → {len(model.classifier)}); replace the last one"
    )
    changed = [i for i, kind in enumerate(kinds[:-1]) if type(model.classifier[i]) is not kind]
    assert not changed, (
        f"{name}: classifier[{changed[0]}] was a {kinds[changed[0]].__name__} and is now a "
        f"{type(model.classifier[changed[0]]).__name__}: only the last layer is the head"
    )
    head = model.classifier[-1]
    assert isinstance(head, nn.Linear), f"{name}: classifier[-1] should be a new nn.Linear, got {type(head).__name__}"
    assert head is not last, (
        f"{name}: the last Linear is still the old object; changing its out_features attribute "
        "does not resize its weight — assign a new nn.Linear"
    )
    assert head.in_features == last.in_features, (
        f"{name}: the new head takes {head.in_features} features but the layer before it gives {last.in_features}; "
        "read the size from the model instead of typing a number"
    )
    assert head.out_features == num_classes, (
        f"{name}: the new head has {head.out_features} outputs, asked for num_classes={num_classes}"
    )
    after = model.state_dict()
    for k, v in before.items():
        if not k.startswith(f"classifier.{n_layers - 1}."):
            assert k in after and torch.equal(after[k], v), (
                f"{name}: {k} changed; keep the pretrained layers and their weights, only the head is new"
            )
    with torch.no_grad():
        for shape in ((1, 3, 64, 80), (2, 3, 72, 64)):
            out = model(torch.randn(*shape))
            assert out.shape == (shape[0], num_classes), (
                f"{name}: input {shape} gave output shape {tuple(out.shape)}, expected ({shape[0]}, {num_classes})"
            )


@exercise(
    "06.2",
    "replace_head(model, num_classes): a new last Linear for MobileNet V2 and V3 alike",
    hint="the head is the last layer of model.classifier in both V2 and V3 (negative indexing); build the new "
    "nn.Linear from the old one's in_features.",
)
def _check_replace_head(replace_head) -> None:
    for name, k in (("mobilenet_v2", 5), ("mobilenet_v3_small", 3), ("mobilenet_v3_large", 10), ("mobilenet_v2", 7)):
        _head_case(replace_head, name, k)


@exercise(
    "06.3",
    "pareto_front(points): names no other model beats on both latency and accuracy, fastest first",
    hint="a model is dominated when some *other* point is at least as fast and at least as accurate and "
    "differs from it; keep the rest, sorted by latency (sorted(..., key=...)).",
)
def _check_pareto(pareto_front) -> None:
    cases = [
        ({"a": (1.0, 60.0), "b": (2.0, 70.0), "c": (3.0, 65.0), "d": (4.0, 80.0)}, ["a", "b", "d"]),
        ({"slow_bad": (9.0, 50.0), "fast_good": (1.0, 90.0)}, ["fast_good"]),
        ({"x": (5.0, 70.0), "y": (5.0, 71.0), "z": (6.0, 71.0), "w": (2.0, 60.0)}, ["w", "y"]),
        ({"only": (3.0, 3.0)}, ["only"]),
        ({"twin_a": (2.0, 75.0), "twin_b": (2.0, 75.0), "worse": (3.0, 74.0)}, ["twin_a", "twin_b"]),
        ({"m": (8.0, 77.0), "k": (1.0, 60.0), "q": (4.0, 72.0), "z": (12.0, 76.0)}, ["k", "q", "m"]),
    ]
    for points, expected in cases:
        original = dict(points)
        got = pareto_front(points)
        assert points == original, "your function changed the dict it was given; build a new list instead"
        assert isinstance(got, (list, tuple)), f"return a list of names, got {type(got).__name__}"
        got = list(got)
        twins = {n for n in points if list(points.values()).count(points[n]) > 1}
        if set(expected) & twins and not set(expected) & twins <= set(got):
            raise AssertionError(
                f"for {points} you dropped models with identical scores (the front is "
                f"{sorted(expected)}): two equal points do not dominate each other, neither is "
                "better in anything"
            )
        if not got:
            raise AssertionError(
                f"for {points} you returned no model: is every point dominated by itself? "
                "compare each point with the *other* points only"
            )
        assert set(got) == set(expected), (
            f"for {points} the front is {sorted(expected)}, got {sorted(got)}: a model is dominated when another is "
            "at least as fast (lower latency) AND at least as accurate (and better in one)"
        )
        assert all(points[a][0] <= points[b][0] for a, b in zip(got, got[1:])), (
            f"order the front by latency, fastest first: expected {expected}, got {got}"
        )
