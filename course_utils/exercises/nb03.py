"""Checkers for notebook 03 (embeddings, hooks, feature maps, similarity search, Grad-CAM)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

from ..hooks import hook_count
from . import exercise


@exercise("03.1", "headless(model): a module mapping images [N, 3, H, W] to ResNet embeddings [N, D], "
          "without changing the model",
          hint="nn.Sequential(*list(model.children())[:-1]) keeps everything up to the average pool; "
               "follow it with nn.Flatten(1) so that [N, 512, 1, 1] becomes [N, 512].")
def _check_headless(headless) -> None:
    torch.manual_seed(3)
    model = resnet18(weights=None, num_classes=10).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = {}
        handle = model.avgpool.register_forward_hook(lambda m, i, o: feats.__setitem__("pool", o))
        logits = model(x)
        handle.remove()
        expected = torch.flatten(feats["pool"], 1)
        body = headless(model)
        assert isinstance(body, nn.Module), f"return an nn.Module (e.g. nn.Sequential), got {type(body).__name__}"
        got = body.eval()(x)
    assert isinstance(got, torch.Tensor), f"the module must return a tensor, got {type(got).__name__}"
    assert got.ndim == 2, (f"embeddings must be [N, D], got shape {tuple(got.shape)}: "
                           "keep avgpool (drop only the last child) and flatten from dim 1")
    assert got.shape == (2, 512), f"ResNet-18 embeddings are [N, 512], got {tuple(got.shape)}: drop only fc"
    assert torch.allclose(got, expected, atol=1e-5), "values differ from the average-pooled layer4 features"
    assert isinstance(model.fc, nn.Linear), "the original model lost its fc layer: build a new module instead"
    with torch.no_grad():
        assert torch.allclose(model(x), logits, atol=1e-5), "the original model must still classify as before"


class _InPlaceNet(nn.Module):
    """conv → bn → ReLU(inplace) → pool → fc: the ReLU overwrites the BatchNorm output in place."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn(self.conv(x)))
        return self.fc(out.mean(dim=(2, 3)))


@exercise("03.2", "layer_output(model, module, x): the output of `module` during model(x), unchanged by later "
          "in-place ops, with no hook left behind (even if the forward pass fails)",
          hint="Store output.detach().clone() in a forward hook, and call handle.remove() in a `finally:` "
               "block (or use course_utils.hooks.capture).")
def _check_layer_output(layer_output) -> None:
    torch.manual_seed(4)
    model = _InPlaceNet().eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        expected = model.bn(model.conv(x)).clone()
    got = layer_output(model, model.bn, x)
    assert isinstance(got, torch.Tensor), f"return the captured tensor, got {type(got).__name__}"
    assert hook_count(model) == 0, f"{hook_count(model)} hook(s) left on the model: remove the handle after use"
    assert got.shape == expected.shape, f"expected the module's output of shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    if not torch.allclose(got, expected, atol=1e-5):
        assert not torch.allclose(got, torch.relu(expected), atol=1e-5), (
            "you got relu(output): the in-place ReLU overwrote the tensor you stored; store a copy (.clone())"
        )
        raise AssertionError("the captured values differ from the module's output")
    try:
        layer_output(model, model.bn, torch.randn(2, 5, 8, 8))  # wrong channel count: forward raises
    except Exception:
        pass
    assert hook_count(model) == 0, ("a hook stayed on the model after the forward pass raised: "
                                    "remove it in a `finally:` block or a context manager")


@exercise("03.3", "nearest(query, gallery): index of the gallery row [M, D] most cosine-similar to query [D]",
          hint="F.normalize both to unit length (dim=-1), then gallery @ query gives the cosine similarities; "
               "take the argmax.")
def _check_nearest(nearest) -> None:
    gallery = torch.tensor([[10.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0], [-5.0, -5.0, 0.0]])
    cases = [
        (torch.tensor([1.0, 1.2, 0.0]), 1),  # largest dot product is row 0, largest cosine is row 1
        (torch.tensor([0.1, 0.0, 3.0]), 2),
        (torch.tensor([-1.0, -0.9, 0.0]), 3),
        (torch.tensor([2.0, 0.1, 0.0]), 0),
    ]
    for query, want in cases:
        got = nearest(query.clone(), gallery.clone())
        if isinstance(got, torch.Tensor):
            assert got.numel() == 1, f"return one index, got a tensor of shape {tuple(got.shape)}"
            got = got.item()
        assert isinstance(got, int), f"return an int index, got {type(got).__name__}"
        sims = F.cosine_similarity(gallery, query[None], dim=1)
        if got == int((gallery @ query).argmax()) and got != want:
            raise AssertionError("that is the largest dot product, not the largest cosine similarity: "
                                 "normalise both vectors first")
        assert got == want, (f"for query {query.tolist()} the most similar row is {want} "
                             f"(cosine {sims[want]:.2f}), you returned {got} (cosine {sims[got]:.2f})")


@exercise("03.4", "cam_from(acts, grads): Grad-CAM [h, w] from one image's activations and gradients [C, h, w]",
          hint="weights = grads.mean(dim=(1, 2)) (one number per channel); "
               "cam = relu((weights[:, None, None] * acts).sum(dim=0)); no normalisation.")
def _check_cam_from(cam_from) -> None:
    g = torch.Generator().manual_seed(5)
    acts = torch.rand(8, 5, 6, generator=g) * 3
    grads = torch.randn(8, 5, 6, generator=g)
    expected = torch.relu((grads.mean(dim=(1, 2))[:, None, None] * acts).sum(dim=0))
    got = cam_from(acts.clone(), grads.clone())
    assert isinstance(got, torch.Tensor), f"return a tensor, got {type(got).__name__}"
    assert got.shape == (5, 6), f"the CAM has the spatial shape of the maps, (5, 6); got {tuple(got.shape)}"
    assert (got >= 0).all(), "Grad-CAM keeps only the positive evidence: apply ReLU to the weighted sum"
    assert torch.allclose(got, expected, atol=1e-4), (
        "values differ: weight each channel by the spatial MEAN of its gradient, sum over channels, then ReLU "
        "(do not multiply activations and gradients pixel by pixel, do not normalise)"
    )
