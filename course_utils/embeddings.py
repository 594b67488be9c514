"""Embeddings: a classifier without its head, run in batches over many images, cached and searched."""

from __future__ import annotations

import hashlib
import itertools
import weakref
from collections.abc import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names
from torchvision.transforms import v2
from tqdm.auto import tqdm

from .checks import MIN_IMAGE_SIZE, check_batch
from .errors import CourseError
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
def extract_embeddings(
    model: nn.Module | Classifier,
    images: Iterable[ImageInput] | torch.Tensor,
    preprocess: Callable | None = None,
    batch_size: int = 32,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> torch.Tensor:
    """Embeddings ``[N, D]`` (float32, on the CPU) of many images, computed batch by batch.

    ``model`` is a :class:`Classifier` (its backbone and preprocessing are used) or any
    module that maps a batch to features. ``images`` is a preprocessed batch or an
    iterable of anything :func:`load_image` accepts (then ``preprocess`` is required
    unless ``model`` is a Classifier).
    """
    is_classifier = isinstance(model, Classifier)
    if is_classifier:
        preprocess = preprocess or model.preprocess
        device = device or model.device
        model = backbone(model)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.eval().to(device)
    if isinstance(images, torch.Tensor):
        images = check_batch(
            images,
            "extract_embeddings",
            channels=3 if is_classifier else None,
            min_size=MIN_IMAGE_SIZE if is_classifier else None,
            error=EmbeddingError,
        )
        chunks = list(images.split(batch_size))
    else:
        if preprocess is None:
            raise ValueError("pass preprocess= (e.g. weights.transforms()) to embed raw images")
        items = list(images)
        chunks = (
            torch.stack([preprocess(load_image(x)) for x in items[i : i + batch_size]])
            for i in range(0, len(items), batch_size)
        )
    total = len(chunks) if isinstance(chunks, list) else -(-len(items) // batch_size)
    try:
        out = [
            model(chunk.to(device)).float().cpu()
            for chunk in tqdm(chunks, total=total, desc="embeddings", disable=not progress or total < 2)
        ]
    except RuntimeError as exc:
        raise EmbeddingError(
            f"extract_embeddings: {type(model).__name__} could not run on the batch ({exc}); "
            "check the channel count, dtype and image size the model expects"
        ) from None
    if not out:
        raise ValueError("no images to embed")
    return torch.cat(out)


# --- augmented views, an in-memory cache, similarity search -------------------------------------------------


class EmbeddingError(CourseError, ValueError):
    """Embeddings or similarity inputs of the wrong kind or shape."""


def augmented_views(
    image: ImageInput, n: int = 3, seed: int = 0, scale: tuple[float, float] = (0.4, 0.9), flip: float = 0.5
) -> list[Image.Image]:
    """``n`` random crops (``RandomResizedCrop``, square, ``scale`` of the area) of ``image``, each
    flipped left-right with probability ``flip``; reproducible for a given ``seed`` and leaves the
    global random state alone."""
    if n < 1:
        raise EmbeddingError(f"n={n}: ask for at least one augmented view")
    img = load_image(image)
    augment = v2.Compose(
        [v2.RandomResizedCrop(min(img.size), scale=scale, antialias=True), v2.RandomHorizontalFlip(p=flip)]
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return [augment(img) for _ in range(n)]


def image_key(image: ImageInput) -> str:
    """A content hash of an image (same pixels → same key), used as the cache key."""
    img = load_image(image)
    digest = hashlib.sha1(f"{img.mode}{img.size}".encode())
    digest.update(img.tobytes())
    return digest.hexdigest()


def _state_token(model: nn.Module) -> tuple[int, ...]:
    # Every in-place update of a parameter or buffer (optimizer step, load_state_dict) bumps its version.
    return tuple(t._version for t in itertools.chain(model.parameters(), model.buffers()))


class EmbeddingCache:
    """Embeddings kept in memory per model and image, so that no image is embedded twice.

    Entries are keyed by the image's pixels, the preprocessing and the model's weights: after
    training steps or ``load_state_dict`` the model's images are embedded afresh. The cache
    forgets a model when the model is deleted. ``hits`` and ``misses`` count images.
    """

    def __init__(self) -> None:
        self._store: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return sum(len(entry["vectors"]) for entry in self._store.values())

    def clear(self) -> None:
        """Forget everything."""
        self._store = weakref.WeakKeyDictionary()
        self.hits = self.misses = 0

    def embed(
        self,
        model: nn.Module | Classifier,
        images: Iterable[ImageInput],
        preprocess: Callable | None = None,
        batch_size: int = 32,
        device: torch.device | str | None = None,
        progress: bool = True,
    ) -> torch.Tensor:
        """Embeddings ``[N, D]`` of ``images`` (as :func:`extract_embeddings`); only unseen images run through the model."""
        if isinstance(images, torch.Tensor):
            raise EmbeddingError(
                "the cache embeds images (paths, PIL images, arrays), not a preprocessed batch; "
                "call extract_embeddings() for tensors"
            )
        if isinstance(model, Classifier):
            preprocess, device, module = preprocess or model.preprocess, device or model.device, model.model
        else:
            module = model
        if preprocess is None:
            raise EmbeddingError("pass preprocess= (e.g. weights.transforms()) to embed raw images")
        items = [load_image(x) for x in images]
        if not items:
            raise EmbeddingError("no images to embed: pass a non-empty list")
        entry = self._store.get(module)
        token = _state_token(module)
        if entry is None or entry["token"] != token:
            net = backbone(module) if isinstance(model, Classifier) else module
            entry = {"token": token, "net": net, "vectors": {}}
            self._store[module] = entry
        keys = [(id(preprocess), image_key(img)) for img in items]
        todo = {k: img for k, img in zip(keys, items) if k not in entry["vectors"]}
        self.misses += len(todo)
        self.hits += len(keys) - len(todo)
        if todo:
            fresh = extract_embeddings(entry["net"], list(todo.values()), preprocess, batch_size, device, progress)
            entry["vectors"].update(zip(todo, fresh))
        return torch.stack([entry["vectors"][k] for k in keys])


#: The cache :func:`cached_embeddings` uses.
CACHE = EmbeddingCache()


def cached_embeddings(
    model: nn.Module | Classifier,
    images: Iterable[ImageInput],
    preprocess: Callable | None = None,
    batch_size: int = 32,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> torch.Tensor:
    """:func:`extract_embeddings` through the shared in-memory :data:`CACHE`: each image is embedded once."""
    return CACHE.embed(model, images, preprocess, batch_size, device, progress)


def _check_matrix(name: str, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise EmbeddingError(
            f"{name} must be a [N, D] tensor of embeddings, got {shape}; use .unsqueeze(0) for a single vector"
        )
    return x.float()


def cosine_similarity_matrix(a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """Cosine similarities ``[N, M]`` between the rows of ``a [N, D]`` and ``b [M, D]`` (default ``b = a``)."""
    a = _check_matrix("a", a)
    b = a if b is None else _check_matrix("b", b)
    if a.shape[1] != b.shape[1]:
        raise EmbeddingError(f"a has {a.shape[1]}-d rows but b has {b.shape[1]}-d rows; embed both with the same model")
    return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T


def nearest_neighbours(
    queries: torch.Tensor, gallery: torch.Tensor | None = None, k: int = 1, exclude_self: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` most cosine-similar gallery rows for each query: ``(scores [N, k], indices [N, k])``.

    Without ``gallery`` the queries are searched among themselves; ``exclude_self=True`` then
    skips each query's own row.
    """
    sim = cosine_similarity_matrix(queries, gallery)
    if exclude_self:
        if sim.shape[0] != sim.shape[1]:
            raise EmbeddingError("exclude_self=True needs the queries to be the gallery (leave gallery out)")
        sim = sim.clone().fill_diagonal_(float("-inf"))
    limit = sim.shape[1] - (1 if exclude_self else 0)
    if not 1 <= k <= limit:
        raise EmbeddingError(f"k={k}: choose 1 ≤ k ≤ {limit} (the number of gallery items)")
    return sim.topk(k, dim=1)


def similarity_heatmap(sim: torch.Tensor, labels: Sequence[str], title: str | None = None, annotate: bool = False):
    """A heatmap of a square or rectangular similarity matrix with ``labels`` on both axes; returns the figure."""
    import matplotlib.pyplot as plt

    n, m = sim.shape
    if len(labels) != n:
        raise EmbeddingError(f"{len(labels)} labels for a {n}×{m} matrix: give one label per row")
    col_labels = labels if m == n else [str(j) for j in range(m)]
    fig, ax = plt.subplots(figsize=(1.5 + 0.32 * m, 1.2 + 0.32 * n))
    im = ax.imshow(sim.detach().cpu().numpy(), cmap="viridis", vmin=min(0.0, float(sim.min())), vmax=1.0)
    ax.set_xticks(range(m), col_labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    if annotate:
        for i in range(n):
            for j in range(m):
                ax.text(j, i, f"{float(sim[i, j]):.2f}", ha="center", va="center", fontsize=6, color="w")
    fig.colorbar(im, ax=ax, fraction=0.04, label="cosine similarity")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
