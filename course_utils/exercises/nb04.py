"""Checkers for notebook 04 (fine-tuning)."""

from __future__ import annotations

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet

from ..models.surgery import randomise_batchnorm
from . import exercise
from ._fixtures import shape_of, tensor_or_fail

__all__ = []

_BN = nn.modules.batchnorm._BatchNorm


def _resnet18() -> nn.Module:
    torch.manual_seed(0)
    return randomise_batchnorm(torchvision.models.resnet18(weights=None))


def _bottleneck_resnet() -> nn.Module:
    """A one-block-per-stage ResNet with Bottleneck blocks: ResNet-50's 2048-wide head, a fraction of its cost."""
    torch.manual_seed(1)
    return randomise_batchnorm(ResNet(Bottleneck, [1, 1, 1, 1]))


def _mobilenet() -> nn.Module:
    torch.manual_seed(2)
    return randomise_batchnorm(torchvision.models.mobilenet_v3_small(weights=None))


def _returned_model(out: object, model: nn.Module) -> nn.Module:
    if out is None or out is model:
        return model
    assert isinstance(out, nn.Module), f"return the model, got {type(out).__name__}"
    return out


@exercise(
    "04.1",
    "new_head_frozen(model, num_classes): give a ResNet a fresh num_classes head and freeze everything else",
    hint="The order matters: a layer created after the freezing loop is trainable. Size the new nn.Linear from "
    "the old head, and create it where the old head lives (nn.Linear takes device= and dtype=).",
)
def _check_new_head_frozen(new_head_frozen) -> None:
    for build, n, dtype in ((_resnet18, 5, torch.float32), (_bottleneck_resnet, 3, torch.float64)):
        model = build().to(dtype)
        old_fc = model.fc
        width = old_fc.in_features
        backbone_before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("fc.")}
        model = _returned_model(new_head_frozen(model, n), model)
        fc = model.fc
        assert isinstance(fc, nn.Linear), f"model.fc should be an nn.Linear, got {type(fc).__name__}"
        assert fc is not old_fc or fc.weight.shape[0] == n, (
            f"model.fc.weight still has shape {shape_of(fc.weight)} ({old_fc.weight.shape[0]} classes): setting "
            "out_features does not resize the weights; put a new nn.Linear in model.fc"
        )
        assert fc.in_features == width, (
            f"the new head takes {fc.in_features} features but this backbone gives {width}: read the width from "
            "the old head instead of hard-coding it"
        )
        assert fc.out_features == n and fc.weight.shape == (n, width), (
            f"the new head has {fc.out_features} outputs, expected num_classes = {n}: use the argument"
        )
        assert fc.bias is not None, "the new head has no bias: a classifier head is a full nn.Linear (bias=True)"
        assert fc.weight.dtype == dtype and fc.weight.device == old_fc.weight.device, (
            f"the new head is {fc.weight.dtype} on {fc.weight.device} but the model is {dtype} on "
            f"{old_fc.weight.device}: create it on the old head's device and dtype (on a GPU the same mistake "
            "leaves the head on the CPU)"
        )
        head_trainable = [p.requires_grad for p in fc.parameters()]
        assert all(head_trainable), (
            "the new head is frozen (requires_grad=False): it was created before the freezing loop, or frozen with "
            "the rest; freeze first, then replace"
        )
        others = [name for name, p in model.named_parameters() if p.requires_grad and not name.startswith("fc.")]
        kinds = (
            "BatchNorm weights and biases are parameters too; "
            if any("bn" in k or "downsample.1" in k for k in others)
            else ""
        )
        assert not others, (
            f"{len(others)} backbone tensors still train (e.g. {others[:2]}): {kinds}"
            "freeze every parameter except the new head's"
        )
        changed = [
            k for k, v in model.state_dict().items() if k in backbone_before and not torch.equal(v, backbone_before[k])
        ]
        assert not changed, f"the backbone's weights changed (e.g. {changed[0]}): only the head should be new"
        with torch.no_grad():
            out = model.eval()(torch.randn(1, 3, 32, 32, dtype=dtype))
        assert out.shape == (1, n), f"the model now returns {shape_of(out)} for one image, expected [1, {n}]"


def _bn_layers(model: nn.Module) -> tuple[list[str], list[str]]:
    """Names of the frozen and of the trainable BatchNorm layers."""
    frozen, trainable = [], []
    for name, m in model.named_modules():
        if isinstance(m, _BN):
            (trainable if any(p.requires_grad for p in m.parameters()) else frozen).append(name)
    return frozen, trainable


def _head_only_fixtures():
    """(model, batch): heads with dropout named fc or classifier, and one model whose last stage trains too."""
    resnet = _resnet18()
    resnet.fc = nn.Sequential(nn.Dropout(0.5), nn.Linear(512, 5))
    for name, p in resnet.named_parameters():
        p.requires_grad_(name.startswith("fc."))
    mobilenet = _mobilenet()
    for name, p in mobilenet.named_parameters():
        p.requires_grad_(name.startswith("classifier."))
    partly = _resnet18()
    partly.fc = nn.Sequential(nn.Dropout(0.5), nn.Linear(512, 5))
    for name, p in partly.named_parameters():
        p.requires_grad_(name.startswith(("fc.", "layer4.")))
    return [resnet, mobilenet, partly]


@exercise(
    "04.2",
    "train_head_only_mode(model): training mode for a model whose backbone is frozen, without the BatchNorm pitfall",
    hint="Module.train() and .eval() set the mode of a module and of all its children, so the order of the calls "
    "matters. Walk model.modules() and look at each BatchNorm layer's own parameters.",
)
def _check_bn_fix(train_head_only_mode) -> None:
    for model in _head_only_fixtures():
        model.eval()
        grads = {name: p.requires_grad for name, p in model.named_parameters()}
        frozen, trainable = _bn_layers(model)
        stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
        out = train_head_only_mode(model)
        assert out is None or out is model, "change the model you were given (in place) and return it, not a copy"
        assert {n: p.requires_grad for n, p in model.named_parameters()} == grads, (
            "requires_grad changed: leave the frozen parameters frozen and change only the modes"
        )
        modules = dict(model.named_modules())
        untracked = [n for n in frozen if not modules[n].track_running_stats]
        assert not untracked, (
            f"track_running_stats was switched off ({untracked[0]}): in train mode such a layer normalises with "
            "each batch's statistics instead of the pretrained ones; eval mode is what keeps them"
        )
        assert model.training, (
            "the model itself is in eval mode (model.training is False): training mode is the "
            "starting point, with only the frozen BatchNorm layers switched to eval"
        )
        drift = [n for n in frozen if modules[n].training]
        assert len(drift) < len(frozen), (
            "the frozen BatchNorm layers are in train mode, so every forward pass "
            "overwrites their running statistics: that is the pitfall itself"
        )
        assert not drift, (
            f"{len(drift)} of {len(frozen)} frozen BatchNorm layers are still in train mode "
            f"(e.g. {drift[0]}): every frozen one must be in eval mode, not only some"
        )
        dropouts = [n for n, m in modules.items() if isinstance(m, nn.Dropout)]
        off = [n for n in dropouts if not modules[n].training]
        assert not off, f"the head's dropout ({off[0]}) is in eval mode: it must stay active while training"
        wrongly_frozen = [n for n in trainable if not modules[n].training]
        assert not wrongly_frozen, (
            f"{wrongly_frozen[0]} is in eval mode although its parameters train: only the frozen BatchNorm layers "
            "(no parameter with requires_grad) belong in eval mode"
        )
        idle = [n for n, m in modules.items() if n and not m.training and n not in frozen]
        assert not idle, (
            f"{idle[0]} is in eval mode: everything except the frozen BatchNorm layers should be in training mode"
        )
        model(torch.randn(4, 3, 64, 64) * 2 + 1)
        moved = [
            k
            for k, v in model.state_dict().items()
            if k in stats and k.rsplit(".", 1)[0] in frozen and not torch.equal(v, stats[k])
        ]
        assert not moved, (
            f"running statistics of frozen BatchNorm layers changed during a forward pass (e.g. {moved[0]})"
        )


def _check_optimizer(
    opt: object, model: nn.Module, head: nn.Module, head_lr: float, backbone_lr: float, weight_decay: float
) -> None:
    assert isinstance(opt, torch.optim.Optimizer), f"return the optimizer itself, got {type(opt).__name__}"
    kind = type(opt).__name__
    assert type(opt) is not torch.optim.Adam, (
        "torch.optim.Adam adds weight_decay to the gradient (L2), so adaptive scaling weakens it; "
        "AdamW decays the weights directly (decoupled): build torch.optim.AdamW"
    )
    assert type(opt) is torch.optim.AdamW, f"you built torch.optim.{kind}; the task asks for torch.optim.AdamW"
    names = {id(p): name for name, p in model.named_parameters()}
    head_ids = {id(p) for p in head.parameters()}
    where: dict[int, dict] = {}
    for group in opt.param_groups:
        for p in group["params"]:
            where[id(p)] = group
    missing = [names[i] for i in names if i not in where]
    assert not missing, (
        f"{len(missing)} parameters are in no group (e.g. {missing[:2]}): full fine-tuning "
        "trains the backbone too, at backbone_lr"
    )
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    assert not frozen, (
        f"{len(frozen)} parameters still have requires_grad=False (e.g. {frozen[0]}): they are in the "
        "optimizer but never get a gradient; make every parameter trainable"
    )
    head_lrs = {where[i]["lr"] for i in names if i in head_ids}
    backbone_lrs = {where[i]["lr"] for i in names if i not in head_ids}
    assert not (head_lrs == {backbone_lr} and backbone_lrs == {head_lr}), (
        f"the two learning rates are swapped: the head trains at {backbone_lr:g} and the backbone at {head_lr:g}"
    )
    assert not (len(head_lrs | backbone_lrs) == 1 and head_lr != backbone_lr), (
        f"every parameter trains at lr {head_lrs.pop():g}: the head and the backbone need a group each, with their own lr"
    )
    for i, name in names.items():
        group, is_head = where[i], i in head_ids
        want = head_lr if is_head else backbone_lr
        fixed = " — use the arguments, not fixed numbers" if group["lr"] in (1e-3, 1e-4, 1e-5) else ""
        assert group["lr"] == want, (
            f"{'head' if is_head else 'backbone'} parameter {name} has lr {group['lr']:g}, expected {want:g}{fixed}"
        )
        flat = model.get_parameter(name).ndim < 2
        if flat:
            assert group["weight_decay"] == 0, (
                f"{name} is {model.get_parameter(name).ndim}-D (a bias or a normalisation parameter) and has "
                f"weight_decay {group['weight_decay']:g}: the rule gives 1-D tensors weight_decay 0 (their names "
                "do not all end in 'bias': tell them apart by p.ndim)"
            )
        else:
            assert group["weight_decay"] == weight_decay, (
                f"{name} ({model.get_parameter(name).ndim}-D) has weight_decay {group['weight_decay']:g}, expected "
                f"{weight_decay:g}: pass the argument to the groups of tensors with ndim >= 2 (AdamW's default is 0.01)"
            )


@exercise(
    "04.3",
    "make_optimizer(model, head, head_lr, backbone_lr, weight_decay): AdamW for full fine-tuning, "
    "head at head_lr, every other parameter at backbone_lr; weight_decay on ndim >= 2, none on biases and norms",
    hint="torch.optim.AdamW accepts a list of dicts, one per parameter group, each with its own 'lr' and "
    "'weight_decay': four groups (head or backbone, times decayed or not). Tell parameters apart by identity "
    "(id(p)), not with ==, and decayed from undecayed by p.ndim.",
)
def _check_optimizer_groups(make_optimizer) -> None:
    resnet = _resnet18()
    resnet.fc = nn.Linear(512, 5)
    resnet.requires_grad_(False)
    resnet.fc.requires_grad_(True)  # as after the frozen-backbone stage
    mobilenet = _mobilenet()
    for model, head, args in (
        (resnet, resnet.fc, (1e-3, 1e-5, 0.01)),
        (mobilenet, mobilenet.classifier, (3e-3, 2e-5, 0.05)),
    ):
        opt = make_optimizer(model, head, *args)
        _check_optimizer(opt, model, head, *args)


def _expected_counts(logits: torch.Tensor, targets: torch.Tensor, c: int) -> torch.Tensor:
    return torch.bincount(targets * c + logits.argmax(1), minlength=c * c).reshape(c, c)


def _confusion_cases():
    """As many images as classes (so the arg-max dimension matters), a class nobody has, a batch of one."""
    g = torch.Generator().manual_seed(4)
    square = 3 * nn.functional.one_hot(torch.tensor([4, 0, 0, 3, 2]), 5) + 0.1 * torch.randn(5, 5, generator=g)
    logits = torch.randn(9, 4, generator=g)
    logits[:, 3] -= 10  # nobody is predicted as class 3 …
    targets = torch.tensor([0, 0, 1, 1, 1, 2, 2, 0, 1])  # … and no image is of class 3
    return [
        (square, torch.tensor([4, 4, 0, 1, 2]), 5),
        (logits, targets, 4),
        (torch.randn(1, 3, generator=g), torch.tensor([2]), 3),
    ]


@exercise(
    "04.4",
    "confusion_counts(logits, targets, num_classes): the [num_classes, num_classes] confusion matrix, "
    "row = true class, column = predicted class",
    hint="Each image adds 1 at [true class, predicted class], and the classes are dimension 1 of the logits. "
    "Look up torch.bincount and its minlength; leave the inputs as they were.",
)
def _check_confusion(confusion_counts) -> None:
    for logits, targets, c in _confusion_cases():
        logits_in, targets_in = logits.clone(), targets.clone()
        out = tensor_or_fail(confusion_counts(logits_in, targets_in, c), "confusion_counts's result")
        assert torch.equal(logits_in, logits) and torch.equal(targets_in, targets), (
            "your function changed its inputs in place (logits or targets differ after the call): "
            "compute with out-of-place operations or on a copy"
        )
        want = _expected_counts(logits, targets, c)
        assert out.shape == (c, c), (
            f"the matrix is {shape_of(out)} for num_classes={c} and a batch of {len(targets)}: a class that never "
            "occurs still needs its row and column; size it from num_classes"
        )
        assert out.device == logits.device, f"the matrix is on {out.device}, the logits on {logits.device}"
        assert not out.is_floating_point() or bool((out == out.round()).all()), (
            "the matrix holds fractions: it should count images (whole numbers), not normalise rows or add "
            "probabilities"
        )
        got = out.long()
        assert not (got.sum() < len(targets) and torch.equal(got, (want > 0).long())), (
            "every [true, predicted] pair is counted once however often it occurs: `counts[t, p] += 1` with index "
            "tensors does not add up repeated pairs; accumulate them (bincount, or index_put_ with accumulate=True)"
        )
        assert got.sum() == len(targets), (
            f"the counts add up to {got.sum().item()} but there are {len(targets)} images: each image adds exactly one"
        )
        if torch.equal(got, want):
            continue
        assert not torch.equal(got, want.T), (
            "rows and columns are swapped: row i is the true class i, column j the prediction j"
        )
        if logits.shape[0] == c:
            over_batch = torch.bincount(targets * c + logits.argmax(0), minlength=c * c).reshape(c, c)
            assert not torch.equal(got, over_batch), (
                "the predictions were taken over the batch (argmax over dimension 0); the classes are dimension 1"
            )
        raise AssertionError(
            f"for a batch of {len(targets)} the counts differ from the expected ones: got "
            f"{got.tolist()}, expected {want.tolist()} (row = true class, column = arg-max of the logits)"
        )
