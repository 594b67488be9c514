"""course_utils.inspect.embeddings: backbone, batched and cached extraction, augmented views, similarity search."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from course_utils.core.errors import CourseError, EmbeddingError  # noqa: E402
from course_utils.data.images import SAMPLE_IMAGES, sample_image  # noqa: E402
from course_utils.inspect import embeddings  # noqa: E402
from course_utils.models import backbone  # noqa: E402
from course_utils.plots import plot_similarity  # noqa: E402

TINY_PREPROCESS = v2.Compose([v2.ToImage(), v2.Resize((16, 16), antialias=True), v2.ToDtype(torch.float32, scale=True)])


def _tiny_embedder() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(1)).eval()


def _colour_images(n: int) -> list[Image.Image]:
    return [Image.new("RGB", (20 + i, 18), (40 * i % 256, 255 - 30 * i % 256, 17 * i % 256)) for i in range(n)]


def test_backbone_equals_forward_features(lite0):
    x = torch.stack([lite0.preprocess(sample_image(n)) for n in ("chelsea", "rocket")])
    with torch.inference_mode():
        assert torch.allclose(
            backbone(lite0)(x), lite0.model.forward_head(lite0.model.forward_features(x), pre_logits=True), atol=1e-5
        )


def test_augmented_views_are_reproducible_and_leave_global_rng_alone():
    img = sample_image("chelsea")
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    views = embeddings.augmented_views(img, n=3, seed=7)
    assert torch.equal(torch.rand(1), before)  # the global random state was not consumed
    again = embeddings.augmented_views(img, n=3, seed=7)
    other = embeddings.augmented_views(img, n=3, seed=8)
    assert len(views) == 3 and all(v.size == (300, 300) for v in views)  # square crops of the short side
    assert [embeddings.image_key(v) for v in views] == [embeddings.image_key(v) for v in again]
    assert [embeddings.image_key(v) for v in views] != [embeddings.image_key(v) for v in other]
    with pytest.raises(EmbeddingError):
        embeddings.augmented_views(img, n=0)


def test_cache_hits_misses_and_equality():
    model, images = _tiny_embedder(), _colour_images(5)
    cache = embeddings.EmbeddingCache()
    first = cache.embed(model, images[:3], TINY_PREPROCESS, batch_size=2, progress=False)
    assert (cache.hits, cache.misses, len(cache)) == (0, 3, 3)
    both = cache.embed(model, images, TINY_PREPROCESS, batch_size=2, progress=False)
    assert (cache.hits, cache.misses, len(cache)) == (3, 5, 5)
    direct = embeddings.extract_embeddings(model, images, TINY_PREPROCESS, batch_size=2, progress=False)
    assert both.shape == (5, 8) and torch.allclose(both, direct, atol=1e-6)
    assert torch.equal(both[:3], first)
    # the same pixels in a new object hit the cache
    cache.embed(model, [images[0].copy()], TINY_PREPROCESS, progress=False)
    assert cache.hits == 4


def test_cache_embed_takes_the_arguments_of_extract_embeddings():
    """Positionally or by name, with the same defaults; a wrong name fails at once, as in a call, even on a hit."""
    model, images = _tiny_embedder(), _colour_images(3)
    cache = embeddings.EmbeddingCache()
    positional = cache.embed(model, images, TINY_PREPROCESS, 2, "cpu", False)
    direct = embeddings.extract_embeddings(model, images, TINY_PREPROCESS, 2, "cpu", False)
    assert torch.allclose(positional, direct, atol=1e-6)
    with pytest.raises(TypeError, match="batchsize"):
        cache.embed(model, images, TINY_PREPROCESS, batchsize=2)
    with pytest.raises(TypeError, match="multiple values"):
        cache.embed(model, images, TINY_PREPROCESS, preprocess=TINY_PREPROCESS)


def test_cache_recomputes_after_the_weights_change():
    model, images = _tiny_embedder(), _colour_images(2)
    cache = embeddings.EmbeddingCache()
    before = cache.embed(model, images, TINY_PREPROCESS, progress=False)
    with torch.no_grad():
        model[0].weight.mul_(2.0)  # e.g. an optimizer step
    after = cache.embed(model, images, TINY_PREPROCESS, progress=False)
    assert cache.misses == 4 and not torch.allclose(before, after)
    assert torch.allclose(
        after, embeddings.extract_embeddings(model, images, TINY_PREPROCESS, progress=False), atol=1e-6
    )
    cache.clear()
    assert len(cache) == 0 and cache.hits == cache.misses == 0


def test_cache_errors_are_course_errors():
    cache, model = embeddings.EmbeddingCache(), _tiny_embedder()
    with pytest.raises(EmbeddingError, match="preprocess"):
        cache.embed(model, _colour_images(1))
    with pytest.raises(EmbeddingError, match="preprocessed batch"):
        cache.embed(model, torch.zeros(2, 3, 16, 16), TINY_PREPROCESS)
    with pytest.raises(CourseError, match="non-empty"):
        cache.embed(model, [], TINY_PREPROCESS)


def test_cosine_similarity_and_nearest_neighbours():
    a = torch.tensor([[1.0, 0.0], [10.0, 10.0], [0.0, -3.0]])
    sim = embeddings.cosine_similarity_matrix(a)
    assert torch.allclose(sim.diagonal(), torch.ones(3)) and torch.allclose(sim, sim.T)
    assert sim[0, 1] == pytest.approx(2**-0.5, abs=1e-6) and sim[0, 2] == pytest.approx(0.0, abs=1e-6)
    scores, idx = embeddings.nearest_neighbours(torch.tensor([[2.0, 1.9]]), a, k=2)
    assert idx.tolist() == [[1, 0]] and scores[0, 0] > scores[0, 1]
    _, idx = embeddings.nearest_neighbours(a, k=1, exclude_self=True)
    assert idx[:, 0].tolist() == [1, 0, 0]
    with pytest.raises(EmbeddingError, match="k=3"):
        embeddings.nearest_neighbours(a, k=3, exclude_self=True)
    with pytest.raises(EmbeddingError, match="unsqueeze"):
        embeddings.cosine_similarity_matrix(torch.ones(4))
    with pytest.raises(EmbeddingError, match="same model"):
        embeddings.cosine_similarity_matrix(a, torch.ones(2, 5))
    with pytest.raises(EmbeddingError, match="gallery"):
        embeddings.nearest_neighbours(a, a[:2], exclude_self=True)


def test_augmented_cat_finds_the_original_cat(lite0):
    """Real weights, real structure: every augmented crop of the cat is nearest to the cat photo."""
    names = list(SAMPLE_IMAGES)
    originals = [sample_image(n) for n in names]
    cache = embeddings.EmbeddingCache()
    gallery = cache.embed(lite0, originals, progress=False)
    views = [v for seed in range(3) for v in embeddings.augmented_views(originals[0], n=2, seed=seed)]
    queries = cache.embed(lite0, views, progress=False)
    assert gallery.shape == (5, 1280) and queries.shape == (6, 1280)
    _, idx = embeddings.nearest_neighbours(queries, gallery)
    assert [names[i] for i in idx[:, 0].tolist()] == ["chelsea"] * 6


def test_similarity_heatmap():
    sim = embeddings.cosine_similarity_matrix(torch.randn(4, 6, generator=torch.Generator().manual_seed(0)))
    fig = plot_similarity(sim, list("abcd"), title="t", annotate=True)
    assert isinstance(fig, Figure)
    with pytest.raises(EmbeddingError, match="one label per row"):
        plot_similarity(sim, ["a"])
    matplotlib.pyplot.close("all")


def test_cache_keeps_a_module_and_its_backbone_apart(lite0):
    """The same module embedded whole and as a Classifier (cut to its features) are two entries, never mixed."""
    cache, images = embeddings.EmbeddingCache(), [sample_image("coffee")]
    logits = cache.embed(lite0.model, images, lite0.preprocess, progress=False)
    features = cache.embed(lite0, images, progress=False)
    assert logits.shape == (1, 1000) and features.shape == (1, 1280)
    assert cache.backbone(lite0)(lite0.preprocess(images[0])[None]).shape == (1, 1280)
    assert len(cache) == 2
