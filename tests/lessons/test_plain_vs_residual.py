"""Notebook 01's helpers: deep twins, gradient norms and block probes (course_utils.lessons.plain_vs_residual), photo
patches (.patches), shape tables (.shapes), and the ``residual`` namespace the notebook reaches them through."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

from course_utils.core.errors import CourseError, ImageLoadError
from course_utils.lessons import patches as patch_data
from course_utils.lessons import plain_vs_residual, shapes
from course_utils.lessons import residual as rb
from course_utils.lessons.patches import photo_patches
from course_utils.lessons.plain_vs_residual import TwinBlock, block_changes, deep_cnn, gradient_norms
from course_utils.lessons.shapes import format_shape_table, shape_table
from course_utils.measure import count_params
from course_utils.plots import plot_gradient_norms, plot_losses, smooth


@pytest.fixture(scope="module")
def patches():
    return photo_patches(n_per_photo=16, size=8, seed=0)


def test_notebook_01_reaches_every_helper_through_residual():
    """The notebook's ``rb`` (``from course_utils.lessons import residual as rb``) offers every name of the three
    modules that hold the helpers, each the same object."""
    offered = {name: getattr(m, name) for m in (plain_vs_residual, patch_data, shapes) for name in m.__all__}
    assert sorted(rb.__all__) == sorted(offered)
    assert all(getattr(rb, name) is obj for name, obj in offered.items())


def test_count_parameters_trainable_only():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    assert count_params(m) == 3 * 4 + 4 + 4 * 2 + 2
    m[0].requires_grad_(False)
    assert count_params(m, trainable_only=True) == 4 * 2 + 2


def test_twins_share_layers_and_initial_weights():
    torch.manual_seed(0)
    plain = deep_cnn(3, residual=False, width=8)
    torch.manual_seed(0)
    res = deep_cnn(3, residual=True, width=8)
    assert count_params(plain) == count_params(res) == (3 * 3 * 3 * 8 + 2 * 8 + 3 * (2 * 9 * 8 * 8 + 4 * 8) + 8 * 5 + 5)
    for (n1, p1), (n2, p2) in zip(plain.state_dict().items(), res.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2)
    x = torch.randn(4, 3, 8, 8)
    assert not torch.allclose(plain(x), res(x)), "the skip connection must change the output"
    assert sum(isinstance(m, nn.Conv2d) for m in plain.modules()) == 1 + 2 * 3


def test_twin_block_with_zero_residual_is_identity_on_relu_inputs():
    block = TwinBlock(6, residual=True).eval()
    nn.init.zeros_(block.bn2.weight)
    x = torch.relu(torch.randn(2, 6, 5, 5))
    torch.testing.assert_close(block(x), x)
    plain = TwinBlock(6, residual=False).eval()
    nn.init.zeros_(plain.bn2.weight)
    assert torch.count_nonzero(plain(x)) == 0
    assert "residual=False" in repr(plain)


@pytest.mark.parametrize("kwargs", [{"depth": 0}, {"depth": 2, "width": -1}, {"depth": 1.5}, {"depth": True}])
def test_deep_cnn_rejects_bad_sizes(kwargs):
    with pytest.raises(CourseError, match="positive whole number"):
        deep_cnn(residual=True, **kwargs)


def test_gradient_norms_match_manual_backward(patches):
    x, y, _ = patches
    torch.manual_seed(1)
    model = deep_cnn(4, residual=False, width=8)
    F.cross_entropy(model(x), y).backward()
    manual = [m.weight.grad.norm().item() for m in model.modules() if isinstance(m, nn.Conv2d)]
    before = [p.grad.clone() for p in model.parameters()]
    got = gradient_norms(model, x, y, layer_types=(nn.Conv2d,))
    assert [name for name, _ in got][:2] == ["0", "3.0.conv1"]
    torch.testing.assert_close([n for _, n in got], manual)
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), before)), "the model's own .grad is put back"
    with_fc = gradient_norms(model, x, y)
    assert len(with_fc) == len(got) + 1 and with_fc[-1][0] == "6"


def test_residual_twin_has_flatter_gradients(patches):
    x, y, _ = patches
    spread = {}
    for residual in (False, True):
        torch.manual_seed(0)
        norms = [n for _, n in gradient_norms(deep_cnn(20, residual, width=8), x, y, layer_types=(nn.Conv2d,))]
        spread[residual] = max(norms) / min(norms)
    assert spread[False] > 10 * spread[True]


def test_gradient_norms_bad_input():
    model = deep_cnn(1, residual=True, width=4)
    with pytest.raises(CourseError, match=r"\[N, C, H, W\]"):
        gradient_norms(model, torch.randn(3, 8, 8), torch.zeros(3, dtype=torch.long))
    with pytest.raises(CourseError, match="tensors"):
        gradient_norms(model, [[1.0]], torch.zeros(1, dtype=torch.long))
    with pytest.raises(CourseError, match="no Conv3d"):
        gradient_norms(model, torch.randn(2, 3, 4, 4), torch.zeros(2, dtype=torch.long), layer_types=(nn.Conv3d,))


def test_smooth():
    assert smooth([1, 2, 3, 4], window=2) == [1, 1.5, 2.5, 3.5]
    assert smooth([], window=3) == []
    with pytest.raises(CourseError):
        smooth([1.0], window=0)


def test_photo_patches_are_deterministic_balanced_and_normalised(patches):
    x, y, classes = patches
    assert x.shape == (80, 3, 8, 8) and x.dtype == torch.float32
    assert classes == ["chelsea", "coffee", "rocket", "astronaut", "grace_hopper"]
    assert torch.bincount(y).tolist() == [16] * 5
    torch.testing.assert_close(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(x.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-4, rtol=0)
    again = photo_patches(n_per_photo=16, size=8, seed=0)
    assert torch.equal(again.images, x) and torch.equal(again.labels, y)
    other = photo_patches(n_per_photo=16, size=8, seed=1)
    assert not torch.equal(other.images, x)
    # patches carry the content of their photo: the coffee photo's patches differ in colour from the rocket's
    assert (x[y == 1].mean(dim=(0, 2, 3)) - x[y == 2].mean(dim=(0, 2, 3))).abs().max() > 0.2


def test_photo_patches_subset_and_errors():
    p = photo_patches(n_per_photo=3, size=6, photos=["coffee", "chelsea"], seed=0)
    assert p.images.shape == (6, 3, 6, 6) and p.classes == ["coffee", "chelsea"]
    with pytest.raises(ImageLoadError, match="'dog'"):
        photo_patches(n_per_photo=2, photos=["coffee", "dog"])
    with pytest.raises(CourseError, match="at least two"):
        photo_patches(photos=["coffee"])
    with pytest.raises(CourseError, match="min_frac"):
        photo_patches(min_frac=0.5, max_frac=0.2)


def test_shape_table_resnet18_on_meta_leaves_model_alone():
    model = resnet18(weights=None)
    rows = shape_table(model, (2, 3, 64, 64))
    names = [r.name for r in rows]
    assert names == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    shapes = {r.name: r.shape for r in rows}
    assert shapes["maxpool"] == (2, 64, 16, 16) and shapes["layer4"] == (2, 512, 2, 2) and shapes["fc"] == (2, 1000)
    assert sum(r.params for r in rows) == count_params(model) == 11_689_512
    assert all(p.device.type == "cpu" for p in model.parameters()) and model.training
    deep = shape_table(model, (1, 3, 32, 32), depth=2)
    assert [r.name for r in deep if r.name.startswith("layer")] == [
        f"layer{i}.{j}" for i in range(1, 5) for j in (0, 1)
    ]
    assert {r.kind for r in deep if r.name.startswith("layer")} == {"BasicBlock"}
    real = shape_table(model, (1, 3, 32, 32), depth=2, device="cpu")
    assert [(r.name, r.shape) for r in real] == [(r.name, r.shape) for r in deep]
    text = format_shape_table(deep)
    assert text.splitlines()[0].split() == ["layer", "type", "output", "shape", "params"]
    assert "layer4.1  BasicBlock" in text and "2,049,000" not in text and "513,000" in text


def test_shape_table_bad_input_size():
    with pytest.raises(CourseError, match="input_size"):
        shape_table(nn.Identity(), (1, 3, 0, 4))


def test_block_changes_zero_init_blocks_are_identity():
    x = torch.randn(1, 3, 64, 64)
    torch.manual_seed(0)
    zero = resnet18(zero_init_residual=True).eval()
    torch.manual_seed(0)
    default = resnet18().eval()
    z, d = block_changes(zero, x), block_changes(default, x)
    assert [n for n, _ in z] == [f"layer{i}.{j}" for i in range(1, 5) for j in (0, 1)]
    projected = {"layer2.0", "layer3.0", "layer4.0"}
    for (name, cz), (_, cd) in zip(z, d):
        if name in projected:
            assert math.isnan(cz) and math.isnan(cd)
        else:
            assert cz < 1e-6 and cd > 0.05, name
    with pytest.raises(CourseError, match="no BasicBlock"):
        block_changes(nn.Conv2d(3, 3, 1), x)


def test_plots_return_figures():
    fig = plot_gradient_norms({"a": [("l0", 1.0), ("l1", 0.1)], "b": [("l0", 1.0), ("l1", 0.9)]})
    assert len(fig.axes[0].get_lines()) == 2 and fig.axes[0].get_yscale() == "log"
    plt.close(fig)
    fig = plot_losses({"a": [3.0, 2.0, 1.0], "b": [3.0, 2.5, 2.0]}, window=2)
    assert len(fig.axes[0].get_lines()) == 4
    plt.close(fig)
