"""Feature maps: record a network's intermediate activations and rank their channels.

:func:`feature_maps` records layer outputs with hooks; :func:`top_channels` ranks channels.
Figures: :func:`course_utils.plots.plot_top_channels`; the viewer: :mod:`course_utils.lessons.widgets`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from ..core.device import eval_mode, model_device
from ..core.errors import FeatureMapError
from ..data.images import Images, to_batch
from ..models.parts import module_and_preprocess
from ..models.registry import Classifier
from .hooks import capture

__all__ = ["Maps", "feature_maps", "one_image_maps", "top_channels"]

Maps = Mapping[str, torch.Tensor]


@torch.inference_mode()
def feature_maps(
    model: nn.Module | Classifier,
    images: Images,
    layers: Sequence[str],
    preprocess: Callable | None = None,
) -> dict[str, torch.Tensor]:
    """Outputs ``{layer: [N, C, h, w]}`` (on the CPU) of ``layers`` for a batch or for images.

    ``images`` as :func:`~course_utils.data.images.to_batch` takes them (a 4-D tensor is a preprocessed batch,
    a 2-D or 3-D tensor one raw image); images are preprocessed with the given ``preprocess`` or the
    Classifier's. One forward pass in eval mode records every layer through :func:`course_utils.inspect.capture`;
    the model's train/eval flags are restored and no hook stays behind.
    """
    module, preprocess = module_and_preprocess(model, preprocess)
    batch = to_batch(images, preprocess, where="feature_maps", error=FeatureMapError)
    with eval_mode(module), capture(module, list(layers)) as out:
        try:
            module(batch.to(model_device(module)))
        except RuntimeError as exc:
            raise FeatureMapError(
                f"feature_maps: {type(module).__name__} could not run on a batch of shape "
                f"{tuple(batch.shape)} ({exc}); check the channel count, dtype and image size"
            ) from None
    return {name: out[name].float().cpu() for name in layers}


def one_image_maps(fmap: torch.Tensor, name: str) -> torch.Tensor:
    if fmap.ndim == 4 and fmap.shape[0] == 1:
        fmap = fmap[0]
    if fmap.ndim != 3:
        raise FeatureMapError(f"{name}: expected one image's maps [C, h, w] (or [1, C, h, w]), got {tuple(fmap.shape)}")
    return fmap.detach().float().cpu()


def top_channels(fmap: torch.Tensor, k: int = 8) -> list[int]:
    """Indices of the ``k`` channels of ``fmap [C, h, w]`` with the largest mean activation, strongest first."""
    fmap = one_image_maps(fmap, "fmap")
    k = max(1, min(int(k), fmap.shape[0]))
    return fmap.mean(dim=(1, 2)).topk(k).indices.tolist()
