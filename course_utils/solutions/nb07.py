"""Reference solutions for notebook 07, and typical wrong answers the checkers must reject."""

from __future__ import annotations

import torch


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
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr)


def run(model, x):
    p = next(model.parameters())
    model.eval()
    with torch.inference_mode():
        return model(x.to(p.device, p.dtype)).cpu()


def record(model, layer, x):
    saved = {}
    handle = layer.register_forward_hook(lambda module, inputs, output: saved.update(out=output.detach().clone()))
    try:
        with torch.inference_mode():
            model(x)
    finally:
        handle.remove()
    return saved["out"]


def _to_input_bgr(bgr, mean, std):
    x = torch.from_numpy(bgr).permute(2, 0, 1).float() / 255
    return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


def _to_input_0_255(bgr, mean, std):
    x = torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1).float()
    return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


def _to_input_hwc(bgr, mean, std):
    x = torch.from_numpy(bgr[..., ::-1].copy()).float() / 255
    return (x - torch.tensor(mean)) / torch.tensor(std)


def _to_rgb_slice(t):
    return t[:3]


def _to_rgb_drop_alpha(t):
    return t.expand(3, -1, -1) if t.shape[0] == 1 else t[:3]


def _make_optimizer_all(model, lr, weight_decay):
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)


def _make_optimizer_decay_everything(model, lr, weight_decay):
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)


def _run_no_move(model, x):
    model.eval()
    with torch.inference_mode():
        return model(x).cpu()


def _run_train_mode(model, x):
    p = next(model.parameters())
    with torch.inference_mode():
        return model(x.to(p.device, p.dtype)).cpu()


def _record_no_clone(model, layer, x):
    saved = {}
    handle = layer.register_forward_hook(lambda module, inputs, output: saved.update(out=output.detach()))
    with torch.inference_mode():
        model(x)
    handle.remove()
    return saved["out"]


def _record_hook_left(model, layer, x):
    saved = {}
    layer.register_forward_hook(lambda module, inputs, output: saved.update(out=output.detach().clone()))
    with torch.inference_mode():
        model(x)
    return saved["out"]


SOLUTIONS = {"07.1": to_input, "07.2": to_rgb, "07.3": make_optimizer, "07.4": run, "07.5": record}
WRONG = {
    "07.1": [_to_input_bgr, _to_input_0_255, _to_input_hwc],
    "07.2": [_to_rgb_slice, _to_rgb_drop_alpha],
    "07.3": [_make_optimizer_all, _make_optimizer_decay_everything],
    "07.4": [_run_no_move, _run_train_mode],
    "07.5": [_record_no_clone, _record_hook_left],
}
