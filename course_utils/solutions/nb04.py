"""Reference solutions for notebook 04, and typical wrong answers the checkers must reject."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SOLUTIONS", "WRONG", "confusion_counts", "make_optimizer", "new_head_frozen", "train_head_only_mode"]

# ---------------------------------------------------------------- 04.1 a new head on a frozen ResNet


def new_head_frozen(model, num_classes):
    for p in model.parameters():
        p.requires_grad = False
    old = model.fc
    model.fc = nn.Linear(old.in_features, num_classes, device=old.weight.device, dtype=old.weight.dtype)
    return model


def _head_not_frozen(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes).to(model.fc.weight)
    return model


def _frozen_after_replacing(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes).to(model.fc.weight)
    for p in model.parameters():
        p.requires_grad = False
    return model


def _five_classes_hard_coded(model, num_classes):
    for p in model.parameters():
        p.requires_grad = False
    model.fc = nn.Linear(model.fc.in_features, 5).to(model.fc.weight)
    return model


def _resnet50_width_hard_coded(model, num_classes):
    for p in model.parameters():
        p.requires_grad = False
    model.fc = nn.Linear(2048, num_classes).to(model.fc.weight)
    return model


def _only_convs_frozen(model, num_classes):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.requires_grad = False
    model.fc = nn.Linear(model.fc.in_features, num_classes).to(model.fc.weight)
    return model


def _out_features_edited(model, num_classes):
    for p in model.parameters():
        p.requires_grad = False
    model.fc.out_features = num_classes
    model.fc.requires_grad_(True)
    return model


def _head_left_on_default_device(model, num_classes):
    for p in model.parameters():
        p.requires_grad = False
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def _head_without_bias(model, num_classes):
    for p in model.parameters():
        p.requires_grad = False
    model.fc = nn.Linear(model.fc.in_features, num_classes, bias=False).to(model.fc.weight)
    return model


# ---------------------------------------------------------------- 04.2 train mode without the BatchNorm pitfall


def train_head_only_mode(model):
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not any(p.requires_grad for p in m.parameters()):
            m.eval()
    return model


def _train_mode_only(model):
    return model.train()


def _eval_everything(model):
    return model.eval()


def _first_bn_only(model):
    model.train()
    model.bn1.eval()
    return model


def _every_bn_eval(model):
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    return model


def _eval_then_dropout_train(model):
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.train()
    return model


def _stop_tracking_stats(model):
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d) and not m.weight.requires_grad:
            m.track_running_stats = False
    return model


def _unfreeze_and_train(model):
    model.requires_grad_(True)
    return model.train()


def _eval_all_but_fc(model):
    model.eval()
    model.fc.train()
    return model


# ---------------------------------------------------------------- 04.3 AdamW with two parameter groups


def make_optimizer(model, head, head_lr, backbone_lr, weight_decay):
    model.requires_grad_(True)
    head_ids = {id(p) for p in head.parameters()}
    groups = []
    for lr, params in (
        (head_lr, list(head.parameters())),
        (backbone_lr, [p for p in model.parameters() if id(p) not in head_ids]),
    ):
        groups.append({"params": [p for p in params if p.ndim >= 2], "lr": lr, "weight_decay": weight_decay})
        groups.append({"params": [p for p in params if p.ndim < 2], "lr": lr, "weight_decay": 0.0})
    return torch.optim.AdamW(groups)


def _parts(model, head):
    head_ids = {id(p) for p in head.parameters()}
    return list(head.parameters()), [p for p in model.parameters() if id(p) not in head_ids]


def _split(params, lr, weight_decay):
    return [
        {"params": [p for p in params if p.ndim >= 2], "lr": lr, "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "lr": lr, "weight_decay": 0.0},
    ]


def _groups(model, head, head_lr, backbone_lr, weight_decay):
    h, b = _parts(model, head)
    return _split(h, head_lr, weight_decay) + _split(b, backbone_lr, weight_decay)


def _sgd(model, head, head_lr, backbone_lr, weight_decay):
    model.requires_grad_(True)
    return torch.optim.SGD(_groups(model, head, head_lr, backbone_lr, weight_decay), momentum=0.9)


def _adam_l2(model, head, head_lr, backbone_lr, weight_decay):
    model.requires_grad_(True)
    return torch.optim.Adam(_groups(model, head, head_lr, backbone_lr, weight_decay))


def _lrs_hard_coded(model, head, head_lr, backbone_lr, weight_decay):
    model.requires_grad_(True)
    return torch.optim.AdamW(_groups(model, head, 1e-3, 1e-5, weight_decay))


def _weight_decay_ignored(model, head, head_lr, backbone_lr, weight_decay):
    model.requires_grad_(True)
    h, b = _parts(model, head)
    return torch.optim.AdamW([{"params": h, "lr": head_lr}, {"params": b, "lr": backbone_lr}])


def _decay_everything(model, head, head_lr, backbone_lr, weight_decay):
    model.requires_grad_(True)
    h, b = _parts(model, head)
    return torch.optim.AdamW(
        [{"params": h, "lr": head_lr}, {"params": b, "lr": backbone_lr}], weight_decay=weight_decay
    )


def _no_decay_by_bias_name(model, head, head_lr, backbone_lr, weight_decay):
    model.requires_grad_(True)
    head_ids = {id(p) for p in head.parameters()}
    groups = []
    for lr, in_head in ((head_lr, True), (backbone_lr, False)):
        named = [(n, p) for n, p in model.named_parameters() if (id(p) in head_ids) == in_head]
        groups.append(
            {"params": [p for n, p in named if not n.endswith("bias")], "lr": lr, "weight_decay": weight_decay}
        )
        groups.append({"params": [p for n, p in named if n.endswith("bias")], "lr": lr, "weight_decay": 0.0})
    return torch.optim.AdamW(groups)


def _decay_split_in_backbone_only(model, head, head_lr, backbone_lr, weight_decay):
    model.requires_grad_(True)
    h, b = _parts(model, head)
    return torch.optim.AdamW(
        [{"params": h, "lr": head_lr, "weight_decay": weight_decay}, *_split(b, backbone_lr, weight_decay)]
    )


def _lrs_swapped(model, head, head_lr, backbone_lr, weight_decay):
    return make_optimizer(model, head, backbone_lr, head_lr, weight_decay)


def _backbone_left_frozen(model, head, head_lr, backbone_lr, weight_decay):
    return torch.optim.AdamW(_groups(model, head, head_lr, backbone_lr, weight_decay))


def _one_group(model, head, head_lr, backbone_lr, weight_decay):
    model.requires_grad_(True)
    return torch.optim.AdamW(_split(list(model.parameters()), head_lr, weight_decay))


def _head_group_only(model, head, head_lr, backbone_lr, weight_decay):
    model.requires_grad_(True)
    return torch.optim.AdamW(_split(list(head.parameters()), head_lr, weight_decay))


def _backbone_by_fc_name(model, head, head_lr, backbone_lr, weight_decay):
    model.requires_grad_(True)
    backbone = [p for name, p in model.named_parameters() if not name.startswith("fc.")]
    return torch.optim.AdamW(
        _split(list(head.parameters()), head_lr, weight_decay) + _split(backbone, backbone_lr, weight_decay)
    )


# ---------------------------------------------------------------- 04.4 a confusion matrix


def confusion_counts(logits, targets, num_classes):
    preds = logits.argmax(dim=1)
    counts = torch.zeros(num_classes, num_classes, dtype=torch.long, device=logits.device)
    counts.index_put_((targets, preds), torch.ones_like(targets), accumulate=True)
    return counts


def _rows_are_predictions(logits, targets, num_classes):
    return confusion_counts(logits, targets, num_classes).T


def _argmax_over_batch(logits, targets, num_classes):
    preds = logits.argmax(0)
    counts = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for t, p in zip(targets.tolist(), preds.tolist()):
        counts[t, p] += 1
    return counts


def _classes_from_labels(logits, targets, num_classes):
    preds = logits.argmax(1)
    n = int(max(targets.max(), preds.max())) + 1
    return torch.bincount(targets * n + preds, minlength=n * n).reshape(n, n)


def _squeezed(logits, targets, num_classes):
    preds = logits.squeeze().argmax(1)
    return torch.bincount(targets * num_classes + preds, minlength=num_classes**2).reshape(num_classes, num_classes)


def _targets_changed_in_place(logits, targets, num_classes):
    targets *= num_classes
    targets += logits.argmax(1)
    return torch.bincount(targets, minlength=num_classes**2).reshape(num_classes, num_classes)


def _repeated_pairs_counted_once(logits, targets, num_classes):
    counts = torch.zeros(num_classes, num_classes, dtype=torch.long)
    counts[targets, logits.argmax(1)] += 1
    return counts


def _rows_normalised(logits, targets, num_classes):
    counts = confusion_counts(logits, targets, num_classes).float()
    return counts / counts.sum(1, keepdim=True).clamp(min=1)


def _soft_counts(logits, targets, num_classes):
    return nn.functional.one_hot(targets, num_classes).T.float() @ logits.softmax(1)


SOLUTIONS = {"04.1": new_head_frozen, "04.2": train_head_only_mode, "04.3": make_optimizer, "04.4": confusion_counts}
WRONG = {
    "04.1": [
        _head_not_frozen,
        _frozen_after_replacing,
        _five_classes_hard_coded,
        _resnet50_width_hard_coded,
        _only_convs_frozen,
        _out_features_edited,
        _head_left_on_default_device,
        _head_without_bias,
    ],
    "04.2": [
        _train_mode_only,
        _eval_everything,
        _first_bn_only,
        _every_bn_eval,
        _eval_then_dropout_train,
        _stop_tracking_stats,
        _unfreeze_and_train,
        _eval_all_but_fc,
    ],
    "04.3": [
        _sgd,
        _adam_l2,
        _lrs_hard_coded,
        _weight_decay_ignored,
        _decay_everything,
        _no_decay_by_bias_name,
        _decay_split_in_backbone_only,
        _lrs_swapped,
        _backbone_left_frozen,
        _one_group,
        _head_group_only,
        _backbone_by_fc_name,
    ],
    "04.4": [
        _rows_are_predictions,
        _argmax_over_batch,
        _classes_from_labels,
        _squeezed,
        _targets_changed_in_place,
        _repeated_pairs_counted_once,
        _rows_normalised,
        _soft_counts,
    ],
}
