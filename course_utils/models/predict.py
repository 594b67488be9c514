"""Batched, no-grad prediction with top-k labels."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from ..core.errors import CourseError, ExportError, InputShapeError
from ..core.validate import check_batch
from ..data.images import ImageInput, to_batch
from .registry import Classifier
from .surgery import folded_copy, state_token


class Prediction(NamedTuple):
    """One ranked class: its label, probability and ImageNet index."""

    label: str
    prob: float
    index: int


def topk(probs: torch.Tensor, categories: Sequence[str], k: int = 5) -> list[Prediction]:
    """The ``k`` most probable classes of a 1-D probability vector, best first."""
    if not isinstance(probs, torch.Tensor) or probs.ndim != 1:
        shape = tuple(probs.shape) if isinstance(probs, torch.Tensor) else type(probs).__name__
        raise InputShapeError(
            f"topk expects one probability vector of shape [C], got {shape}; for a batch call it per row: [topk(p, categories) for p in probs]"
        )
    k = max(1, min(int(k), probs.numel()))
    values, indices = probs.float().topk(k)
    return [Prediction(categories[i], float(v), int(i)) for v, i in zip(values.tolist(), indices.tolist())]


def model_and_batch(
    model: nn.Module | Classifier,
    images: ImageInput | Sequence[ImageInput] | torch.Tensor,
    preprocess: Callable | None,
    where: str,
    error: type[CourseError],
    **checks: object,
) -> tuple[nn.Module, torch.Tensor]:
    """The module of ``model`` (a :class:`Classifier` or a module) and ``images`` as a checked batch.

    Images are preprocessed with ``preprocess`` or the Classifier's own; a tensor is taken as a preprocessed
    batch (one ``[3, H, W]`` image gets its batch dimension). ``checks`` go to :func:`check_batch`.
    """
    module = model.model if isinstance(model, Classifier) else model
    if isinstance(images, torch.Tensor):
        return module, check_batch(images, where, add_batch_dim=True, error=error, **checks)
    preprocess = preprocess or (model.preprocess if isinstance(model, Classifier) else None)
    if preprocess is None:
        raise error("images need preprocessing: pass preprocess= (e.g. weights.transforms()) or a Classifier")
    return module, check_batch(to_batch(images, preprocess), where, error=error, **checks)


#: Images per forward pass by default: on a CPU 16 keeps a mobile network's activations in cache
#: (MobileNetV3-small runs about 1.3x faster than in chunks of 32); accelerators take 32.
CPU_BATCH_SIZE, ACCELERATOR_BATCH_SIZE = 16, 32


def default_batch_size(device: torch.device | str) -> int:
    """Images per forward pass :func:`predict_proba` uses on ``device`` when none is given."""
    return CPU_BATCH_SIZE if torch.device(device).type == "cpu" else ACCELERATOR_BATCH_SIZE


@torch.no_grad()
def to_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """``model.to(memory_format=torch.channels_last)`` in place, converting only the 4-D tensors not yet in it.

    Same result as ``.to``; but a model that is already channels-last costs one cheap pass over its
    parameters instead of a conversion walk through every module (milliseconds per call for a mobile net).
    """
    for t in (*model.parameters(), *model.buffers()):
        if t.ndim == 4 and not t.is_contiguous(memory_format=torch.channels_last):
            t.data = t.data.contiguous(memory_format=torch.channels_last)
            if t.grad is not None:
                t.grad.data = t.grad.data.contiguous(memory_format=torch.channels_last)
    return model


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


def predict_proba(
    clf: Classifier, images: str | Path | Iterable[ImageInput] | torch.Tensor, batch_size: int | None = None
) -> torch.Tensor:
    """Class probabilities ``[N, C]`` for a folder, a list of images, or a preprocessed batch.

    Runs in batches under ``torch.inference_mode()``; for batches of several images it uses
    :func:`inference_copy` of the model (BatchNorm folded into the convolutions, channels-last memory: faster
    on CPUs and GPUs alike). ``batch_size`` images go through the model at once (default:
    :func:`default_batch_size` of the classifier's device).
    """
    batch = images if isinstance(images, torch.Tensor) else to_batch(images, clf.preprocess)
    batch = check_batch(batch, "predict_proba")
    batch_size = batch_size or default_batch_size(clf.device)
    # Converted outside inference mode: the parameters must stay usable by autograd (fine-tuning, Grad-CAM).
    model = clf.model
    if any(m.training for m in model.modules()):  # eval() walks and sets every module: only when needed
        model.eval()
    # Channels-last pays off for batches (and on GPUs); for one image on a CPU converting the weights
    # costs more than it saves (ResNet-50: 57 ms to convert, no faster at batch 1).
    fmt = torch.channels_last if len(batch) > 1 or torch.device(clf.device).type != "cpu" else torch.contiguous_format
    if fmt is torch.channels_last:
        folded = inference_copy(model)
        model = folded if folded is not model else to_channels_last(model)
    out = []
    with torch.inference_mode():
        for chunk in batch.split(batch_size):
            chunk = chunk.to(clf.device, non_blocking=True).contiguous(memory_format=fmt)
            out.append(model(chunk).float().softmax(dim=1).cpu())
    return torch.cat(out)


def predict(
    clf: Classifier, images: ImageInput | str | Path | Iterable[ImageInput], top: int = 5, batch_size: int | None = None
) -> list[Prediction] | list[list[Prediction]]:
    """Top-``top`` predictions: a list for one image, a list of lists for a list or folder."""
    single = not isinstance(images, (list, tuple)) and not (isinstance(images, (str, Path)) and Path(images).is_dir())
    probs = predict_proba(clf, [images] if single else images, batch_size)
    ranked = [topk(p, clf.categories, top) for p in probs]
    return ranked[0] if single else ranked
