"""Reference solutions for notebook 03, and typical wrong answers the checkers must reject."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def headless(model):
    return nn.Sequential(*list(model.children())[:-1], nn.Flatten(1))


def layer_output(model, module, x):
    store = {}
    handle = module.register_forward_hook(lambda m, inputs, output: store.__setitem__("out", output.detach().clone()))
    try:
        with torch.no_grad():
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


def _headless_no_pool(model):
    return nn.Sequential(*list(model.children())[:-2])


def _headless_no_flatten(model):
    return nn.Sequential(*list(model.children())[:-1])


def _headless_in_place(model):
    model.fc = nn.Identity()
    return model


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


def _nearest_dot(query, gallery):
    return int((gallery @ query).argmax())


def _nearest_euclidean(query, gallery):
    return int((gallery - query).norm(dim=-1).argmin())


def _nearest_argmin(query, gallery):
    return int((F.normalize(gallery, dim=-1) @ F.normalize(query, dim=-1)).argmin())


def _cam_no_relu(acts, grads):
    return (grads.mean(dim=(1, 2))[:, None, None] * acts).sum(dim=0)


def _cam_pixelwise(acts, grads):
    return torch.relu((grads * acts).sum(dim=0))


def _cam_sum_weights(acts, grads):
    return torch.relu((grads.sum(dim=(1, 2))[:, None, None] * acts).sum(dim=0))


SOLUTIONS = {"03.1": headless, "03.2": layer_output, "03.3": nearest, "03.4": cam_from}
WRONG = {
    "03.1": [_headless_no_pool, _headless_no_flatten, _headless_in_place],
    "03.2": [_layer_output_no_clone, _layer_output_never_removed, _layer_output_no_finally],
    "03.3": [_nearest_dot, _nearest_euclidean, _nearest_argmin],
    "03.4": [_cam_no_relu, _cam_pixelwise, _cam_sum_weights],
}
