"""Reference solutions for notebook 03, and typical wrong answers the checkers must reject."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

__all__ = ["SOLUTIONS", "WRONG", "cam_from", "headless", "layer_output", "nearest"]


def headless(model):
    return nn.Sequential(*list(model.children())[:-1], nn.Flatten(1))


def layer_output(model, module, x):
    store = {}
    handle = module.register_forward_hook(lambda m, inputs, output: store.__setitem__("out", output.detach().clone()))
    try:
        with torch.inference_mode():
            model(x)
    finally:
        handle.remove()
    return store["out"]


def nearest(query, gallery):
    sims = F.normalize(gallery, dim=-1) @ F.normalize(query, dim=-1)
    return int(sims.argmax())


def cam_from(acts, grads):
    weights = grads.mean(dim=(1, 2))
    return torch.relu((weights[:, None, None] * acts).sum(dim=0))


# ----------------------------------------------------------------------------- typical wrong answers


def _headless_no_pool(model):
    return nn.Sequential(*list(model.children())[:-2])


def _headless_no_flatten(model):
    return nn.Sequential(*list(model.children())[:-1])


def _headless_in_place(model):
    model.fc = nn.Identity()
    return model


class _Squeezed(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return self.body(x).squeeze()


def _headless_squeeze(model):
    return _Squeezed(nn.Sequential(*list(model.children())[:-1]))


def _headless_new_network(model):
    fresh = resnet18()
    return nn.Sequential(*list(fresh.children())[:-1], nn.Flatten(1))


def _headless_max_pool(model):
    return nn.Sequential(*list(model.children())[:-2], nn.AdaptiveMaxPool2d(1), nn.Flatten(1))


def _headless_flatten_all(model):
    return nn.Sequential(*list(model.children())[:-1], nn.Flatten(0))


def _layer_output_no_clone(model, module, x):
    store = {}
    handle = module.register_forward_hook(lambda m, inputs, output: store.__setitem__("out", output.detach()))
    with torch.no_grad():
        model(x)
    handle.remove()
    return store["out"]


def _layer_output_never_removed(model, module, x):
    store = {}
    module.register_forward_hook(lambda m, inputs, output: store.__setitem__("out", output.detach().clone()))
    with torch.no_grad():
        model(x)
    return store["out"]


def _layer_output_no_finally(model, module, x):
    store = {}
    handle = module.register_forward_hook(lambda m, inputs, output: store.__setitem__("out", output.detach().clone()))
    with torch.no_grad():
        model(x)
    handle.remove()
    return store["out"]


def _layer_output_input_instead(model, module, x):
    store = {}
    handle = module.register_forward_hook(
        lambda m, inputs, output: store.__setitem__("out", inputs[0].detach().clone())
    )
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return store["out"]


def _layer_output_clears_all_hooks(model, module, x):
    store = {}
    module.register_forward_hook(lambda m, inputs, output: store.__setitem__("out", output.detach().clone()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for m in model.modules():
            m._forward_hooks.clear()
            m._forward_pre_hooks.clear()
    return store["out"]


def _layer_output_keeps_graph(model, module, x):
    store = {}
    handle = module.register_forward_hook(lambda m, inputs, output: store.__setitem__("out", output.clone()))
    try:
        model(x)
    finally:
        handle.remove()
    return store["out"]


def _layer_output_ignores_module(model, module, x):
    return layer_output(model, model.bn, x)


def _nearest_dot(query, gallery):
    return int((gallery @ query).argmax())


def _nearest_euclidean(query, gallery):
    return int((gallery - query).norm(dim=-1).argmin())


def _nearest_argmin(query, gallery):
    return int((F.normalize(gallery, dim=-1) @ F.normalize(query, dim=-1)).argmin())


def _nearest_abs(query, gallery):
    return int((F.normalize(gallery, dim=-1) @ F.normalize(query, dim=-1)).abs().argmax())


def _nearest_normalise_dim0(query, gallery):
    return int((F.normalize(gallery, dim=0) @ F.normalize(query, dim=0)).argmax())


def _nearest_in_place(query, gallery):
    gallery /= gallery.norm(dim=1, keepdim=True)
    query /= query.norm()
    return int((gallery @ query).argmax())


def _nearest_returns_scores(query, gallery):
    return F.normalize(gallery, dim=-1) @ F.normalize(query, dim=-1)


def _cam_no_relu(acts, grads):
    return (grads.mean(dim=(1, 2))[:, None, None] * acts).sum(dim=0)


def _cam_pixelwise(acts, grads):
    return torch.relu((grads * acts).sum(dim=0))


def _cam_sum_weights(acts, grads):
    return torch.relu((grads.sum(dim=(1, 2))[:, None, None] * acts).sum(dim=0))


def _cam_abs(acts, grads):
    return (grads.mean(dim=(1, 2))[:, None, None] * acts).sum(dim=0).abs()


def _cam_normalised(acts, grads):
    cam = cam_from(acts, grads)
    return cam / cam.max()


def _cam_relu_per_channel(acts, grads):
    return torch.relu(grads.mean(dim=(1, 2))[:, None, None] * acts).sum(dim=0)


def _cam_keepdim(acts, grads):
    return torch.relu((grads.mean(dim=(1, 2), keepdim=True) * acts).sum(dim=0, keepdim=True))


def _cam_in_place(acts, grads):
    acts *= grads.mean(dim=(1, 2))[:, None, None]
    return torch.relu(acts.sum(dim=0))


SOLUTIONS = {"03.1": headless, "03.2": layer_output, "03.3": nearest, "03.4": cam_from}
WRONG = {
    "03.1": [
        _headless_no_pool,
        _headless_no_flatten,
        _headless_in_place,
        _headless_squeeze,
        _headless_new_network,
        _headless_max_pool,
        _headless_flatten_all,
    ],
    "03.2": [
        _layer_output_no_clone,
        _layer_output_never_removed,
        _layer_output_no_finally,
        _layer_output_input_instead,
        _layer_output_clears_all_hooks,
        _layer_output_keeps_graph,
        _layer_output_ignores_module,
    ],
    "03.3": [
        _nearest_dot,
        _nearest_euclidean,
        _nearest_argmin,
        _nearest_abs,
        _nearest_normalise_dim0,
        _nearest_in_place,
        _nearest_returns_scores,
    ],
    "03.4": [
        _cam_no_relu,
        _cam_pixelwise,
        _cam_sum_weights,
        _cam_abs,
        _cam_normalised,
        _cam_relu_per_channel,
        _cam_keepdim,
        _cam_in_place,
    ],
}
