"""Save and load fine-tuned models safely: state_dict + class names + preprocessing, ``weights_only=True``.

A checkpoint is a plain dict of tensors, strings and numbers, so ``torch.load(...,
weights_only=True)`` can read it without running any pickled code. It carries the class
names and the preprocessing, because a model without them cannot be used correctly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn
from torchvision.transforms import InterpolationMode
from torchvision.transforms import v2 as T

from ..core.errors import CheckpointError
from ..core.files import save_atomic

__all__ = ["FORMAT", "build_preprocess", "describe_preprocess", "load_checkpoint", "load_into", "save_checkpoint"]

FORMAT = "course-checkpoint-1"


def describe_preprocess(preprocess: Callable) -> dict:
    """Resize/crop/mean/std of a weights' ``transforms()`` preset or a ``v2.Compose`` (else ``{"repr": ...}``)."""
    if all(hasattr(preprocess, a) for a in ("resize_size", "crop_size", "mean", "std", "interpolation")):
        return {
            "resize_size": list(preprocess.resize_size),
            "crop_size": list(preprocess.crop_size),
            "mean": list(preprocess.mean),
            "std": list(preprocess.std),
            "interpolation": InterpolationMode(preprocess.interpolation).value,
            "repr": repr(preprocess),
        }
    info: dict = {"repr": repr(preprocess)}
    for t in getattr(preprocess, "transforms", []):
        if isinstance(t, T.Normalize):
            info.update(mean=list(t.mean), std=list(t.std))
        elif isinstance(t, T.Resize) and t.size:
            info.update(resize_size=list(t.size), interpolation=InterpolationMode(t.interpolation).value)
        elif isinstance(t, T.CenterCrop):
            info["crop_size"] = list(t.size)
    return info


def build_preprocess(info: dict) -> Callable:
    """Rebuild the preprocessing described by :func:`describe_preprocess`."""
    missing = {"resize_size", "crop_size", "mean", "std"} - set(info)
    if missing:
        raise CheckpointError(
            f"the checkpoint's preprocessing lacks {sorted(missing)} ({info.get('repr')}); "
            "rebuild it by hand from that description"
        )
    return T.Compose(
        [
            # Resize and crop before ToImage, as torchvision's presets do: a PIL image is resized by PIL there too.
            T.Resize(
                info["resize_size"][0] if len(info["resize_size"]) == 1 else info["resize_size"],
                interpolation=InterpolationMode(info.get("interpolation", "bilinear")),
                antialias=True,
            ),
            T.CenterCrop(info["crop_size"]),
            T.ToImage(),
            T.ToDtype(torch.float32, scale=True),
            T.Normalize(info["mean"], info["std"]),
        ]
    )


def save_checkpoint(
    model: nn.Module,
    path: str | Path,
    classes: Sequence[str],
    preprocess: Callable | None = None,
    arch: str = "",
    **extra: object,
) -> Path:
    """Write ``model.state_dict()`` to ``path`` with ``classes``, preprocessing and ``extra`` plain values, atomically.

    The object first, then the path, as in ``torch.save`` and :func:`~course_utils.core.files.save_atomic`.
    """
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {
        "format": FORMAT,
        "arch": arch,
        "classes": list(classes),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "preprocess": describe_preprocess(preprocess) if preprocess is not None else {},
        "extra": dict(extra),
    }
    return save_atomic(blob, path)


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint with ``weights_only=True`` (no code from the file is executed)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file; check the path or save one with save_checkpoint()")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a course checkpoint (no format {FORMAT!r}); "
            "for a bare state_dict use model.load_state_dict(torch.load(path, weights_only=True))"
        )
    return blob


def load_into(model: nn.Module, checkpoint: dict | str | Path) -> list[str]:
    """Load a checkpoint's weights into ``model``; returns its class names.

    A head whose class count differs from the checkpoint's raises :class:`CheckpointError`
    that says how to build a matching head.
    """
    blob = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint)
    state, classes, own = blob["state_dict"], blob["classes"], model.state_dict()
    mismatched = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    if mismatched:
        k = mismatched[0]
        raise CheckpointError(
            f"the checkpoint was trained for {len(classes)} classes ({', '.join(classes)}) but the model's "
            f"'{k}' has shape {tuple(own[k].shape)} instead of {tuple(state[k].shape)}; give the model a "
            f"{len(classes)}-class head first, e.g. reset_classifier(model, {len(classes)})"
        )
    missing, unexpected = set(own) - set(state), set(state) - set(own)
    if missing or unexpected:
        raise CheckpointError(
            f"the checkpoint ({blob.get('arch') or 'unknown architecture'}) does not fit this model: "
            f"missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]}; build the same "
            "architecture it was saved from"
        )
    model.load_state_dict(state)
    return list(classes)
