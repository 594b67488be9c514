"""Reference solutions for notebook 07, and typical wrong answers the checkers must reject."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["SOLUTIONS", "WRONG", "make_optimizer", "record_input", "run", "to_input", "to_rgb"]


def to_input(bgr, mean, std):
    x = torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1).float() / 255
    return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


def to_rgb(t):
    if t.shape[0] == 1:
        return t.expand(3, -1, -1)
    if t.shape[0] == 4:
        rgb, alpha = t[:3], t[3:]
        return rgb * alpha + (1 - alpha)
    return t


def make_optimizer(model, lr, weight_decay):
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr
    )


def record_input(model, layer, x):
    saved = {}
    handle = layer.register_forward_pre_hook(lambda module, inputs: saved.update(x=inputs[0].detach().clone()))
    try:
        with torch.inference_mode():
            model(x)
    finally:
        handle.remove()
    return saved["x"]


def run(model, x):
    p = next(model.parameters())
    model.eval()
    with torch.inference_mode():
        return model(x.to(p.device, p.dtype)).cpu()


# ----------------------------------------------------------------------------- typical wrong answers

_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _to_input_bgr(bgr, mean, std):
    x = torch.from_numpy(bgr).permute(2, 0, 1).float() / 255
    return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


def _to_input_0_255(bgr, mean, std):
    x = torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1).float()
    return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


def _to_input_hwc(bgr, mean, std):
    x = torch.from_numpy(bgr[..., ::-1].copy()).float() / 255
    return (x - torch.tensor(mean)) / torch.tensor(std)


def _to_input_fixed_imagenet(bgr, mean, std):
    return to_input(bgr, _IMAGENET_MEAN, _IMAGENET_STD)


def _to_input_flip_rows(bgr, mean, std):
    x = torch.from_numpy(bgr[::-1].copy()).permute(2, 0, 1).float() / 255
    return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


def _to_input_numpy_float64(bgr, mean, std):
    x = (bgr[..., ::-1] / 255 - np.array(mean)) / np.array(std)
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


def _to_input_permute_hw_swapped(bgr, mean, std):
    x = torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 1, 0).float() / 255
    return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


def _to_rgb_slice(t):
    return t[:3]


def _to_rgb_drop_alpha(t):
    return t.expand(3, -1, -1) if t.shape[0] == 1 else t[:3]


def _to_rgb_on_black(t):
    if t.shape[0] == 1:
        return t.expand(3, -1, -1)
    return t[:3] * t[3:] if t.shape[0] == 4 else t


def _to_rgb_in_place(t):
    if t.shape[0] == 1:
        return t.expand(3, -1, -1)
    if t.shape[0] == 4:
        rgb, alpha = t[:3], t[3:]
        return rgb.mul_(alpha).add_(1 - alpha)
    return t


def _to_rgb_inverted_alpha(t):
    if t.shape[0] == 1:
        return t.expand(3, -1, -1)
    if t.shape[0] == 4:
        return t[:3] * (1 - t[3:]) + t[3:]
    return t


def _to_rgb_everything_grey(t):
    return t[:3].mean(dim=0, keepdim=True).expand(3, -1, -1)


def _make_optimizer_all(model, lr, weight_decay):
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)


def _make_optimizer_decay_everything(model, lr, weight_decay):
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)


def _groups(model, weight_decay):
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]


def _make_optimizer_sgd(model, lr, weight_decay):
    return torch.optim.SGD(_groups(model, weight_decay), lr=lr, momentum=0.9)


def _make_optimizer_adam(model, lr, weight_decay):
    return torch.optim.Adam(_groups(model, weight_decay), lr=lr)


def _make_optimizer_hard_coded(model, lr, weight_decay):
    return torch.optim.AdamW(_groups(model, 0.05), lr=1e-3)


def _make_optimizer_bias_by_name(model, lr, weight_decay):
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return torch.optim.AdamW(
        [
            {"params": [p for n, p in named if not n.endswith("bias")], "weight_decay": weight_decay},
            {"params": [p for n, p in named if n.endswith("bias")], "weight_decay": 0.0},
        ],
        lr=lr,
    )


def _make_optimizer_groups_swapped(model, lr, weight_decay):
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(
        [
            {"params": [p for p in params if p.ndim < 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.ndim >= 2], "weight_decay": 0.0},
        ],
        lr=lr,
    )


def _make_optimizer_lr_in_first_group_only(model, lr, weight_decay):
    groups = _groups(model, weight_decay)
    groups[0]["lr"] = lr
    return torch.optim.AdamW(groups)


def _record_input_as_given(model, layer, x):  # the buggy original of the notebook
    saved = {}
    layer.register_forward_hook(lambda module, inputs, output: saved.update(x=inputs[0]))
    model(x)
    return saved["x"]


def _record_input_forward_hook_clone(model, layer, x):
    saved = {}
    handle = layer.register_forward_hook(lambda module, inputs, output: saved.update(x=inputs[0].detach().clone()))
    try:
        with torch.inference_mode():
            model(x)
    finally:
        handle.remove()
    return saved["x"]


def _record_input_no_clone(model, layer, x):
    saved = {}
    handle = layer.register_forward_pre_hook(lambda module, inputs: saved.update(x=inputs[0].detach()))
    try:
        with torch.inference_mode():
            model(x)
    finally:
        handle.remove()
    return saved["x"]


def _record_input_hook_left(model, layer, x):
    saved = {}
    layer.register_forward_pre_hook(lambda module, inputs: saved.update(x=inputs[0].detach().clone()))
    with torch.inference_mode():
        model(x)
    return saved["x"]


def _record_input_no_finally(model, layer, x):
    saved = {}
    handle = layer.register_forward_pre_hook(lambda module, inputs: saved.update(x=inputs[0].detach().clone()))
    with torch.inference_mode():
        model(x)
    handle.remove()
    return saved["x"]


def _record_input_clears_hooks(model, layer, x):
    saved = {}
    layer.register_forward_pre_hook(lambda module, inputs: saved.update(x=inputs[0].detach().clone()))
    try:
        with torch.inference_mode():
            model(x)
    finally:
        layer._forward_pre_hooks.clear()
    return saved["x"]


def _record_input_keeps_graph(model, layer, x):
    saved = {}
    handle = layer.register_forward_pre_hook(lambda module, inputs: saved.update(x=inputs[0].clone()))
    try:
        model(x)
    finally:
        handle.remove()
    return saved["x"]


def _record_input_fixed_layer(model, layer, x):
    return record_input(model, model.act, x)


def _run_no_move(model, x):
    model.eval()
    with torch.inference_mode():
        return model(x).cpu()


def _run_train_mode(model, x):
    p = next(model.parameters())
    with torch.inference_mode():
        return model(x.to(p.device, p.dtype)).cpu()


def _run_detach(model, x):
    p = next(model.parameters())
    model.eval()
    return model(x.to(p.device, p.dtype)).detach().cpu()


def _run_no_grad(model, x):
    p = next(model.parameters())
    model.eval()
    with torch.no_grad():
        return model(x.to(p.device, p.dtype)).cpu()


def _run_float_always(model, x):
    p = next(model.parameters())
    model.eval()
    with torch.inference_mode():
        return model.float()(x.to(p.device).float()).cpu()


def _run_eval_without_call(model, x):
    p = next(model.parameters())
    model.eval  # noqa: B018 - the parentheses are missing
    with torch.inference_mode():
        return model(x.to(p.device, p.dtype)).cpu()


def _run_moves_model(model, x):
    model.to(x.device, x.dtype).eval()
    with torch.inference_mode():
        return model(x).cpu()


SOLUTIONS = {"07.1": to_input, "07.2": to_rgb, "07.3": make_optimizer, "07.4": record_input, "07.5": run}
WRONG = {
    "07.1": [
        _to_input_bgr,
        _to_input_0_255,
        _to_input_hwc,
        _to_input_fixed_imagenet,
        _to_input_flip_rows,
        _to_input_numpy_float64,
        _to_input_permute_hw_swapped,
    ],
    "07.2": [
        _to_rgb_slice,
        _to_rgb_drop_alpha,
        _to_rgb_on_black,
        _to_rgb_in_place,
        _to_rgb_inverted_alpha,
        _to_rgb_everything_grey,
    ],
    "07.3": [
        _make_optimizer_all,
        _make_optimizer_decay_everything,
        _make_optimizer_sgd,
        _make_optimizer_adam,
        _make_optimizer_hard_coded,
        _make_optimizer_bias_by_name,
        _make_optimizer_groups_swapped,
        _make_optimizer_lr_in_first_group_only,
    ],
    "07.4": [
        _record_input_as_given,
        _record_input_forward_hook_clone,
        _record_input_no_clone,
        _record_input_hook_left,
        _record_input_no_finally,
        _record_input_clears_hooks,
        _record_input_keeps_graph,
        _record_input_fixed_layer,
    ],
    "07.5": [
        _run_no_move,
        _run_train_mode,
        _run_detach,
        _run_no_grad,
        _run_float_always,
        _run_eval_without_call,
        _run_moves_model,
    ],
}
