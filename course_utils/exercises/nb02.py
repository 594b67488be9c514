"""Checkers for notebook 02 (ResNet inference)."""

from __future__ import annotations

import torch
from PIL import Image
from torch import nn
from torchvision.models import ResNet18_Weights

from . import exercise

_CATEGORIES = [f"class_{i}" for i in range(10)]


@exercise("02.1", "top_k(logits, categories, k): softmax the logits, return the k best (label, probability) pairs",
          hint="torch.softmax(logits, dim=-1), then .topk(k); pair each index with categories[index].")
def _check_top_k(top_k) -> None:
    g = torch.Generator().manual_seed(2)
    for k in (1, 3, 5):
        logits = torch.randn(10, generator=g) * 3
        got = top_k(logits.clone(), _CATEGORIES, k)
        assert isinstance(got, (list, tuple)), f"return a list of (label, probability) pairs, got {type(got).__name__}"
        assert len(got) == k, f"with k={k} return {k} pairs, got {len(got)}"
        probs = torch.softmax(logits, dim=-1)
        values, indices = probs.topk(k)
        labels = [str(p[0]) for p in got]
        assert labels == [_CATEGORIES[i] for i in indices.tolist()], (
            f"labels should be the k most probable, best first: expected {[_CATEGORIES[i] for i in indices.tolist()]}, got {labels}"
        )
        got_p = torch.tensor([float(p[1]) for p in got])
        assert (got_p >= 0).all() and (got_p <= 1).all(), "the numbers must be probabilities in [0, 1]: did you apply softmax?"
        assert torch.allclose(got_p, values, atol=1e-5), "probabilities must come from softmax over all classes (dim=-1)"


@exercise("02.2", "to_batch(images, preprocess): preprocess each PIL image and stack them into one [N, 3, H, W] batch",
          hint="torch.stack([preprocess(img) for img in images]) — stack adds the batch dimension first.")
def _check_to_batch(to_batch) -> None:
    preprocess = ResNet18_Weights.IMAGENET1K_V1.transforms()
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    images = [Image.new("RGB", (300 + 40 * i, 260), c) for i, c in enumerate(colours)]
    batch = to_batch(images, preprocess)
    assert isinstance(batch, torch.Tensor), f"return a tensor, got {type(batch).__name__}"
    assert batch.shape == (3, 3, 224, 224), f"expected shape (3, 3, 224, 224) for 3 images, got {tuple(batch.shape)}"
    assert batch.dtype == torch.float32, f"expected float32 values, got {batch.dtype}: use the weights' preprocess"
    expected = torch.stack([preprocess(img) for img in images])
    assert torch.allclose(batch, expected, atol=1e-5), (
        "values differ from preprocess(image): keep the image order and apply the given preprocess to each"
    )


class _Probe(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@exercise("02.3", "predict_probs(model, batch): class probabilities [N, C] computed the right way for inference",
          hint="model.eval() switches BatchNorm to running statistics and turns dropout off; "
               "wrap the forward pass in torch.inference_mode() (or no_grad).")
def _check_predict_probs(predict_probs) -> None:
    torch.manual_seed(0)
    model = _Probe().train()
    x = torch.randn(6, 8)
    expected = torch.softmax(model.eval()(x), dim=1).detach()
    model.train()
    got = predict_probs(model, x)
    assert isinstance(got, torch.Tensor) and got.shape == (6, 4), "return a tensor of shape [N, C]"
    assert not model.training, "the model is still in train mode: call model.eval() before predicting"
    assert not got.requires_grad, "the output still tracks gradients: use torch.inference_mode() or torch.no_grad()"
    assert torch.allclose(got.sum(dim=1), torch.ones(6), atol=1e-5), "each row must sum to 1: apply softmax over dim=1"
    assert torch.allclose(got, expected, atol=1e-5), "probabilities differ from softmax(model(batch)) in eval mode"
    single = predict_probs(model, x[:1])
    assert torch.allclose(single, expected[:1], atol=1e-5), "a batch of one must give the same answer as in a full batch"
