"""course_utils.lessons.small_resnet (notebook 10's network): shapes and layer count, plain/residual twins,
option-A shortcuts, the blocks' arithmetic, bad arguments, the stage probes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock

from course_utils.core.errors import CourseError, ExperimentError
from course_utils.lessons import scratch, small_resnet
from course_utils.measure import count_params
from course_utils.models.surgery import randomise_batchnorm


@pytest.mark.parametrize("block", small_resnet.BLOCKS)
@pytest.mark.parametrize("depth", [1, 2])
def test_small_resnet_shapes_and_layer_count(block, depth):
    net = small_resnet.SmallResNet(block, width=4, depth=depth).eval()
    x = torch.rand(3, 1, 28, 28)
    shapes = {}
    hooks = [
        getattr(net, n).register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, o.shape))
        for n in ("stem", "stage1", "stage2", "stage3")
    ]
    with torch.no_grad():
        out = net(x)
    for h in hooks:
        h.remove()
    assert out.shape == (3, 10)
    assert shapes == {
        "stem": (3, 4, 14, 14),
        "stage1": (3, 4, 14, 14),
        "stage2": (3, 8, 7, 7),
        "stage3": (3, 16, 4, 4),
    }
    assert net.layers == 6 * depth + 2
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) + 1 == net.layers  # every weight layer is a conv, plus fc: no projection shortcuts
    assert f"depth={depth}" in repr(net)


def test_plain_and_residual_twins_have_the_same_parameters_and_initial_weights():
    for depth in (1, 3):
        setup = scratch.Setup("residual", 8, depth)
        res, plain = setup.build(seed=5), setup.but(block="plain").build(seed=5)
        assert count_params(res) == count_params(plain)
        for (ka, a), (kb, b) in zip(res.state_dict().items(), plain.state_dict().items()):
            assert ka == kb and torch.equal(a, b)
        other = setup.build(seed=6)
        assert not torch.equal(other.stem[0].weight, res.stem[0].weight)
    assert isinstance(res.stage1[0], BasicBlock) and type(plain.stage1[0]) is small_resnet.PlainBlock


def test_shortcut_a_subsamples_and_pads_channels_with_zeros():
    sc = small_resnet.ShortcutA(2, 3)
    x = torch.randn(2, 4, 7, 5)
    y = sc(x)
    assert y.shape == (2, 7, 4, 3) and count_params(sc) == 0
    assert torch.equal(y[:, :4], x[:, :, ::2, ::2]) and torch.equal(y[:, 4:], torch.zeros(2, 3, 4, 3))
    with pytest.raises(ExperimentError, match="stride"):
        small_resnet.ShortcutA(0, 1)


def test_blocks_compute_what_they_claim():
    torch.manual_seed(0)
    basic = randomise_batchnorm(BasicBlock(6, 6)).eval()
    plain = small_resnet.PlainBlock(6, 6).eval()
    plain.load_state_dict(basic.state_dict())
    x = torch.randn(2, 6, 5, 5)
    with torch.no_grad():
        branch = basic.bn2(basic.conv2(F.relu(basic.bn1(basic.conv1(x)))))
        torch.testing.assert_close(plain(x), F.relu(branch))
        torch.testing.assert_close(basic(x), F.relu(branch + x))

    pre = randomise_batchnorm(small_resnet.PreActivationBlock(4, 8, 2, small_resnet.ShortcutA(2, 4))).eval()
    x = torch.randn(2, 4, 9, 7)
    before = x.clone()
    with torch.no_grad():
        out = pre(x)
        want = pre.conv2(F.relu(pre.bn2(pre.conv1(F.relu(pre.bn1(x)))))) + small_resnet.ShortcutA(2, 4)(x)
    torch.testing.assert_close(out, want)
    assert torch.equal(x, before), "the block must not change its input"
    assert (out < 0).any(), "nothing (no ReLU) comes after the addition"
    assert pre.bn1.num_features == 4 and pre.conv1.stride == (2, 2)


def test_preact_network_ends_with_bn_relu_and_others_do_not():
    assert isinstance(small_resnet.SmallResNet("preact", 4).post[0], nn.BatchNorm2d)
    assert isinstance(small_resnet.SmallResNet("residual", 4).post, nn.Identity)


@pytest.mark.parametrize(
    "kwargs,match",
    [({"block": "dense"}, "block="), ({"width": 0}, "width"), ({"depth": 1.5}, "depth"), ({"num_classes": -1}, "num")],
)
def test_small_resnet_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ExperimentError, match=match) as info:
        small_resnet.SmallResNet(**kwargs)
    assert isinstance(info.value, CourseError) and isinstance(info.value, ValueError)


# --------------------------------------------------------------------------- looking inside


def test_stage_gradient_norms_and_activation_std():
    torch.manual_seed(0)
    net = small_resnet.SmallResNet("plain", 4, 2)
    x, y = torch.rand(16, 1, 28, 28), torch.randint(10, (16,))
    norms = small_resnet.stage_gradient_norms(net, x, y)
    assert list(norms) == ["stem", "stage1", "stage2", "stage3", "fc"]
    assert all(v > 0 and math.isfinite(v) for v in norms.values())
    assert all(p.grad is None for p in net.parameters())  # the model is left without gradients
    bn = net.stem[1]
    assert torch.equal(bn.running_var, torch.ones(4)) and int(bn.num_batches_tracked) == 0  # statistics put back
    before = bn.running_mean.clone()
    stds = small_resnet.stage_activation_std(net, x)
    assert list(stds) == ["stem", "stage1", "stage2", "stage3"] and all(v > 0 for v in stds.values())
    assert torch.equal(bn.running_mean, before) and net.training  # running statistics and mode untouched


# --------------------------------------------------------------------------- recipe, schedule, evaluation
