"""MobileNet plumbing: copy weights between equivalent modules, and the pooled feature-vector model."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from .errors import CourseError


class WeightCopyError(CourseError, ValueError):
    """Two modules (or a module and a state_dict) do not line up tensor by tensor."""


def copy_weights(src: nn.Module | Mapping[str, torch.Tensor], dst: nn.Module) -> list[tuple[str, str]]:
    """Copy every parameter and buffer of ``src`` into ``dst`` **in registration order**, checking shapes.

    Two implementations of the same architecture usually register their tensors in the same
    order even when their names differ (``conv.0.0.weight`` vs ``block.0.weight``), so the
    i-th tensor of one is the i-th tensor of the other. Returns the ``(src_key, dst_key)`` pairs.
    """
    if not isinstance(dst, nn.Module):
        raise WeightCopyError(f"copy_weights copies into an nn.Module, got {type(dst).__name__}")
    src_state = src.state_dict() if isinstance(src, nn.Module) else dict(src)
    dst_state = dst.state_dict()
    if len(src_state) != len(dst_state):
        raise WeightCopyError(
            f"source has {len(src_state)} tensors, destination {type(dst).__name__} has {len(dst_state)}: "
            "build the destination with the same layers (and BatchNorm after every conv) as the source"
        )
    pairs, new_state = [], {}
    for (sk, sv), (dk, dv) in zip(src_state.items(), dst_state.items()):
        if sv.shape != dv.shape:
            raise WeightCopyError(
                f"shape mismatch: source {sk} {tuple(sv.shape)} vs destination {dk} {tuple(dv.shape)}; "
                "check channels, kernel size, groups and the layer order"
            )
        new_state[dk] = sv.detach().clone()
        pairs.append((sk, dk))
    dst.load_state_dict(new_state, strict=True)
    return pairs


def feature_extractor(model: nn.Module) -> nn.Sequential:
    """Pooled feature vectors of a MobileNet V2/V3 (or EfficientNet): ``features`` → global average pool → flatten.

    Shares the modules (and weights) of ``model``; output ``[N, C]`` with C = 1280 (V2),
    576 (V3-small) or 960 (V3-large).
    """
    features = getattr(model, "features", None)
    if not isinstance(features, nn.Module):
        raise CourseError(
            f"{type(model).__name__} has no `.features` block; feature_extractor expects a torchvision "
            "MobileNet V2/V3 or EfficientNet (for ResNets use nn.Sequential(*list(model.children())[:-1]))"
        )
    return nn.Sequential(features, nn.AdaptiveAvgPool2d(1), nn.Flatten(1)).eval()


__all__ = ["WeightCopyError", "copy_weights", "feature_extractor"]
