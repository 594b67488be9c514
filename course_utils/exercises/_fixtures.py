"""Fixtures for checkers that cannot hide mistakes: BatchNorm with real statistics, textured non-square photos."""

from __future__ import annotations

import torch
from PIL import Image
from torch import nn

from ..data.images import sample_images
from ..inspect.hooks import hook_count

#: (width, height) of the crops :func:`textured_images` returns: non-square, landscape and portrait.
CROP_SIZES = ((300, 220), (180, 260), (257, 257), (420, 300))


def textured_images(n: int = 3, sizes: tuple[tuple[int, int], ...] = CROP_SIZES) -> list[Image.Image]:
    """``n`` crops of the bundled real photos, of different non-square sizes (texture everywhere)."""
    photos = list(sample_images().values())
    out = []
    for i in range(n):
        photo = photos[i % len(photos)]
        w, h = sizes[i % len(sizes)]
        w, h = min(w, photo.width), min(h, photo.height)
        left, top = (photo.width - w) // (2 + i % 3), (photo.height - h) // (2 + i % 2)
        out.append(photo.crop((left, top, left + w, top + h)))
    return out


def tensor_or_fail(value: object, what: str) -> torch.Tensor:
    """``value`` when it is a tensor, else an AssertionError saying what was expected instead."""
    assert isinstance(value, torch.Tensor), f"{what} must be a torch tensor, got {type(value).__name__}"
    return value


def shape_of(value: object) -> str:
    """A short description of ``value`` for messages: its shape if it has one, else its type."""
    shape = getattr(value, "shape", None)
    return str(list(shape)) if shape is not None else type(value).__name__


__all__ = [
    "CROP_SIZES",
    "check_captured",
    "check_cleanup_after_raise",
    "foreign_hooks_intact",
    "shape_of",
    "tensor_or_fail",
    "textured_images",
]


def foreign_hooks_intact(model: nn.Module, handles: list) -> bool:
    """Whether every hook in ``handles`` ("someone else's") is still registered somewhere in ``model``."""
    ids = {key for m in model.modules() for d in ("_forward_hooks", "_forward_pre_hooks") for key in getattr(m, d)}
    return all(h.id in ids for h in handles)


def check_captured(
    model: nn.Module, foreign: list, got: object, expected: torch.Tensor, what: str, fix: str = ""
) -> None:
    """After the learner's capture function ran: only the ``foreign`` hooks are left on ``model``, and ``got`` is a
    tensor of ``expected``'s shape (``what`` names it, e.g. "model.bn outputs"; ``fix`` ends the message)."""
    assert foreign_hooks_intact(model, foreign), (
        "you removed hooks you did not register (someone else's): remove only your own handle, not all hooks"
    )
    left = hook_count(model) - len(foreign)
    assert left == 0, f"{left} hook(s) of yours are still on the model: keep the handle and call handle.remove()"
    assert isinstance(got, torch.Tensor), f"return the captured tensor, got {type(got).__name__}"
    assert got.shape == expected.shape, f"{what} {list(expected.shape)}, you returned {shape_of(got)}{fix}"


def check_cleanup_after_raise(call, model: nn.Module, foreign: list) -> None:
    """Run ``call()`` (the learner's function on an input that makes the forward pass raise), then assert that only
    the ``foreign`` hooks are left on ``model``; finally remove those too."""
    try:
        call()
    except Exception:  # noqa: BLE001 - the learner's function is expected to let it through
        pass
    assert foreign_hooks_intact(model, foreign), "you removed hooks you did not register: remove only your own handle"
    assert hook_count(model) == len(foreign), (
        "a hook stayed on the model after the forward pass raised: remove it in a `finally:` block"
    )
    for h in foreign:
        h.remove()
