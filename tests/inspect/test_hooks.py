"""course_utils.inspect.hooks: hooks are recorded, counted and always removed."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models import resnet18

from course_utils.core.errors import CourseError, LayerNotFoundError
from course_utils.inspect import HookSet, capture, get_layer, hook_count, remove_all_hooks


@pytest.fixture(scope="module")
def r18():
    torch.manual_seed(0)
    return resnet18(weights=None).eval()


@pytest.fixture(scope="module")
def x():
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def test_capture_records_layer_outputs_and_removes_hooks(r18, x):
    with capture(r18, ["layer3", "layer4"]) as feats, torch.inference_mode():
        logits = r18(x)
        assert hook_count(r18) == 2
    assert hook_count(r18) == 0
    assert feats["layer3"].shape == (2, 256, 4, 4) and feats["layer4"].shape == (2, 512, 2, 2)
    with torch.inference_mode():
        pooled = feats["layer4"].mean(dim=(2, 3))
        assert torch.allclose(r18.fc(pooled), logits, atol=1e-5)
        body = nn.Sequential(*list(r18.children())[:-3])  # up to layer3
        assert torch.allclose(body(x), feats["layer3"], atol=1e-5)


def test_capture_removes_hooks_when_the_block_raises(r18, x):
    with pytest.raises(RuntimeError), capture(r18, "layer4"):
        r18(torch.zeros(1, 5, 32, 32))  # wrong channel count
    assert hook_count(r18) == 0


def test_clone_protects_against_in_place_ops(r18, x):
    # BasicBlock: out = bn2(out); out += identity; out = relu(out)  — both in place on bn2's output.
    with torch.inference_mode():
        with capture(r18, "layer1.0.bn2", clone=False) as by_ref:
            r18(x)
        with capture(r18, "layer1.0.bn2") as copied:
            r18(x)
        with capture(r18, "layer1.0") as block:
            r18(x)
    assert copied["layer1.0.bn2"].min() < 0 <= by_ref["layer1.0.bn2"].min()
    assert torch.equal(by_ref["layer1.0.bn2"], block["layer1.0"])


def test_hook_count_and_remove_all_hooks(r18, x):
    calls = []
    for _ in range(3):  # a cell re-run three times
        r18.layer4.register_forward_hook(lambda m, i, o: calls.append(1))
    r18.layer1.register_forward_pre_hook(lambda m, i: None)
    r18.fc.register_full_backward_hook(lambda m, gi, go: None)
    assert hook_count(r18) == 5
    with torch.inference_mode():
        r18(x)
    assert len(calls) == 3
    assert remove_all_hooks(r18) == 5 and hook_count(r18) == 0
    with torch.inference_mode():
        r18(x)
    assert len(calls) == 3


def test_hookset_removes_forward_backward_and_tensor_hooks():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    seen = {}
    with HookSet() as hooks:
        hooks.forward(model[0], lambda m, i, o: seen.__setitem__("fwd", o.detach().clone()))
        hooks.forward_pre(model[2], lambda m, i: seen.__setitem__("pre", i[0].detach().clone()))
        hooks.backward(model[2], lambda m, gi, go: seen.__setitem__("bwd", go[0].detach().clone()))
        x = torch.randn(5, 4, requires_grad=True)
        hooks.tensor(x, lambda g: seen.__setitem__("tensor", g.detach().clone()))
        assert len(hooks) == 4 and hook_count(model) == 3
        model(x).sum().backward()
    assert hook_count(model) == 0 and len(hooks) == 0
    assert set(seen) == {"fwd", "pre", "bwd", "tensor"}
    assert torch.allclose(seen["pre"], torch.relu(seen["fwd"]))
    assert torch.allclose(seen["bwd"], torch.ones(5, 2))
    assert torch.allclose(seen["tensor"], x.grad)
    seen.clear()
    model(torch.randn(2, 4)).sum().backward()
    assert not seen
    hooks.remove()  # a second remove is harmless


def test_unknown_layer_is_a_course_error(r18):
    with pytest.raises(LayerNotFoundError, match="layer5") as info:
        get_layer(r18, "layer5")
    assert isinstance(info.value, CourseError) and "layer4" in str(info.value)
    with pytest.raises(LayerNotFoundError), capture(r18, "layer4.9"):
        pass
    with pytest.raises(LayerNotFoundError):
        with capture(r18, []):
            pass
    assert get_layer(r18, r18.fc) is r18.fc and get_layer(r18, "layer4.1.conv2") is r18.layer4[1].conv2
    assert hook_count(r18) == 0
