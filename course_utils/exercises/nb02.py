"""Checkers for notebook 02 (ResNet inference)."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import ResNet18_Weights
from torchvision.transforms import v2

from ..models.surgery import randomise_batchnorm
from . import exercise
from ._fixtures import shape_of, textured_images

__all__ = []

_CALLS = [  # (number of classes, k, category names): different lists, so hard-coded names show
    (10, 1, [f"class_{i}" for i in range(10)]),
    (10, 3, [f"class_{i}" for i in range(10)]),
    (12, 5, ["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen", "ibis", "jay", "koi", "lynx"]),
]


@exercise(
    "02.1",
    "top_k(logits, categories, k): softmax the logits, return the k best (label, probability) pairs",
    hint="probabilities come from softmax over all classes; look up Tensor.topk, and turn each index into "
    "a label through the categories you are given.",
)
def _check_top_k(top_k) -> None:
    g = torch.Generator().manual_seed(2)
    for n, k, categories in _CALLS:
        logits = torch.randn(n, generator=g) * 3
        given = logits.clone()
        got = top_k(given, categories, k)
        assert torch.equal(given, logits), "your function changed the logits tensor in place: compute on a copy"
        assert isinstance(got, (list, tuple)), f"return a list of (label, probability) pairs, got {type(got).__name__}"
        assert len(got) == k, f"with k={k} return {k} pairs, got {len(got)}: use the k you are given"
        assert all(isinstance(p, (list, tuple)) and len(p) == 2 for p in got), (
            f"each item must be a (label, probability) pair, got {got[0]!r}"
        )
        probs = torch.softmax(logits, dim=-1)
        values, indices = probs.topk(k)
        want = [categories[i] for i in indices.tolist()]
        labels = [p[0] for p in got]
        assert not all(
            isinstance(lab, int) or (isinstance(lab, torch.Tensor) and lab.numel() == 1) for lab in labels
        ), "you returned class indices: turn each into its name with categories[index]"
        assert all(lab in categories for lab in labels), (
            f"labels must come from the categories you were given, e.g. {categories[:3]}; got {labels[:3]}"
        )
        got_p = torch.tensor([float(p[1]) for p in got])
        assert (got_p >= 0).all() and (got_p <= 1).all(), (
            f"the numbers must be probabilities in [0, 1], got {[round(float(v), 3) for v in got_p]}: apply softmax "
            "to the logits"
        )
        assert all(a >= b for a, b in zip(got_p.tolist(), got_p.tolist()[1:])), "list the pairs best first (descending)"
        assert labels == want, f"labels should be the {k} most probable, best first: expected {want}, got {labels}"
        if not torch.allclose(got_p, values, atol=1e-5):
            if k > 1 and abs(float(got_p.sum()) - 1) < 1e-4:
                raise AssertionError(
                    "your k probabilities sum to 1: you applied softmax to the top k only; apply it "
                    "over all classes first"
                )
            if torch.allclose(got_p, torch.sigmoid(logits[indices]), atol=1e-5):
                raise AssertionError("these are sigmoids: each class alone; softmax normalises over all classes")
            raise AssertionError("probabilities must come from softmax over all classes (dim=-1)")


class _Probe(nn.Module):
    """A small classifier with BatchNorm and dropout that records how each forward pass ran."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 4))
        self.seen: list[tuple[bool, bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.training, torch.is_grad_enabled(), torch.is_inference_mode_enabled()))
        return self.body(x)


@exercise(
    "02.2",
    "predict_probs(model, batch): class probabilities [N, C] computed the right way for inference",
    hint="two things differ between training and inference: the module's mode (BatchNorm, dropout) and "
    "autograd; look up Module.eval and torch.inference_mode, then softmax over the class dimension.",
)
def _check_predict_probs(predict_probs) -> None:
    torch.manual_seed(0)
    model = randomise_batchnorm(_Probe(), seed=1)
    for n in (6, 1):
        x = torch.randn(n, 8) * 2
        given = x.clone()
        model.eval()
        with torch.no_grad():
            logits = model.body(x)
        expected = torch.softmax(logits, dim=1)
        model.train()
        model.seen.clear()
        got = predict_probs(model, given)
        assert torch.equal(given, x), "your function changed the input batch in place"
        assert model.seen, "call the model on the batch"
        training, grad, _ = model.seen[-1]
        assert not training, "the model ran in train mode (dropout on, batch statistics): call model.eval() first"
        assert isinstance(got, torch.Tensor), f"return a tensor, got {type(got).__name__}"
        assert not got.requires_grad, (
            "the output still tracks gradients: run the forward pass under torch.inference_mode()"
        )
        assert not grad, (
            "the forward pass built an autograd graph (you detached the result afterwards, but the memory "
            "was spent): run it under torch.inference_mode() (or torch.no_grad())"
        )
        assert got.shape == (n, 4), f"for a batch of {n} return [N, C] = [{n}, 4], got {shape_of(got)}" + (
            ": squeeze() drops the batch dimension of a batch of one" if n == 1 and got.ndim == 1 else ""
        )
        if torch.allclose(got, logits, atol=1e-5):
            raise AssertionError("these are logits: apply softmax over the classes (dim=1)")
        if n > 1 and torch.allclose(got, torch.softmax(logits, dim=0), atol=1e-5):
            raise AssertionError("softmax over dim=0 normalises across the images of the batch: use dim=1 (classes)")
        assert torch.allclose(got.sum(dim=1), torch.ones(n), atol=1e-5), "each row must sum to 1: softmax over dim=1"
        assert torch.allclose(got, expected, atol=1e-5), "probabilities differ from softmax(model(batch)) in eval mode"


def _preprocesses() -> list[tuple[str, v2.Compose]]:
    custom = v2.Compose(
        [
            v2.ToImage(),
            v2.Resize(144, antialias=True),
            v2.CenterCrop((128, 160)),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize([0.5] * 3, [0.25] * 3),
        ]
    )
    return [
        ("ResNet-18's transforms()", ResNet18_Weights.IMAGENET1K_V1.transforms()),
        ("a preprocess that crops 128×160", custom),
    ]


@exercise(
    "02.3",
    "make_batch(images, preprocess): preprocess each PIL image and stack them into one [N, 3, H, W] batch",
    hint="apply the preprocess you are given to every image, in order, then join the [3, H, W] tensors "
    "along a new first dimension (compare torch.stack with torch.cat).",
)
def _check_make_batch(make_batch) -> None:
    photos = textured_images(3)  # real photo crops of different non-square sizes
    for (name, preprocess), images in zip(_preprocesses(), [photos, photos[1:2]]):
        expected = torch.stack([preprocess(img) for img in images])
        n, h, w = len(images), expected.shape[-2], expected.shape[-1]
        batch = make_batch(list(images), preprocess)
        assert isinstance(batch, torch.Tensor), f"return one tensor, got {type(batch).__name__}" + (
            ": torch.stack joins a list of tensors" if isinstance(batch, (list, tuple)) else ""
        )
        if batch.ndim == 5:
            raise AssertionError(
                f"expected [N, 3, H, W], got {list(batch.shape)}: stack already adds the batch "
                "dimension, do not unsqueeze each image as well"
            )
        if batch.ndim == 3 and n == 1:
            raise AssertionError(
                f"a batch of one image must still be [1, 3, H, W], got {list(batch.shape)}: "
                "do not squeeze the batch dimension away"
            )
        if batch.ndim == 3 and batch.shape[0] == 3 * n:
            raise AssertionError(
                "torch.cat joined the images along their channel dimension: torch.stack adds a new batch dimension"
            )
        assert batch.ndim == 4 and batch.shape[:2] == (n, 3), f"expected shape {[n, 3, h, w]}, got {list(batch.shape)}"
        assert batch.shape[-2:] == (h, w), (
            f"with {name} each image becomes [3, {h}, {w}], yours are {list(batch.shape[-2:])}: apply the "
            "preprocess you are given, not one of your own"
        )
        assert batch.dtype == torch.float32, f"expected float32 values, got {batch.dtype}: use the given preprocess"
        if n > 1 and torch.allclose(batch, expected.flip(0), atol=1e-5):
            raise AssertionError("the images are in reverse order: keep the order of the list")
        for i in range(n):
            assert torch.allclose(batch[i], expected[i], atol=1e-5), (
                f"image {i} of the batch differs from preprocess(images[{i}]) (with {name}): apply the given "
                "preprocess to each image, in order"
            )
