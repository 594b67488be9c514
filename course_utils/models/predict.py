"""Batched, no-grad prediction: class probabilities and the top-k labels of every image.

The path of a call goes down the layers: the images become one preprocessed batch
(:func:`course_utils.data.images.to_batch`, which also says what a tensor means), the batch runs through
:func:`~course_utils.models.inference.inference_copy` of the model (a private, faster copy), and
:func:`~course_utils.models.ranking.topk` ranks each row. The learner's model is left exactly as it was.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch

from ..core.device import eval_mode
from ..core.validate import MIN_IMAGE_SIZE
from ..data.images import Images, to_batch
from .inference import inference_copy, to_channels_last
from .ranking import Prediction, topk
from .registry import Classifier

__all__ = [
    "ACCELERATOR_BATCH_SIZE",
    "CPU_BATCH_SIZE",
    "Prediction",
    "default_batch_size",
    "inference_copy",
    "predict",
    "predict_proba",
    "to_channels_last",
    "topk",
]

#: Images per forward pass by default: on a CPU 16 keeps a mobile network's activations in cache
#: (MobileNetV3-small runs about 1.3x faster than in chunks of 32); accelerators take 32.
CPU_BATCH_SIZE, ACCELERATOR_BATCH_SIZE = 16, 32


def default_batch_size(device: torch.device | str) -> int:
    """Images per forward pass :func:`predict_proba` uses on ``device`` when none is given."""
    return CPU_BATCH_SIZE if torch.device(device).type == "cpu" else ACCELERATOR_BATCH_SIZE


def predict_proba(clf: Classifier, images: Images, batch_size: int | None = None) -> torch.Tensor:
    """Class probabilities ``[N, C]``, one row per image, for one image, a list, a folder or a preprocessed batch.

    ``images`` as :func:`~course_utils.data.images.to_batch` takes them: a 4-D tensor is a preprocessed batch,
    a 2-D or 3-D tensor one raw image. Runs in eval mode under ``torch.inference_mode()``, ``batch_size``
    images at a time (default: :func:`default_batch_size` of the classifier's device). Batches of several
    images (and every batch on an accelerator) run on :func:`inference_copy` of the model: BatchNorm folded
    into the convolutions, channels-last memory. ``clf.model`` is left as it was: its train/eval flags, memory
    format, parameters, buffers and hooks (which fire: a model with forward hooks runs itself).
    """
    batch = to_batch(images, clf.preprocess, where="predict_proba", channels=3, min_size=MIN_IMAGE_SIZE)
    batch_size = batch_size or default_batch_size(clf.device)
    model = clf.model
    # Channels-last pays off for batches (and on GPUs); for one image on a CPU converting the weights
    # costs more than it saves (ResNet-50: 57 ms to convert, no faster at batch 1).
    fast = len(batch) > 1 or torch.device(clf.device).type != "cpu"
    net = inference_copy(model) if fast else model
    fmt = torch.channels_last if net is not model else torch.contiguous_format  # the learner's model runs as it is
    training = any(m.training for m in model.modules())  # eval_mode walks every module: only when needed
    out = []
    with eval_mode(model) if training and net is model else nullcontext(), torch.inference_mode():
        for chunk in batch.split(batch_size):
            chunk = chunk.to(clf.device, non_blocking=True).contiguous(memory_format=fmt)
            out.append(net(chunk).float().softmax(dim=1).cpu())
    return torch.cat(out)


def predict(clf: Classifier, images: Images, k: int = 5, batch_size: int | None = None) -> list[list[Prediction]]:
    """The ``k`` most probable classes of every image: always a list with one entry per image, in order.

    Each entry is that image's ranked :class:`Prediction` list (best first), also when ``images`` is one
    image: ``predict(clf, img)[0]`` are its predictions. A folder gives its image files sorted by name.
    ``images`` as :func:`predict_proba` takes them (a 4-D tensor is a preprocessed batch).
    """
    return [topk(p, clf.categories, k) for p in predict_proba(clf, images, batch_size)]
