"""Check a tensor a learner hands to a helper, and say what was expected when it does not fit."""

from __future__ import annotations

import torch

from .errors import CourseError, InputShapeError

#: ImageNet CNNs shrink the input 32× before pooling; smaller images leave no spatial information.
MIN_IMAGE_SIZE = 32


def check_batch(
    x: object,
    where: str,
    *,
    channels: int | None = 3,
    min_size: int | None = MIN_IMAGE_SIZE,
    add_batch_dim: bool = False,
    error: type[CourseError] = InputShapeError,
) -> torch.Tensor:
    """Return ``x`` if it is a non-empty float batch ``[N, C, H, W]``, else raise :class:`InputShapeError`.

    ``where`` names the helper in the message. ``channels=None`` accepts any channel count,
    ``min_size=None`` any height and width; ``add_batch_dim`` turns one image ``[C, H, W]`` into ``[1, C, H, W]``.
    ``error`` is the exception class raised (a helper's own :class:`CourseError` subclass).
    """
    want = f"[N, {channels if channels is not None else 'C'}, H, W]"
    if not isinstance(x, torch.Tensor):
        raise error(
            f"{where}: expected a tensor of shape {want}, got a {type(x).__name__}; "
            "load images with load_image() and preprocess them first"
        )
    shape = tuple(x.shape)
    if add_batch_dim and x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4:
        fix = " (one image: add the batch dimension with x.unsqueeze(0))" if x.ndim == 3 else ""
        raise error(
            f"{where}: expected a batch of shape {want} (4 dimensions), got {x.ndim} "
            f"dimension(s) with shape {shape}{fix}"
        )
    if channels is not None and x.shape[1] != channels:
        fix = ""
        if x.shape[-1] == channels:
            fix = "; it looks channels-last (N, H, W, C): use x.permute(0, 3, 1, 2)"
        elif x.shape[1] == 1 and channels == 3:
            fix = "; for a grey image repeat the channel: x.expand(-1, 3, -1, -1)"
        elif x.shape[1] == 4 and channels == 3:
            fix = "; drop the alpha channel: x[:, :3]"
        raise error(f"{where}: expected {channels} channels in dimension 1 of {want}, got shape {shape}{fix}")
    if not x.is_floating_point():
        raise error(
            f"{where}: expected a floating-point batch (float32), got dtype {x.dtype}; preprocess "
            "the images (e.g. weights.transforms()) or convert with x.float() / 255 and normalise"
        )
    if x.shape[0] == 0:
        raise error(f"{where}: the batch {shape} is empty; pass at least one image")
    if min_size is not None and min(x.shape[-2:]) < min_size:
        raise error(
            f"{where}: expected H and W of at least {min_size} pixels, got {x.shape[-2]}×{x.shape[-1]} "
            f"(shape {shape}); ImageNet models shrink images 32× and were trained at 224×224, "
            "so resize first (weights.transforms() does)"
        )
    return x


__all__ = ["MIN_IMAGE_SIZE", "check_batch"]
