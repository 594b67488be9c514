"""Faster copies of a model for inference, and a model placed elsewhere for a while; the learner's model stays as it is.

:func:`inference_copy` is a private copy with Conv–BatchNorm pairs folded and channels-last memory, cached per model
and made again when its weights change; :func:`placed` moves a model's tensors (device, memory format) for the
length of a ``with`` block and puts the original tensors back afterwards; :func:`to_channels_last` converts a model
in place.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..core.errors import ExportError
from .surgery import folded_copy, state_token

__all__ = ["inference_copy", "placed", "to_channels_last"]


@torch.no_grad()
def to_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """``model.to(memory_format=torch.channels_last)`` in place, converting only the 4-D tensors not yet in it.

    Same result as ``.to``, changing ``model`` itself (the course's helpers use it on their private copies only);
    but a model that is already channels-last costs one cheap pass over its parameters instead of a conversion
    walk through every module (milliseconds per call for a mobile net).
    """
    for t in (*model.parameters(), *model.buffers()):
        if t.ndim == 4 and not t.is_contiguous(memory_format=torch.channels_last):
            t.data = t.data.contiguous(memory_format=torch.channels_last)
            if t.grad is not None:
                t.grad.data = t.grad.data.contiguous(memory_format=torch.channels_last)
    return model


@contextmanager
def placed(
    model: nn.Module, device: torch.device | str | None = None, memory_format: torch.memory_format | None = None
) -> Iterator[nn.Module]:
    """``model`` with its parameters and buffers on ``device`` (and its 4-D ones in ``memory_format``) inside the
    ``with`` block; the original tensors are put back afterwards, also when the block raises.

    Nothing is copied when the model is already there. The parameters stay the same objects where torch allows
    it (an optimizer's references stay valid): only their data is swapped for the block.
    """
    device = torch.device(device) if device is not None else None
    swapped: list[tuple[torch.Tensor, torch.Tensor]] = []  # (tensor, its own data), data swapped in place
    replaced: list[tuple[dict, str, torch.Tensor]] = []  # (module's dict, key, own tensor), entry replaced
    now: dict[int, torch.Tensor] = {}  # id of an own tensor → what stands for it in the block (shared tensors)
    try:
        with torch.no_grad():
            for m in model.modules():
                for store in (m._parameters, m._buffers):
                    for key, t in list(store.items()):
                        if t is None:
                            continue
                        if id(t) in now:  # shared with a module seen before
                            if now[id(t)] is not t:
                                replaced.append((store, key, t))
                                store[key] = now[id(t)]
                            continue
                        data = t.data
                        new = data if device is None else data.to(device)
                        if memory_format is not None and new.ndim == 4:
                            new = new.contiguous(memory_format=memory_format)
                        if new is data:
                            now[id(t)] = t
                        elif torch._has_compatible_shallow_copy_type(data, new):
                            swapped.append((t, data))
                            t.data = new
                            now[id(t)] = t
                        else:  # e.g. to "meta": torch cannot swap the data, so the entry is replaced for the block
                            stand_in = nn.Parameter(new, t.requires_grad) if isinstance(t, nn.Parameter) else new
                            replaced.append((store, key, t))
                            store[key] = now[id(t)] = stand_in
        yield model
    finally:
        with torch.no_grad():
            for store, key, t in reversed(replaced):
                store[key] = t
            for t, data in reversed(swapped):
                t.data = data


#: Per model: (state token, its folded inference copy or None when it cannot be folded). Weak keys: a deleted
#: model takes its copy with it.
_FOLDED: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, nn.Module | None]] = weakref.WeakKeyDictionary()


def _has_hooks(model: nn.Module) -> bool:
    return any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def inference_copy(model: nn.Module) -> nn.Module:
    """``model``, or a faster copy of it for batched inference: Conv–BatchNorm pairs folded, channels-last.

    The copy (:func:`~course_utils.models.surgery.folded_copy`, see notebook 09) is made once per model and made again
    as soon as the model's parameters or buffers change (training step, ``load_state_dict``, ``.to``, a new
    head). ``model`` itself is returned, unchanged, when it has no BatchNorm, carries forward hooks (they
    must fire), or cannot be traced. The learner's model is never modified.
    """
    if _has_hooks(model) or not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model
    token = state_token(model)
    cached = _FOLDED.get(model)
    if cached is None or cached[0] != token:
        try:
            folded = to_channels_last(folded_copy(model))
            for p in folded.parameters():
                p.requires_grad_(False)
        except ExportError:
            folded = None
        cached = _FOLDED[model] = (token, folded)
    return cached[1] if cached[1] is not None else model
