"""Reference solutions for notebook 04, and typical wrong answers the checkers must reject."""

from __future__ import annotations

from torch import nn


def new_head_frozen(model, num_classes):
    for p in model.parameters():
        p.requires_grad = False
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def make_param_groups(model, head_lr, backbone_lr):
    head = list(model.fc.parameters())
    backbone = [p for name, p in model.named_parameters() if not name.startswith("fc.")]
    return [{"params": head, "lr": head_lr}, {"params": backbone, "lr": backbone_lr}]


def train_head_only_mode(model):
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d) and not any(p.requires_grad for p in m.parameters()):
            m.eval()
    return model


def _head_not_frozen(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def _frozen_after_replacing(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    for p in model.parameters():
        p.requires_grad = False
    return model


def _groups_overlap(model, head_lr, backbone_lr):
    return [{"params": list(model.fc.parameters()), "lr": head_lr},
            {"params": list(model.parameters()), "lr": backbone_lr}]


def _groups_swapped(model, head_lr, backbone_lr):
    return make_param_groups(model, backbone_lr, head_lr)


def _only_head_group(model, head_lr, backbone_lr):
    return [{"params": list(model.fc.parameters()), "lr": head_lr}]


def _train_mode_only(model):
    return model.train()


def _eval_everything(model):
    return model.eval()


SOLUTIONS = {"04.1": new_head_frozen, "04.3": make_param_groups, "04.2": train_head_only_mode}
WRONG = {
    "04.1": [_head_not_frozen, _frozen_after_replacing],
    "04.3": [_groups_overlap, _groups_swapped, _only_head_group],
    "04.2": [_train_mode_only, _eval_everything],
}
