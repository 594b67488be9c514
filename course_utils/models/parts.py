"""The parts of what a learner hands to a helper as "the model": a :class:`Classifier` or a bare module."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .registry import Classifier

__all__ = ["module_and_preprocess"]


def module_and_preprocess(
    model: nn.Module | Classifier, preprocess: Callable | None = None
) -> tuple[nn.Module, Callable | None]:
    """The module of ``model`` (a :class:`Classifier`'s ``.model``, or ``model`` itself) and the preprocessing for
    its images: ``preprocess`` when given, else the Classifier's, else ``None`` (then only a preprocessed batch
    will do). Reads ``model``, changes nothing."""
    if isinstance(model, Classifier):
        return model.model, preprocess or model.preprocess
    return model, preprocess
