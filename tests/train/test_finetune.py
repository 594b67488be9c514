"""course_utils.train on real models and the bundled data: heads, freezing, groups, BatchNorm, fitting, evaluation."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from course_utils import train as tr  # noqa: E402
from course_utils.core.errors import TrainingError  # noqa: E402
from course_utils.data.datasets import (  # noqa: E402
    ImageSubset,  # noqa: E402
    course_dataset,
    split,
)
from course_utils.inspect import CACHE  # noqa: E402
from course_utils.models import (  # noqa: E402
    load_classifier,  # noqa: E402
    reset_classifier,
)
from course_utils.models.efficientnet_lite import transforms as lite_transforms  # noqa: E402
from course_utils.plots import plot_confusion_matrix, plot_history, plot_misclassified  # noqa: E402
from course_utils.train import metrics as ev  # noqa: E402

SMALL = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms(crop_size=64, resize_size=64)


@pytest.fixture(scope="module")
def data():
    return course_dataset("textures5")


def _resnet18(num_classes: int = 1000) -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None, num_classes=num_classes)


def test_replace_freeze_count_and_groups():
    model = _resnet18()
    head = reset_classifier(model, 5)
    assert model.fc is head and head.out_features == 5 and head.in_features == 512
    total = sum(p.numel() for p in model.parameters())
    assert tr.freeze_all_but(model, head) == 512 * 5 + 5 == tr.count_trainable(model)
    groups = tr.param_groups(model, head, head_lr=1e-3, backbone_lr=1e-5, weight_decay=0.05)
    assert [(g["name"], g["lr"], g["weight_decay"]) for g in groups] == [
        ("head", 1e-3, 0.05),
        ("head", 1e-3, 0.0),
        ("backbone", 1e-5, 0.05),
        ("backbone", 1e-5, 0.0),
    ]
    for g in groups:  # the one weight-decay rule: decay on ndim >= 2, none on biases and norms
        assert all((p.ndim >= 2) == (g["weight_decay"] > 0) for p in g["params"])
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters())), "each parameter in exactly one group"
    assert tr.count_trainable(model) == total
    mobilenet = torchvision.models.mobilenet_v3_small(weights=None)
    assert reset_classifier(mobilenet, 3) is mobilenet.classifier[-1]


def test_decay_groups_follows_the_rule_and_skips_frozen_parameters():
    model = _resnet18()
    model.layer1.requires_grad_(False)
    groups = tr.decay_groups(model, 1e-4, lr=3e-3)
    assert [(g["weight_decay"], g["lr"]) for g in groups] == [(1e-4, 3e-3), (0.0, 3e-3)]
    decayed = {id(p) for p in groups[0]["params"]}
    for name, p in model.named_parameters():
        in_any = any(id(p) in {id(q) for q in g["params"]} for g in groups)
        assert in_any == p.requires_grad, name
        if p.requires_grad:
            assert (id(p) in decayed) == (p.ndim >= 2), name
    only_matrix = tr.decay_groups([nn.Parameter(torch.zeros(3, 3))], 0.1)
    assert len(only_matrix) == 1 and only_matrix[0]["weight_decay"] == 0.1, "an empty group is left out"


def test_frozen_bn_pitfall_and_fix():
    model = _resnet18()
    tr.freeze_all_but(model, model.fc)
    x = torch.randn(4, 3, 64, 64) * 3 + 1
    before = model.bn1.running_mean.clone()
    model.train()
    model(x)
    assert not torch.equal(before, model.bn1.running_mean), "train mode updates BN stats even when frozen"
    after_pitfall = model.bn1.running_mean.clone()
    model.train()
    assert tr.freeze_bn_stats(model) == 20  # every BN of ResNet-18
    model(x)
    assert torch.equal(after_pitfall, model.bn1.running_mean)
    assert model.training and not model.bn1.training and model.fc.training


def test_freeze_bn_all_keeps_statistics_while_weights_train(data):
    train_idx, _ = split(data, 0.25, per_class=4)
    loader = DataLoader(ImageSubset(data, train_idx, SMALL), batch_size=8, shuffle=True)
    model = _resnet18()
    head = reset_classifier(model, 5)
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    gamma = model.layer1[0].bn1.weight.detach().clone()
    opt = torch.optim.AdamW(tr.param_groups(model, head, 1e-3, 1e-3))
    tr.fit(model, loader, opt, epochs=1, freeze_bn="all", progress=False)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in stats.items()), "running statistics untouched"
    assert not torch.equal(gamma, model.layer1[0].bn1.weight), "the BatchNorm scale still trains"
    tr.fit(model, loader, opt, epochs=1, progress=False)  # trainable BN layers in train mode: statistics move
    assert not torch.equal(model.bn1.running_mean, stats["bn1.running_mean"])
    model.train()
    assert tr.freeze_bn_stats(model) == 0 and tr.freeze_bn_stats(model, include_trainable=True) == 20
    with pytest.raises(TrainingError, match="freeze_bn"):
        tr.fit(model, loader, opt, epochs=1, freeze_bn="yes", progress=False)


def test_embedding_cache_reuses_and_keys(lite0, data, tmp_path):
    subset = ImageSubset(data, split(data, per_class=4)[0])
    pre = lite_transforms(96, 96)
    x, y = CACHE.embed_dataset(lite0, subset, pre, cache_dir=tmp_path, progress=False)
    files = list(tmp_path.glob("*.pt"))
    assert x.shape == (len(subset), 1280) and y.tolist() == subset.targets and len(files) == 1
    mtime = files[0].stat().st_mtime_ns
    x2, _ = CACHE.embed_dataset(lite0, subset, pre, cache_dir=tmp_path, progress=False)
    assert torch.equal(x, x2) and files[0].stat().st_mtime_ns == mtime
    key = CACHE.dataset_key(lite0, subset, pre)
    assert key != CACHE.dataset_key(lite0, subset, lite_transforms(112, 112))
    assert key != CACHE.dataset_key(lite0, ImageSubset(data, split(data, per_class=4)[1]), pre)
    r1 = load_classifier("resnet18", weights=None, device="cpu")
    torch.manual_seed(1)
    r2 = load_classifier("resnet18", weights=None, device="cpu")
    assert CACHE.dataset_key(r1, subset, pre) != CACHE.dataset_key(r2, subset, pre)


def test_linear_probe_on_real_features(lite0, data, tmp_path):
    train_idx, val_idx = split(data, 0.25, per_class=12)
    pre = lite_transforms(96, 96)
    xt, yt = CACHE.embed_dataset(lite0, ImageSubset(data, train_idx), pre, cache_dir=tmp_path, progress=False)
    xv, yv = CACHE.embed_dataset(lite0, ImageSubset(data, val_idx), pre, cache_dir=tmp_path, progress=False)
    head, hist = tr.train_linear_probe(xt, yt, 5, xv, yv, epochs=15, lr=1e-3)
    assert len(hist.train_loss) == len(hist.val_acc) == 15
    assert hist.train_loss[-1] < hist.train_loss[0]
    assert hist.val_acc[-1] >= 0.9, f"real ImageNet features separate the textures: {hist.val_acc}"
    head2, _ = tr.train_linear_probe(xt, yt, 5, xv, yv, epochs=15, lr=1e-3)
    assert torch.equal(head.weight, head2.weight), "same seed, same head"


def test_fit_warmup_then_full(data):
    train_idx, val_idx = split(data, 0.25, per_class=4)
    loader = DataLoader(ImageSubset(data, train_idx, SMALL), batch_size=8, shuffle=True)
    val = DataLoader(ImageSubset(data, val_idx, SMALL), batch_size=8)
    model = _resnet18()
    head = reset_classifier(model, 5)
    opt = torch.optim.AdamW(tr.param_groups(model, head, 1e-3, 1e-4))
    conv_before, fc_before = model.conv1.weight.detach().clone(), head.weight.detach().clone()
    hist = tr.fit(model, loader, opt, epochs=1, val_loader=val, head=head, warmup_epochs=1, progress=False)
    assert torch.equal(conv_before, model.conv1.weight) and not torch.equal(fc_before, head.weight)
    assert all(p.requires_grad for p in model.parameters()), "requires_grad restored after warm-up"
    assert len(hist.train_loss) == len(hist.val_acc) == len(hist.seconds) == 1 and not model.training
    tr.fit(model, loader, opt, epochs=1, progress=False)
    assert not torch.equal(conv_before, model.conv1.weight), "after warm-up the backbone trains"
    with pytest.raises(ValueError, match="head="):
        tr.fit(model, loader, opt, epochs=1, warmup_epochs=1, progress=False)


def test_evaluation_numbers_and_plots(data):
    targets = torch.tensor([0, 0, 1, 1, 2, 2])
    preds = torch.tensor([0, 1, 1, 1, 2, 0])
    assert ev.accuracy(preds, targets) == pytest.approx(4 / 6)
    cm = ev.confusion_matrix(preds, targets, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]] and cm.sum() == 6
    assert ev.per_class_accuracy(preds, targets, ["a", "b", "c"]) == {"a": 0.5, "b": 1.0, "c": 0.5}
    logits = torch.nn.functional.one_hot(preds, 3).float()
    assert ev.accuracy(logits, targets) == ev.accuracy(preds, targets)
    assert ev.misclassified(preds, targets) == [1, 5]
    assert plot_confusion_matrix(cm, ["a", "b", "c"]).axes
    samples = data.samples[:6]
    fig = plot_misclassified(samples, preds, targets, data.classes)
    assert len([a for a in fig.axes if a.images]) == 2
    empty = plot_misclassified(samples, targets, targets, data.classes)  # nothing wrong: still a Figure
    assert (
        isinstance(empty, matplotlib.figure.Figure) and "no misclassified images" in empty.axes[0].texts[0].get_text()
    )
    fig = plot_history(
        {
            "probe": tr.History([1.0, 0.5], [0.5, 0.8], [1.1, 0.7], [0.4, 0.7], [0.1, 0.1]),
            "full": tr.History([1.2, 0.6], [0.4, 0.7], [], [], [0.2, 0.2]),
        }
    )
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["probe train", "probe val", "full train"]
    lines = fig.axes[0].get_lines()
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color(), "one colour per run"
    model = _resnet18(5)
    loader = DataLoader(ImageSubset(data, list(range(4)), SMALL), batch_size=2)
    logits, t = ev.predict_loader(model, loader)
    assert logits.shape == (4, 5) and t.tolist() == [0, 0, 0, 0]
