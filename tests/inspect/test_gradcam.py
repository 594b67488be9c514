"""course_utils.inspect.gradcam on the real EfficientNet-Lite0: the cat's evidence lies on the cat."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from course_utils.core.errors import CourseError, GradCAMError, LayerNotFoundError  # noqa: E402
from course_utils.data.images import sample_image  # noqa: E402
from course_utils.inspect import (  # noqa: E402
    grad_cam,
    grad_cam_map,
    hook_count,  # noqa: E402
    mass_inside,
    to_display,
)
from course_utils.plots import overlay, plot_gradcam  # noqa: E402

CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat"}


@pytest.fixture(scope="module")
def pair(lite0):
    """The cat (left half) and the espresso (right half) in one [1, 3, 224, 448] input."""
    return torch.cat([lite0.preprocess(sample_image("chelsea")), lite0.preprocess(sample_image("coffee"))], dim=2)[None]


def test_cam_from_formula():
    g = torch.Generator().manual_seed(0)
    acts, grads = torch.rand(2, 6, 3, 4, generator=g), torch.randn(2, 6, 3, 4, generator=g)
    cam = grad_cam_map(acts, grads)
    manual = torch.stack([torch.relu(sum(grads[n, c].mean() * acts[n, c] for c in range(6))) for n in range(2)])
    assert cam.shape == (2, 3, 4) and torch.allclose(cam, manual, atol=1e-5)
    assert torch.allclose(grad_cam_map(acts[0], grads[0]), manual[0], atol=1e-5)
    with pytest.raises(GradCAMError):
        grad_cam_map(acts, grads[:, :3])


@pytest.mark.parametrize("cls, half", [("tabby", "left"), ("tiger cat", "left"), ("espresso", "right")])
def test_gradcam_finds_the_object_of_the_class(lite0, pair, cls, half):
    result = grad_cam(lite0, pair, "_conv_head", classes=lite0.categories.index(cls))
    cam = result.cam[0]
    assert cam.shape == (224, 448) and float(cam.min()) >= 0 and float(cam.max()) == pytest.approx(1.0)
    box = (0, 0, 224, 224) if half == "left" else (224, 0, 448, 224)
    assert mass_inside(cam, box) > 0.7, f"{cls}: most Grad-CAM mass should lie on the {half} half"
    assert result.raw.shape == (1, 7, 14) and result.classes == [lite0.categories.index(cls)]


def test_gradcam_matches_backward_hooks_and_leaves_no_trace(lite0, pair):
    model = lite0.model
    cls = lite0.categories.index("espresso")
    store = {}
    h1 = model._conv_head.register_forward_hook(lambda m, i, o: store.__setitem__("act", o.detach()))
    h2 = model._conv_head.register_full_backward_hook(lambda m, gi, go: store.__setitem__("grad", go[0].detach()))
    try:
        model(pair)[0, cls].backward()
    finally:
        h1.remove()
        h2.remove()
        model.zero_grad(set_to_none=True)
    expected = grad_cam_map(store["act"], store["grad"])
    result = grad_cam(lite0, pair, "_conv_head", classes=cls)
    # Tolerance scaled to the map: the shared model may run channels-last (after predict_proba), whose
    # kernels sum in another order.
    assert torch.allclose(result.raw, expected, rtol=1e-3, atol=1e-4 * float(expected.abs().max()))
    assert hook_count(model) == 0 and all(p.grad is None for p in model.parameters())
    assert not model.training


def test_gradcam_on_images_default_class_frozen_and_train_mode(lite0):
    model = lite0.model
    for p in model.parameters():
        p.requires_grad_(False)
    model.train()
    try:
        result = grad_cam(lite0, [sample_image("chelsea"), sample_image("coffee")], "_blocks.15")
        assert model.training  # the mode is restored
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
        model.eval()
    labels = [lite0.categories[c] for c in result.classes]
    assert labels[0] in CAT_CLASSES and labels[1] == "espresso"
    assert result.cam.shape == (2, 224, 224) and len(result.scores) == 2


def test_gradcam_bad_inputs_are_course_errors(lite0, pair):
    with pytest.raises(LayerNotFoundError):
        grad_cam(lite0, pair, "layer4")
    with pytest.raises(GradCAMError, match="pick a layer"):
        grad_cam(lite0, pair, "_fc")
    with pytest.raises(GradCAMError, match="0..999"):
        grad_cam(lite0, pair, "_conv_head", classes=1000)
    with pytest.raises(GradCAMError, match="one class index"):
        grad_cam(lite0, pair, "_conv_head", classes=[1, 2])
    with pytest.raises(GradCAMError, match="preprocess"):
        grad_cam(lite0.model, sample_image("chelsea"), "_conv_head")
    with pytest.raises(CourseError):
        grad_cam(lite0, torch.zeros(1, 1, 32, 32), "_conv_head")
    assert hook_count(lite0.model) == 0


def test_mass_inside():
    cam = torch.zeros(10, 20)
    cam[2:4, 15:18] = 1.0
    assert mass_inside(cam, (10, 0, 20, 10)) == pytest.approx(1.0)
    assert mass_inside(cam, (0, 0, 10, 10)) == 0.0
    assert mass_inside(cam, (0, 0, 16, 10)) == pytest.approx(1 / 3)
    assert mass_inside(torch.zeros(4, 4), (0, 0, 2, 2)) == 0.0
    with pytest.raises(GradCAMError):
        mass_inside(cam[None], (0, 0, 1, 1))


def test_to_display_undoes_the_normalisation(lite0):
    img = sample_image("coffee")
    shown = to_display(lite0.preprocess(img), lite0.preprocess)
    crop = np.asarray(v2.Compose([v2.Resize(256, interpolation=v2.InterpolationMode.BICUBIC), v2.CenterCrop(224)])(img))
    assert shown.shape == (224, 224, 3) and 0 <= shown.min() and shown.max() <= 1
    assert np.abs(shown - crop / 255.0).mean() < 0.01
    stretched = to_display(torch.randn(3, 8, 8))
    assert stretched.min() == pytest.approx(0.0) and stretched.max() == pytest.approx(1.0)


def test_overlay_and_figure():
    image = np.full((16, 32, 3), 0.5, dtype=np.float32)
    cam = torch.zeros(16, 32)
    cam[:, 16:] = 1.0
    mixed = overlay(image, cam, alpha=0.5)
    assert mixed.shape == (16, 32, 3) and 0 <= mixed.min() and mixed.max() <= 1
    assert not np.allclose(mixed[:, :16], mixed[:, 16:])
    with pytest.raises(GradCAMError, match="differ in size"):
        overlay(image, torch.zeros(8, 8))
    fig = plot_gradcam([image, image], [cam, cam], ["a", "b"])
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    with pytest.raises(GradCAMError):
        plot_gradcam([image], [cam, cam])
    matplotlib.pyplot.close("all")


def test_gradcam_follows_the_object_not_the_side(lite0):
    """Swap the halves: the evidence moves with the objects."""
    swapped = torch.cat([lite0.preprocess(sample_image("coffee")), lite0.preprocess(sample_image("chelsea"))], dim=2)
    swapped = swapped[None]  # a preprocessed batch of one [1, 3, 224, 448] (a 3-D tensor would be a raw image)
    tabby = grad_cam(lite0, swapped, "_conv_head", classes=lite0.categories.index("tabby")).cam[0]
    espresso = grad_cam(lite0, swapped, "_conv_head", classes=lite0.categories.index("espresso")).cam[0]
    assert mass_inside(tabby, (224, 0, 448, 224)) > 0.7
    assert mass_inside(espresso, (0, 0, 224, 224)) > 0.7
