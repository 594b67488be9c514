"""Checkers for notebook 03 (embeddings, hooks, feature maps, similarity search, Grad-CAM)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

from ..inspect.hooks import HookSet
from ..models.surgery import randomise_batchnorm
from . import exercise
from ._fixtures import check_captured, check_cleanup_after_raise

__all__ = []


def _features(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """layer4's output and the flattened average pool of ``model`` for ``x``."""
    feats = {}
    with HookSet() as hooks:
        hooks.forward(model.layer4, lambda m, i, o: feats.__setitem__("layer4", o))
        hooks.forward(model.avgpool, lambda m, i, o: feats.__setitem__("pool", o))
        model(x)
    return feats["layer4"], torch.flatten(feats["pool"], 1)


@exercise(
    "03.1",
    "headless(model): a module mapping images [N, 3, H, W] to ResNet embeddings [N, D], without changing the model",
    hint="model.children() lists the top-level modules in order; keep everything up to and including the "
    "average pool, and flatten from dimension 1 (look up nn.Flatten), so a batch of one stays [1, D].",
)
def _check_headless(headless) -> None:
    for seed, (n, h, w) in [(3, (2, 64, 48)), (4, (1, 48, 64))]:  # batch of one, non-square images
        torch.manual_seed(seed)
        model = randomise_batchnorm(resnet18(weights=None, num_classes=10), seed=seed).eval()
        x = torch.randn(n, 3, h, w)
        with torch.no_grad():
            layer4, expected = _features(model, x)
            logits = model(x)
        body = headless(model)
        assert isinstance(body, nn.Module), f"return an nn.Module (e.g. nn.Sequential), got {type(body).__name__}"
        assert isinstance(model.fc, nn.Linear), "the original model lost its fc layer: build a new module instead"
        with torch.no_grad():
            got = body.eval()(x)
            still = model(x)
        assert torch.allclose(still, logits, atol=1e-5), "the original model must still classify as before"
        assert isinstance(got, torch.Tensor), f"the module must return a tensor, got {type(got).__name__}"
        if got.ndim == 4:
            raise AssertionError(
                f"embeddings must be [N, D], got {list(got.shape)}: flatten from dim 1"
                + ("; and keep the average pool (drop only the last child)" if got.shape[-1] > 1 else "")
            )
        if n == 1 and got.ndim == 1:
            raise AssertionError(
                f"a batch of one gave {list(got.shape)}: squeeze() also drops the batch dimension; flatten from dim 1"
            )
        assert got.ndim == 2 and got.shape[0] == n, f"embeddings must be [N, D] = [{n}, 512], got {list(got.shape)}"
        assert got.shape == (n, 512), f"ResNet-18 embeddings are [N, 512], got {list(got.shape)}: drop only fc"
        if not torch.allclose(got, expected, atol=1e-4):
            if torch.allclose(got, torch.flatten(F.adaptive_max_pool2d(layer4, 1), 1), atol=1e-4):
                raise AssertionError("that is max pooling: ResNet's embedding is the average pool of layer4")
            raise AssertionError(
                "values differ from the average-pooled layer4 features of the model you were given: "
                "reuse its modules (and weights), do not build a new network"
            )


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


def _foreign_hooks(model: nn.Module) -> list:
    """Hooks that 'someone else' put on the model; the learner's cleanup must leave them alone."""
    return [model.bn.register_forward_hook(lambda m, i, o: None), model.register_forward_pre_hook(lambda m, i: None)]


@exercise(
    "03.2",
    "layer_output(model, module, x): the output of `module` during model(x), unchanged by later "
    "in-place ops, as a plain tensor (no autograd graph), with no hook of yours left behind (even if the "
    "forward pass fails) and other hooks left alone",
    hint="a forward hook sees the module's output; store a copy that is cut from autograd, keep the handle, "
    "and remove exactly that handle in a `finally:` block (or use course_utils.inspect.capture).",
)
def _check_layer_output(layer_output) -> None:
    torch.manual_seed(4)
    model = randomise_batchnorm(_InPlaceNet(), seed=4).eval()
    foreign = _foreign_hooks(model)
    for module, name in [(model.bn, "bn"), (model.conv, "conv")]:
        x = torch.randn(2, 3, 8, 6)
        with torch.no_grad():
            conv_out = model.conv(x)
            expected = model.bn(conv_out).clone() if module is model.bn else conv_out.clone()
        got = layer_output(model, module, x)
        check_captured(
            model,
            foreign,
            got,
            expected,
            f"model.{name} outputs",
            ": return what `module` output, not the model's result",
        )
        if not torch.allclose(got, expected, atol=1e-5):
            if module is model.bn and torch.allclose(got, torch.relu(expected), atol=1e-5):
                raise AssertionError(
                    "you got relu(output): the in-place ReLU overwrote the tensor you stored; store a copy (.clone())"
                )
            if module is model.bn and torch.allclose(got, conv_out, atol=1e-5):
                raise AssertionError("that is the module's input (a pre-hook, or inputs[0]); return its output")
            raise AssertionError(
                f"the captured values differ from model.{name}'s output: hook the module you are given"
            )
        assert not got.requires_grad and got.grad_fn is None, (
            "the stored tensor keeps the autograd graph alive: detach it (or run the model under inference_mode)"
        )
    # a wrong channel count makes the forward pass raise
    check_cleanup_after_raise(lambda: layer_output(model, model.bn, torch.randn(2, 5, 8, 8)), model, foreign)


def _nearest_cases() -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    rows = torch.tensor([[10.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0], [-5.0, -5.0, 0.0], [0.1, 3.0, 0.2]])
    cases = [
        (torch.tensor([1.0, 1.2, 0.0]), rows, "query [1, 1.2, 0] (largest dot product: row 0, largest cosine: row 1)"),
        (torch.tensor([0.1, 0.0, 3.0]), rows, "query [0.1, 0, 3] (close to one axis)"),
        (torch.tensor([-1.0, -0.9, 0.0]), rows, "query [-1, -0.9, 0] (pointing away from most rows)"),
        (torch.tensor([0.9, 0.7, 0.0]), rows, "query [0.9, 0.7, 0] (row 3 points almost exactly the opposite way)"),
        (torch.tensor([2.0, 0.1, 0.0]), rows, "query [2, 0.1, 0] (close to row 0)"),
    ]
    g = torch.Generator().manual_seed(5)
    for m, d in [(6, 5), (9, 16)]:
        gallery = torch.randn(m, d, generator=g) * torch.rand(m, 1, generator=g) * 5
        cases.append((torch.randn(d, generator=g), gallery, f"a random query against a gallery [{m}, {d}]"))
    return cases


@exercise(
    "03.3",
    "nearest(query, gallery): index of the gallery row [M, D] most cosine-similar to query [D]",
    hint="cosine similarity compares directions only: scale every vector to unit length along the feature "
    "dimension (look up F.normalize), then the dot products are the cosines; keep their sign.",
)
def _check_nearest(nearest) -> None:
    for query, gallery, what in _nearest_cases():
        q, gal = query.clone(), gallery.clone()
        got = nearest(q, gal)
        assert torch.equal(gal, gallery) and torch.equal(q, query), (
            "your function changed the query or the gallery in place (the caller's embeddings are now different): "
            "F.normalize returns new tensors"
        )
        if isinstance(got, torch.Tensor):
            assert got.numel() == 1, f"return one index, got a tensor of shape {list(got.shape)}"
            got = got.item()
        assert isinstance(got, int), f"return an int index, got {type(got).__name__}"
        sims = F.cosine_similarity(gallery, query[None], dim=1)
        want = int(sims.argmax())
        assert 0 <= got < len(gallery), f"index {got} is outside the gallery of {len(gallery)} rows"
        if got == want:
            continue
        dot, by_column = (
            int((gallery @ query).argmax()),
            int((F.normalize(gallery, dim=0) @ F.normalize(query, dim=0)).argmax()),
        )
        if got == by_column and got != dot:
            raise AssertionError(
                f"{what}: you returned row {got}: normalise each vector along its feature dimension "
                "(dim=-1); dim=0 scales the columns of the gallery instead"
            )
        if got == dot:
            raise AssertionError(
                f"{what}: you returned row {got}, the largest dot product, not the largest cosine "
                "similarity: scale each vector to unit length along dim=-1 first"
            )
        if got == int(sims.abs().argmax()):
            raise AssertionError(
                f"{what}: you returned row {got}, whose cosine is {sims[got]:.2f}: abs() makes an "
                "opposite direction look similar; keep the sign"
            )
        if got == int(sims.argmin()):
            raise AssertionError(f"{what}: you returned the LEAST similar row ({got}): take the argmax of the cosine")
        raise AssertionError(
            f"{what}: the most similar row is {want} (cosine {sims[want]:.2f}), you returned {got} "
            f"(cosine {sims[got]:.2f}): compare directions (unit vectors along dim=-1), not distances"
        )


@exercise(
    "03.4",
    "cam_from(acts, grads): Grad-CAM [h, w] from one image's activations and gradients [C, h, w]",
    hint="one weight per channel (an average of that channel's gradient over space), a weighted sum of the "
    "activation maps over channels, then keep only positive evidence (ReLU); no normalisation.",
)
def _check_cam_from(cam_from) -> None:
    g = torch.Generator().manual_seed(5)
    for c, h, w in [(8, 5, 6), (4, 7, 3)]:  # two shapes, both non-square
        acts = torch.rand(c, h, w, generator=g) * 3
        grads = torch.randn(c, h, w, generator=g)
        a, gr = acts.clone(), grads.clone()
        weights = grads.mean(dim=(1, 2))[:, None, None]
        raw = (weights * acts).sum(dim=0)
        expected = torch.relu(raw)
        got = cam_from(a, gr)
        assert torch.equal(a, acts) and torch.equal(gr, grads), (
            "your function changed acts or grads in place: compute new tensors (the caller still needs them)"
        )
        assert isinstance(got, torch.Tensor), f"return a tensor, got {type(got).__name__}"
        assert got.shape == (h, w), f"the CAM has the spatial shape of the maps, ({h}, {w}); got {tuple(got.shape)}" + (
            ": sum over the channel dimension without keepdim" if got.shape == (1, h, w) else ""
        )
        if torch.allclose(got, expected, atol=1e-4):
            continue
        for candidate, why in [
            (raw, "Grad-CAM keeps only the positive evidence: apply ReLU to the weighted sum"),
            (raw.abs(), "abs() turns negative evidence into positive: Grad-CAM applies ReLU, which drops it"),
            (expected / expected.max().clamp_min(1e-12), "do not normalise the map (the task asks for the raw CAM)"),
            (torch.relu(weights * acts).sum(dim=0), "apply ReLU after summing over the channels, not to each channel"),
            (
                torch.relu((grads * acts).sum(dim=0)),
                "weight each channel by the spatial MEAN of its gradient, not pixel by pixel",
            ),
            (
                torch.relu((grads.sum(dim=(1, 2))[:, None, None] * acts).sum(dim=0)),
                "the channel weight is the MEAN of the gradient over space, not its sum",
            ),
        ]:
            if torch.allclose(got, candidate, atol=1e-4):
                raise AssertionError(why)
        raise AssertionError(
            "values differ: weight each channel's activation map by the spatial mean of that "
            "channel's gradient, sum over channels, then ReLU"
        )
