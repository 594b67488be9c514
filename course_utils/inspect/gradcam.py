"""Grad-CAM: where in the image a convolutional network looks for a class.

Grad-CAM (Selvaraju et al., 2017) weights each channel of a layer's activations ``A`` by the
spatial mean of the class score's gradient ``dS/dA``, sums the channels and keeps the
positive part. The activations come from a forward hook, the gradients from a tensor hook
on the same output; both are removed when the call returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.device import eval_mode, model_device
from ..core.errors import GradCAMError
from ..core.validate import MIN_IMAGE_SIZE
from ..data.images import Images, to_batch
from ..models.parts import module_and_preprocess
from ..models.registry import Classifier
from .hooks import HookSet, get_layer

__all__ = ["GradCAMResult", "grad_cam", "grad_cam_map", "mass_inside", "to_display"]


@dataclass
class GradCAMResult:
    """Grad-CAM maps of one batch.

    ``cam``: ``[N, H, W]`` in ``[0, 1]`` at the input's resolution; ``raw``: ``[N, h, w]`` at the
    layer's resolution, not normalised; ``classes``: the explained class per image; ``scores``:
    the logits of those classes.
    """

    cam: torch.Tensor
    raw: torch.Tensor
    classes: list[int]
    scores: list[float]


def grad_cam_map(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Grad-CAM of one or more images: ``relu(sum_c mean_hw(grad)[c] * act[c])``.

    ``activations`` and ``gradients`` have the same shape, ``[C, h, w]`` or ``[N, C, h, w]``;
    the result is ``[h, w]`` or ``[N, h, w]``, not normalised.
    """
    if activations.shape != gradients.shape or activations.ndim not in (3, 4):
        raise GradCAMError(
            f"activations {tuple(activations.shape)} and gradients {tuple(gradients.shape)} must both be "
            "[C, h, w] or [N, C, h, w]; hook a convolutional layer (e.g. 'layer4' of a ResNet)"
        )
    weights = gradients.mean(dim=(-2, -1), keepdim=True)
    return torch.relu((weights * activations).sum(dim=-3))


def _normalise(cam: torch.Tensor) -> torch.Tensor:
    flat = cam.flatten(1)
    lo, hi = flat.min(1).values[:, None, None], flat.max(1).values[:, None, None]
    return torch.where(hi > lo, (cam - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(cam))


def grad_cam(
    model: nn.Module | Classifier,
    images: Images,
    layer: str | nn.Module,
    classes: int | Iterable[int] | None = None,
    preprocess: Callable | None = None,
) -> GradCAMResult:
    """Grad-CAM of ``classes`` (default: each image's top class) at ``layer`` of ``model``.

    ``images`` as :func:`~course_utils.data.images.to_batch` takes them: a preprocessed batch ``[N, 3, H, W]``
    (one preprocessed image: ``x.unsqueeze(0)``), or images (a path, PIL image, array, a 2-D/3-D tensor of raw
    pixels, a list, a folder), preprocessed with the given ``preprocess`` or the Classifier's. Runs in eval
    mode on the model's device; the train/eval flags are restored, parameters and their ``.grad`` are left
    untouched and no hook stays behind, even if the forward pass fails.
    """
    module, preprocess = module_and_preprocess(model, preprocess)
    batch = to_batch(images, preprocess, where="grad_cam", error=GradCAMError, channels=3, min_size=MIN_IMAGE_SIZE)
    target = get_layer(module, layer)
    x = batch.to(model_device(module)).detach().requires_grad_(True)  # a graph exists even if the weights are frozen
    store: dict[str, torch.Tensor] = {}

    def forward_hook(mod: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if not isinstance(output, torch.Tensor) or output.ndim != 4:
            raise GradCAMError(
                f"layer {layer!r} outputs {type(output).__name__} "
                f"{tuple(getattr(output, 'shape', ()))}; pick a layer with a [N, C, h, w] output"
            )
        store["act"] = output.detach().clone()
        hooks.tensor(output, lambda grad: store.__setitem__("grad", grad.detach()))

    with eval_mode(module), HookSet() as hooks, torch.enable_grad():
        hooks.forward(target, forward_hook)
        logits = module(x)
        if logits.ndim != 2:
            raise GradCAMError(f"the model must return logits [N, classes], got shape {tuple(logits.shape)}")
        n = logits.shape[0]
        if classes is None:
            idx = logits.argmax(1).tolist()
        elif isinstance(classes, int):
            idx = [classes] * n
        else:
            idx = [int(c) for c in classes]
        if len(idx) != n or not all(0 <= c < logits.shape[1] for c in idx):
            raise GradCAMError(f"classes={classes!r}: give one class index in 0..{logits.shape[1] - 1} per image ({n})")
        chosen = logits[torch.arange(n), torch.tensor(idx, device=logits.device)]
        torch.autograd.grad(chosen.sum(), x)  # fires the tensor hook; leaves every parameter's .grad alone
    if "grad" not in store:
        raise GradCAMError(f"no gradient reached layer {layer!r}; is it used in the model's forward pass?")
    raw = grad_cam_map(store["act"], store["grad"]).float().cpu()
    up = F.interpolate(raw[:, None], size=batch.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return GradCAMResult(_normalise(up), raw, idx, chosen.detach().float().cpu().tolist())


def mass_inside(cam: torch.Tensor, box: tuple[int, int, int, int]) -> float:
    """Fraction of a CAM's total mass inside ``box = (left, top, right, bottom)`` (pixels, right/bottom exclusive)."""
    if cam.ndim != 2:
        raise GradCAMError(f"mass_inside takes one map [H, W], got shape {tuple(cam.shape)}")
    left, top, right, bottom = box
    total = float(cam.sum())
    return float(cam[top:bottom, left:right].sum()) / total if total > 0 else 0.0


def _find_normalize(preprocess: Callable | None) -> tuple[list[float], list[float]] | None:
    stack = [preprocess]
    while stack:
        t = stack.pop()
        if t is None:
            continue
        if hasattr(t, "mean") and hasattr(t, "std") and not callable(t.mean):
            return list(t.mean), list(t.std)
        stack.extend(getattr(t, "transforms", []))
    return None


def to_display(x: torch.Tensor, preprocess: Callable | None = None) -> np.ndarray:
    """A preprocessed image ``[3, H, W]`` back to an ``[H, W, 3]`` array in ``[0, 1]`` for plotting.

    Undoes the ``Normalize`` step found in ``preprocess``; without one, stretches to ``[0, 1]``.
    """
    x = x.detach().float().cpu()
    found = _find_normalize(preprocess)
    if found is not None:
        mean, std = (torch.tensor(v)[:, None, None] for v in found)
        x = x * std + mean
    else:
        x = (x - x.min()) / (x.max() - x.min()).clamp_min(1e-12)
    return x.clamp(0, 1).permute(1, 2, 0).numpy()
