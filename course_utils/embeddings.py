"""Embeddings: a classifier without its head, run in batches over many images."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names
from tqdm.auto import tqdm

from .images import ImageInput, load_image
from .models import Classifier


class _Embedder(nn.Module):
    """Wraps an FX feature extractor so that it returns one tensor instead of a dict."""

    def __init__(self, extractor: nn.Module, node: str) -> None:
        super().__init__()
        self.extractor, self.node = extractor, node

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.extractor(x)[self.node], 1)


def backbone(model: nn.Module | Classifier, node: str = "flatten") -> nn.Module:
    """The network up to its pooled, flattened features (the input of the classifier head).

    Built with torchvision's ``create_feature_extractor``; ``node`` names the graph node
    whose output is returned (``flatten`` for ResNets, MobileNets, EfficientNets).
    """
    model = model.model if isinstance(model, Classifier) else model
    _, nodes = get_graph_node_names(model.eval())
    if node not in nodes:
        raise ValueError(f"{type(model).__name__} has no graph node {node!r}; pass one of the last nodes: {nodes[-5:]}")
    return _Embedder(create_feature_extractor(model, return_nodes={node: node}), node).eval()


@torch.inference_mode()
def extract_embeddings(model: nn.Module | Classifier, images: Iterable[ImageInput] | torch.Tensor,
                       preprocess: Callable | None = None, batch_size: int = 32,
                       device: torch.device | str | None = None, progress: bool = True) -> torch.Tensor:
    """Embeddings ``[N, D]`` (float32, on the CPU) of many images, computed batch by batch.

    ``model`` is a :class:`Classifier` (its backbone and preprocessing are used) or any
    module that maps a batch to features. ``images`` is a preprocessed batch or an
    iterable of anything :func:`load_image` accepts (then ``preprocess`` is required
    unless ``model`` is a Classifier).
    """
    if isinstance(model, Classifier):
        preprocess = preprocess or model.preprocess
        device = device or model.device
        model = backbone(model)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.eval().to(device)
    if isinstance(images, torch.Tensor):
        chunks = list(images.split(batch_size))
    else:
        if preprocess is None:
            raise ValueError("pass preprocess= (e.g. weights.transforms()) to embed raw images")
        items = list(images)
        chunks = (torch.stack([preprocess(load_image(x)) for x in items[i:i + batch_size]])
                  for i in range(0, len(items), batch_size))
    total = len(chunks) if isinstance(chunks, list) else -(-len(items) // batch_size)
    out = [model(chunk.to(device)).float().cpu()
           for chunk in tqdm(chunks, total=total, desc="embeddings", disable=not progress or total < 2)]
    if not out:
        raise ValueError("no images to embed")
    return torch.cat(out)
