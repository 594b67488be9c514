"""Changing a model without retraining it: find or replace its head, cut it to its features, copy weights
between equivalent modules, fold BatchNorm into convolutions, and tell when its weights changed."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

from ..core.device import eval_mode
from ..core.errors import ExportError, ModelSurgeryError

__all__ = [
    "backbone",
    "copy_weights",
    "count_batchnorms",
    "folded_copy",
    "head_of",
    "randomise_batchnorm",
    "reset_classifier",
    "state_token",
]


def copy_weights(src: nn.Module | Mapping[str, torch.Tensor], dst: nn.Module) -> list[tuple[str, str]]:
    """Copy every parameter and buffer of ``src`` into ``dst`` **in registration order**, checking shapes.

    Two implementations of the same architecture usually register their tensors in the same
    order even when their names differ (``conv.0.0.weight`` vs ``block.0.weight``), so the
    i-th tensor of one is the i-th tensor of the other. Returns the ``(src_key, dst_key)`` pairs.
    """
    if not isinstance(dst, nn.Module):
        raise ModelSurgeryError(f"copy_weights copies into an nn.Module, got {type(dst).__name__}")
    src_state = src.state_dict() if isinstance(src, nn.Module) else dict(src)
    dst_state = dst.state_dict()
    if len(src_state) != len(dst_state):
        raise ModelSurgeryError(
            f"source has {len(src_state)} tensors, destination {type(dst).__name__} has {len(dst_state)}: "
            "build the destination with the same layers (and BatchNorm after every conv) as the source"
        )
    pairs, new_state = [], {}
    for (sk, sv), (dk, dv) in zip(src_state.items(), dst_state.items()):
        if sv.shape != dv.shape:
            raise ModelSurgeryError(
                f"shape mismatch: source {sk} {tuple(sv.shape)} vs destination {dk} {tuple(dv.shape)}; "
                "check channels, kernel size, groups and the layer order"
            )
        new_state[dk] = sv.detach().clone()
        pairs.append((sk, dk))
    dst.load_state_dict(new_state, strict=True)
    return pairs


def head_of(model: nn.Module) -> nn.Linear:
    """The final linear layer: ``fc`` (ResNet), ``classifier[-1]`` (MobileNet, EfficientNet) or ``_fc``."""
    for attr in ("fc", "_fc", "head"):
        layer = getattr(model, attr, None)
        if isinstance(layer, nn.Linear):
            return layer
    classifier = getattr(model, "classifier", None)
    if isinstance(classifier, nn.Sequential) and isinstance(classifier[-1], nn.Linear):
        return classifier[-1]
    if isinstance(classifier, nn.Linear):
        return classifier
    raise ModelSurgeryError(
        f"{type(model).__name__}: no fc/_fc/classifier[-1] linear head found; replace the head by hand"
    )


def reset_classifier(model: nn.Module, num_classes: int) -> nn.Linear:
    """Put a fresh ``nn.Linear(in_features, num_classes)`` where the old head was; returns it."""
    old = head_of(model)
    new = nn.Linear(old.in_features, num_classes).to(old.weight.device)
    for attr in ("fc", "_fc", "head", "classifier"):
        if getattr(model, attr, None) is old:
            setattr(model, attr, new)
            return new
    model.classifier[-1] = new
    return new


class _Embedder(nn.Module):
    """Wraps an FX feature extractor so that it returns one tensor instead of a dict."""

    def __init__(self, extractor: nn.Module, node: str) -> None:
        super().__init__()
        self.extractor, self.node = extractor, node

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with eval_mode(self.extractor):  # embeddings: running statistics, whatever mode the shared modules are in
            return torch.flatten(self.extractor(x)[self.node], 1)


def backbone(model: nn.Module, node: str = "flatten") -> nn.Module:
    """The network without its head: up to its pooled, flattened features (the input of the classifier).

    Built with torchvision's ``create_feature_extractor``; ``node`` names the graph node whose output is
    returned (``flatten`` for ResNets, MobileNets, EfficientNets). Shares ``model``'s modules and weights, and
    leaves their train/eval flags as they are; it always computes in eval mode.
    """
    model = getattr(model, "model", model)  # a Classifier: its module
    with eval_mode(model):  # tracing sets every flag: traced in eval mode, restored afterwards
        _, nodes = get_graph_node_names(model)
        if node not in nodes:
            raise ModelSurgeryError(
                f"{type(model).__name__} has no graph node {node!r}; pass one of the last nodes: {nodes[-5:]}"
            )
        extractor = create_feature_extractor(model, return_nodes={node: node})
    return _Embedder(extractor, node)


def count_batchnorms(model: nn.Module) -> int:
    """How many BatchNorm layers ``model`` still contains."""
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def folded_copy(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every Conv→BatchNorm pair folded into one conv (``torch.fx`` fusion).

    ``model`` itself is never changed. Only valid for inference: folding bakes in the running statistics.
    """
    from torch.fx.experimental.optimization import fuse

    if not isinstance(model, nn.Module):
        raise ExportError(f"folded_copy expects an nn.Module, got {type(model).__name__}")
    try:
        with eval_mode(model), torch.no_grad():
            folded = fuse(model, inplace=False)
    except Exception as exc:  # torch.fx cannot trace data-dependent Python control flow
        raise ExportError(
            f"could not trace {type(model).__name__} to fold its BatchNorms "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); fold by hand or use "
            "torch.export, which handles more models"
        ) from None
    return folded.eval()


def randomise_batchnorm(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm of ``module`` non-trivial affine parameters and running statistics, in place.

    Fresh BatchNorm layers (γ = 1, β = 0, mean 0, variance 1) compute almost the identity in eval mode, so
    two implementations that differ in a BatchNorm (or a hook on a layer's input instead of its output)
    would look the same; reproducible for a given ``seed``.
    """
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            with torch.no_grad():
                if m.affine:
                    m.weight.copy_(0.5 + torch.rand(n, generator=g))
                    m.bias.copy_(0.3 * torch.randn(n, generator=g))
                if m.track_running_stats:
                    m.running_mean.copy_(0.3 * torch.randn(n, generator=g))
                    m.running_var.copy_(0.5 + torch.rand(n, generator=g))
    return module


def state_token(model: nn.Module) -> tuple:
    """Changes whenever a parameter or buffer is updated in place, replaced, moved, or a module is swapped.

    Cheap (no tensor is read): caches of a model's derived copies compare it to know when to rebuild.
    """
    tensors = (*model.parameters(), *model.buffers())
    return tuple((id(t), t.data_ptr(), t._version, t.dtype, t.device) for t in tensors) + (
        sum(1 for _ in model.modules()),
    )
