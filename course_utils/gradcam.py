"""Grad-CAM: where in the image a convolutional network looks for a class.

Grad-CAM (Selvaraju et al., 2017) weights each channel of a layer's activations ``A`` by the
spatial mean of the class score's gradient ``dS/dA``, sums the channels and keeps the
positive part. The activations come from a forward hook, the gradients from a tensor hook
on the same output; both are removed when the call returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .checks import check_batch
from .errors import CourseError
from .hooks import HookSet, get_layer
from .images import ImageInput, load_image
from .models import Classifier


class GradCAMError(CourseError, ValueError):
    """Grad-CAM was asked for something it cannot compute."""


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


def cam_from(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
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


def _to_batch(
    model: nn.Module | Classifier, images: ImageInput | Sequence[ImageInput] | torch.Tensor, preprocess: Callable | None
) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        batch = images if images.ndim == 4 else images.unsqueeze(0)
    else:
        if isinstance(model, Classifier):
            preprocess = preprocess or model.preprocess
        if preprocess is None:
            raise GradCAMError(
                "images need preprocessing: pass preprocess= (e.g. weights.transforms()) or a Classifier"
            )
        items = list(images) if isinstance(images, (list, tuple)) else [images]
        batch = torch.stack([preprocess(load_image(img)) for img in items])
    return check_batch(batch, "grad_cam (expected images or a batch)", error=GradCAMError)


def grad_cam(
    model: nn.Module | Classifier,
    images: ImageInput | Sequence[ImageInput] | torch.Tensor,
    layer: str | nn.Module,
    classes: int | Iterable[int] | None = None,
    preprocess: Callable | None = None,
) -> GradCAMResult:
    """Grad-CAM of ``classes`` (default: each image's top class) at ``layer`` of ``model``.

    ``images`` is a preprocessed batch ``[N, 3, H, W]`` (or one ``[3, H, W]`` image), or images
    that :func:`~course_utils.load_image` accepts (then the Classifier's or the given
    ``preprocess`` is applied). Runs on the model's device; parameters and their ``.grad`` are
    left untouched and no hook stays behind, even if the forward pass fails.
    """
    module = model.model if isinstance(model, Classifier) else model
    target = get_layer(module, layer)
    batch = _to_batch(model, images, preprocess)
    device = next(module.parameters()).device
    x = batch.to(device).detach().requires_grad_(True)  # a graph exists even if the weights are frozen
    store: dict[str, torch.Tensor] = {}

    def forward_hook(mod: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if not isinstance(output, torch.Tensor) or output.ndim != 4:
            raise GradCAMError(
                f"layer {layer!r} outputs {type(output).__name__} "
                f"{tuple(getattr(output, 'shape', ()))}; pick a layer with a [N, C, h, w] output"
            )
        store["act"] = output.detach().clone()
        hooks.tensor(output, lambda grad: store.__setitem__("grad", grad.detach()))

    was_training = module.training
    module.eval()
    try:
        with HookSet() as hooks, torch.enable_grad():
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
                raise GradCAMError(
                    f"classes={classes!r}: give one class index in 0..{logits.shape[1] - 1} per image ({n})"
                )
            chosen = logits[torch.arange(n), torch.tensor(idx, device=logits.device)]
            torch.autograd.grad(chosen.sum(), x)  # fires the tensor hook; leaves every parameter's .grad alone
    finally:
        module.train(was_training)
    if "grad" not in store:
        raise GradCAMError(f"no gradient reached layer {layer!r}; is it used in the model's forward pass?")
    raw = cam_from(store["act"], store["grad"]).float().cpu()
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


def overlay(image: np.ndarray | Image.Image, cam: torch.Tensor, alpha: float = 0.45, cmap: str = "jet") -> np.ndarray:
    """``image`` (``[H, W, 3]`` in ``[0, 1]`` or PIL) blended with a colour-mapped CAM of the same size."""
    import matplotlib

    img = np.asarray(image, dtype=np.float32)
    img = np.clip(img / 255.0 if isinstance(image, Image.Image) or img.max() > 1.5 else img, 0.0, 1.0)
    heat = cam.detach().float().cpu().numpy()
    if heat.shape != img.shape[:2]:
        raise GradCAMError(
            f"the CAM {heat.shape} and the image {img.shape[:2]} differ in size; "
            "use the preprocessed image (to_display) the CAM was computed on"
        )
    coloured = matplotlib.colormaps[cmap](heat)[..., :3]
    return np.clip((1 - alpha) * img + alpha * coloured, 0.0, 1.0)


def show_gradcam(
    images: Sequence[np.ndarray],
    cams: Sequence[torch.Tensor],
    titles: Sequence[str] | None = None,
    alpha: float = 0.45,
    size: float = 3.0,
):
    """Each image above its Grad-CAM overlay; returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    n = len(images)
    if n == 0 or n != len(cams):
        raise GradCAMError(f"show_gradcam needs as many CAMs as images (got {n} images, {len(cams)} CAMs)")
    fig, axes = plt.subplots(
        2, n, figsize=(size * n * images[0].shape[1] / images[0].shape[0], 2 * size), squeeze=False
    )
    for i in range(n):
        axes[0, i].imshow(images[i])
        axes[1, i].imshow(overlay(images[i], cams[i], alpha))
        if titles is not None and i < len(titles):
            axes[0, i].set_title(titles[i])
        for ax in axes[:, i]:
            ax.axis("off")
    fig.tight_layout()
    return fig


__all__ = [
    "GradCAMError",
    "GradCAMResult",
    "cam_from",
    "grad_cam",
    "mass_inside",
    "overlay",
    "show_gradcam",
    "to_display",
]
