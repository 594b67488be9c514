"""The model registry, as torchvision's: every name maps to a builder and its weights, one policy for all.

Every torchvision classifier is registered by its torchvision name; the course adds its own builders with
:func:`register_model` (EfficientNet-Lite0, :mod:`course_utils.models.efficientnet_lite`).
:func:`load_classifier`, ``python -m course_utils fetch`` and ``doctor`` read the registry only.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torchvision
from torch import nn
from torchvision.models import ResNet50_Weights, WeightsEnum

from ..core.device import get_device
from ..core.errors import ModelRegistryError, UnknownModelError
from ..core.notebook import banner
from .weights import Weights, torchvision_weights

__all__ = [
    "COURSE_MODELS",
    "Classifier",
    "IMAGENET_CATEGORIES",
    "ModelEntry",
    "get_entry",
    "get_weights",
    "list_models",
    "load_classifier",
    "register_model",
]

#: The models the course uses; any other registered name works too.
COURSE_MODELS = (
    "resnet18",
    "resnet50",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "efficientnet_lite0",
)

#: The 1000 ImageNet class names, in torchvision's order (available offline).
IMAGENET_CATEGORIES: list[str] = list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: ``build(num_classes)`` makes the bare module, ``weights(spec)`` resolves weights."""

    name: str
    build: Callable[[int], nn.Module]
    weights: Callable[[str | WeightsEnum | None], Weights | None]
    random_transforms: Callable[[], Callable] = field(repr=False, default=lambda: None)


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(entry: ModelEntry) -> ModelEntry:
    """Add ``entry`` to the registry under ``entry.name`` (the course's own models call this).

    As in torchvision, a name is registered once: a name already taken, by the course or by a torchvision
    classifier, raises :class:`ModelRegistryError`.
    """
    if entry.name in _REGISTRY:
        raise ModelRegistryError(f"a model is already registered under the name {entry.name!r}")
    if entry.name in torchvision.models.list_models(module=torchvision.models):
        raise ModelRegistryError(f"{entry.name!r} is a torchvision classifier's name: register under another name")
    _REGISTRY[entry.name] = entry
    return entry


def _torchvision_weights(name: str, spec: str | WeightsEnum | None) -> Weights | None:
    if spec is None:
        return None
    enum = torchvision.models.get_model_weights(name)
    if not isinstance(spec, WeightsEnum):
        try:
            spec = enum[spec] if spec != "DEFAULT" else enum.DEFAULT
        except KeyError:
            raise UnknownModelError(
                f"{name} has no weights {spec!r}; choose one of {', '.join(enum.__members__)}"
            ) from None
    return torchvision_weights(spec)


def _torchvision_entry(name: str) -> ModelEntry:
    return ModelEntry(
        name,
        lambda num_classes: torchvision.models.get_model(name, weights=None, num_classes=num_classes),
        lambda spec: _torchvision_weights(name, spec),
        lambda: torchvision.models.get_model_weights(name).DEFAULT.transforms(),
    )


def list_models() -> list[str]:
    """Every name :func:`load_classifier` accepts: torchvision's classifiers and the course's own."""
    return sorted(set(torchvision.models.list_models(module=torchvision.models)) | set(_REGISTRY))


def get_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``, or :class:`UnknownModelError` with the closest names."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in list_models():
        return _torchvision_entry(name)
    close = difflib.get_close_matches(name, list_models(), n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"course models: {', '.join(COURSE_MODELS)}"
    raise UnknownModelError(f"unknown model {name!r}; {hint}")


def get_weights(name: str, weights: str | WeightsEnum | None = "DEFAULT") -> Weights | None:
    """Resolve ``weights`` (``"DEFAULT"``, ``"IMAGENET1K_V2"``, an enum or ``None``) for model ``name``."""
    return get_entry(name).weights(weights)


@dataclass
class Classifier:
    """A model together with everything needed to use it correctly.

    A Classifier is for inference: creating one puts its model in eval mode.
    """

    name: str
    model: nn.Module
    preprocess: Callable
    categories: list[str]
    pretrained: bool
    weights: str | None
    device: torch.device
    meta: dict = field(default_factory=dict, repr=False)
    notice: str | None = None  #: why the weights are not real (shown as a banner), else None

    def __post_init__(self) -> None:
        self.model.eval()

    def __repr__(self) -> str:
        state = "pretrained" if self.pretrained else "RANDOM weights"
        return f"Classifier({self.name!r}, {self.weights or 'no weights'}, {state}, device={self.device})"


def load_classifier(
    name: str,
    weights: str | WeightsEnum | None = "DEFAULT",
    device: str | torch.device | None = None,
    quiet: bool = False,
) -> Classifier:
    """Build ``name`` with pretrained weights in eval mode, on ``device``.

    Weights follow the course policy: the cache is used when it holds them; online they
    are downloaded and hash-checked; under ``COURSE_OFFLINE=1`` an uncached model gets
    random weights, ``.pretrained`` is ``False`` and a banner says so.
    """
    device = torch.device(device) if device is not None else get_device()
    entry = get_entry(name)
    w = entry.weights(weights)
    if w is None:
        notice = f"{name}: built with weights=None (random weights), as asked"
        model = entry.build(len(IMAGENET_CATEGORIES))
        return Classifier(
            name, model.to(device), entry.random_transforms(), IMAGENET_CATEGORIES, False, None, device, notice=notice
        )
    state = w.load()
    model = entry.build(len(w.categories))
    notice = None
    if state is not None:
        model.load_state_dict(state)
    else:
        notice = (
            f"{name} has RANDOM weights: offline mode is on and {w} is not in the weights cache. Shapes, "
            "parameter counts and timings are real; its predictions are meaningless. For the real weights run "
            "`python -m course_utils fetch` where there is network (or copy the file into the cache)."
        )
        if not quiet:
            banner(notice, "warning")
    return Classifier(
        name,
        model.to(device),
        w.transforms(),
        w.categories,
        state is not None,
        w.label,
        device,
        dict(w.meta),
        notice,
    )
