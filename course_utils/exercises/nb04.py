"""Checkers for notebook 04 (fine-tuning)."""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from . import exercise


def _resnet18() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None)


@exercise("04.1", "new_head_frozen(model, num_classes): give a ResNet a fresh num_classes head and freeze everything else",
          hint="model.fc = nn.Linear(model.fc.in_features, num_classes); set requires_grad=False on every other "
               "parameter (freeze first, then replace, or skip the new fc's parameters).")
def _check_new_head_frozen(new_head_frozen) -> None:
    for n in (5, 3):
        model = _resnet18()
        out = new_head_frozen(model, n)
        model = out if isinstance(out, nn.Module) else model
        assert isinstance(model.fc, nn.Linear), f"model.fc should be an nn.Linear, got {type(model.fc).__name__}"
        assert model.fc.in_features == 512 and model.fc.out_features == n, (
            f"model.fc should map 512 → {n} features, got {model.fc.in_features} → {model.fc.out_features}")
        trainable = {name for name, p in model.named_parameters() if p.requires_grad}
        assert trainable, "nothing is trainable: the new head must keep requires_grad=True"
        assert trainable == {"fc.weight", "fc.bias"}, (
            f"only fc.weight and fc.bias should be trainable, but {len(trainable)} tensors are "
            f"(e.g. {sorted(trainable - {'fc.weight', 'fc.bias'})[:2]}): freeze the backbone")
        assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 512 * n + n


@exercise("04.3", "make_param_groups(model, head_lr, backbone_lr): AdamW parameter groups, head at head_lr, the rest at backbone_lr",
          hint="Two dicts: {'params': model.fc.parameters(), 'lr': head_lr} and one with every parameter whose name "
               "does not start with 'fc.' at backbone_lr. Each parameter must be in exactly one group.")
def _check_param_groups(make_param_groups) -> None:
    model = _resnet18()
    model.fc = nn.Linear(512, 5)
    groups = make_param_groups(model, 1e-3, 1e-5)
    assert isinstance(groups, (list, tuple)) and all(isinstance(g, dict) for g in groups), "return a list of dicts"
    groups = [dict(g, params=list(g["params"])) for g in groups]
    seen: dict[int, float] = {}
    for g in groups:
        assert "lr" in g, "every group needs its own 'lr'"
        for p in g["params"]:
            assert id(p) not in seen, "a parameter appears in two groups (AdamW refuses that): exclude fc from the backbone group"
            seen[id(p)] = g["lr"]
    names = {id(p): name for name, p in model.named_parameters()}
    missing = [names[i] for i in names if i not in seen]
    assert not missing, f"{len(missing)} parameters are in no group (e.g. {missing[:2]}): they would never train"
    for i, name in names.items():
        want = 1e-3 if name.startswith("fc.") else 1e-5
        assert seen[i] == want, f"{name} has lr {seen[i]}, expected {want} (head 1e-3, backbone 1e-5)"
    torch.optim.AdamW(groups)


@exercise("04.2", "train_head_only_mode(model): training mode for a model whose backbone is frozen, without the BatchNorm pitfall",
          hint="model.train(), then .eval() on every nn.BatchNorm2d whose parameters are frozen "
               "(requires_grad False): eval BN uses, and keeps, its running statistics.")
def _check_bn_fix(train_head_only_mode) -> None:
    model = _resnet18()
    model.fc = nn.Sequential(nn.Dropout(0.5), nn.Linear(512, 5))
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("fc."))
    model.eval()
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    train_head_only_mode(model)
    model(torch.randn(4, 3, 32, 32) * 2 + 1)
    changed = [k for k, v in model.state_dict().items() if "running" in k and not torch.equal(v, stats[k])]
    assert not changed, (f"{len(changed)} BatchNorm running statistics changed (e.g. {changed[0]}): frozen BN layers "
                         "must be in eval mode")
    assert model.fc.training, "the head must be in train mode (its dropout should be active)"
    assert all(p.requires_grad == n.startswith("fc.") for n, p in model.named_parameters()), (
        "do not change requires_grad: only the modes of the BatchNorm layers")
    bn_modes = {m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d)}
    assert bn_modes == {False}, "every frozen BatchNorm layer should be in eval mode"
