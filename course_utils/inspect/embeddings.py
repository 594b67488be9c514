"""Embeddings: a classifier without its head, run in batches over many images, cached and searched.

:func:`extract_embeddings` computes them; :data:`CACHE` (an :class:`EmbeddingCache`) computes each one once:
``CACHE.embed(model, images)`` keeps vectors in memory per image, ``CACHE.embed_dataset(clf, dataset)`` also
stores a dataset's vectors on disk. Both forget a model's vectors as soon as its weights change.
"""

from __future__ import annotations

import hashlib
import inspect
import weakref
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from filelock import FileLock
from PIL import Image
from torch import nn
from torchvision.transforms import v2
from tqdm.auto import tqdm

from ..core import settings
from ..core.device import eval_mode, model_device
from ..core.errors import EmbeddingError, InputShapeError
from ..core.files import save_atomic
from ..core.validate import MIN_IMAGE_SIZE
from ..data.images import ImageInput, Images, image_sources, load_image, to_batch
from ..models.inference import placed
from ..models.registry import Classifier
from ..models.surgery import backbone, state_token

__all__ = [
    "CACHE",
    "EmbeddingCache",
    "augmented_views",
    "cosine_similarity_matrix",
    "extract_embeddings",
    "image_key",
    "nearest_neighbours",
]


def _headless(module: nn.Module) -> nn.Module:
    """:func:`~course_utils.models.surgery.backbone` of ``module``, with every train/eval flag of ``module`` kept
    (tracing sets them; the backbone shares ``module``'s layers)."""
    with eval_mode(module):
        return backbone(module)


def _unwrapped(
    model: nn.Module | Classifier, preprocess: Callable | None, device: torch.device | str | None
) -> tuple[nn.Module, Callable | None, torch.device | str | None]:
    """``(module, preprocess, device)``: a :class:`Classifier`'s own module, and its preprocessing and device
    where none is given; any other module as it is."""
    if isinstance(model, Classifier):
        return model.model, preprocess or model.preprocess, device or model.device
    return model, preprocess, device


def extract_embeddings(
    model: nn.Module | Classifier,
    images: Images,
    preprocess: Callable | None = None,
    batch_size: int = 32,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> torch.Tensor:
    """Embeddings ``[N, D]`` (float32, on the CPU) of many images, computed batch by batch.

    ``model`` is a :class:`Classifier` (its backbone and preprocessing are used) or any
    module that maps a batch to features. ``images`` as :func:`~course_utils.data.images.to_batch` takes
    them: a 4-D tensor is a preprocessed batch; anything else is images (a folder, a list, one image; a 2-D or
    3-D tensor is one raw image), loaded and preprocessed ``batch_size`` at a time with ``preprocess`` (required
    unless ``model`` is a Classifier). Runs in eval mode on ``device`` (default: where the model is); the
    model itself stays as it was: its train/eval flags, device and memory format.
    """
    is_classifier = isinstance(model, Classifier)
    model, preprocess, device = _unwrapped(model, preprocess, device)
    if is_classifier:
        model = _headless(model)
    device = torch.device(device) if device is not None else model_device(model)
    checks = {"channels": 3, "min_size": MIN_IMAGE_SIZE} if is_classifier else {}
    if isinstance(images, torch.Tensor) and images.ndim not in (2, 3):
        chunks = list(to_batch(images, where="extract_embeddings", error=EmbeddingError, **checks).split(batch_size))
        total = len(chunks)
    else:
        if preprocess is None:
            raise EmbeddingError("pass preprocess= (e.g. weights.transforms()) to embed raw images")
        items = image_sources(images)
        chunks = (
            to_batch(items[i : i + batch_size], preprocess, where="extract_embeddings", error=EmbeddingError)
            for i in range(0, len(items), batch_size)
        )
        total = -(-len(items) // batch_size)
    out = []
    with eval_mode(model), placed(model, device):
        for chunk in tqdm(chunks, total=total, desc="embeddings", disable=not progress or total < 2):
            try:
                with torch.inference_mode():
                    out.append(model(chunk.to(device)).float().cpu())
            except RuntimeError as exc:
                raise EmbeddingError(
                    f"extract_embeddings: {type(model).__name__} could not run on the batch ({exc}); "
                    "check the channel count, dtype and image size the model expects"
                ) from None
    if not out:
        raise EmbeddingError("no images to embed: pass a non-empty list")
    return torch.cat(out)


#: What :meth:`EmbeddingCache.embed` takes: the arguments of :func:`extract_embeddings`.
_EXTRACT_ARGUMENTS = inspect.signature(extract_embeddings)


# --- augmented views, the cache, similarity search ----------------------------------------------------------


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


def _weights_fingerprint(model: nn.Module) -> str:
    """A hash of every tensor in ``model``'s state_dict (the same across processes, unlike a state token)."""
    digest = hashlib.sha256()
    for name, t in model.state_dict().items():
        digest.update(name.encode())
        digest.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


class EmbeddingCache:
    """Embeddings computed once per model and image: in memory, and for datasets also on disk.

    A model's entry holds its feature extractor and its vectors, keyed by the image's pixels and the
    preprocessing; when the model's weights change (training steps, ``load_state_dict``) the entry is made
    afresh (:func:`~course_utils.models.surgery.state_token`). A deleted model takes its entry with it.
    ``hits`` and ``misses`` count images.
    """

    def __init__(self) -> None:
        self._store: weakref.WeakKeyDictionary[nn.Module, dict[bool, dict]] = weakref.WeakKeyDictionary()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return sum(len(entry["vectors"]) for entries in self._store.values() for entry in entries.values())

    def clear(self) -> None:
        """Forget everything held in memory (files on disk stay)."""
        self._store = weakref.WeakKeyDictionary()
        self.hits = self.misses = 0

    def _entry(self, module: nn.Module, headless: bool) -> dict:
        """The entry of ``module`` as it runs: whole (``headless=False``) or cut to its features."""
        token = state_token(module)
        entries = self._store.setdefault(module, {})
        entry = entries.get(headless)
        if entry is None or entry["token"] != token:
            net = _headless(module) if headless else module
            entry = entries[headless] = {"token": token, "net": net, "vectors": {}, "fingerprint": None}
        return entry

    def backbone(self, clf: Classifier) -> nn.Module:
        """The feature extractor of ``clf`` (built once per weights, then reused)."""
        return self._entry(clf.model, True)["net"]

    def embed(self, model: nn.Module | Classifier, images: Images, *args, **kwargs) -> torch.Tensor:
        """Embeddings ``[N, D]`` of ``images``; only unseen images run through the model.

        Takes the arguments of :func:`extract_embeddings` (``preprocess``, ``batch_size``, ``device``,
        ``progress``), with the same defaults. The cache is keyed by pixels, so it takes images (a folder, a list,
        one image; a 2-D or 3-D tensor is one raw image), not a preprocessed 4-D batch: that one goes to
        :func:`extract_embeddings`.
        """
        call = _EXTRACT_ARGUMENTS.bind(model, images, *args, **kwargs)  # a wrong argument fails as in any call
        call.apply_defaults()
        options = call.arguments
        module, preprocess, device = _unwrapped(model, options["preprocess"], options["device"])
        try:
            sources = image_sources(images)
        except InputShapeError:
            raise EmbeddingError(
                "the cache embeds images (paths, PIL images, arrays), not a preprocessed batch; "
                "call extract_embeddings() for a 4-D tensor"
            ) from None
        if preprocess is None:
            raise EmbeddingError("pass preprocess= (e.g. weights.transforms()) to embed raw images")
        items = [load_image(x) for x in sources]
        if not items:
            raise EmbeddingError("no images to embed: pass a non-empty list")
        entry = self._entry(module, isinstance(model, Classifier))
        keys = [(id(preprocess), image_key(img)) for img in items]
        todo = {k: img for k, img in zip(keys, items) if k not in entry["vectors"]}
        self.misses += len(todo)
        self.hits += len(keys) - len(todo)
        if todo:
            fresh = extract_embeddings(
                entry["net"], list(todo.values()), preprocess, options["batch_size"], device, options["progress"]
            )
            entry["vectors"].update(zip(todo, fresh))
        return torch.stack([entry["vectors"][k] for k in keys])

    def dataset_key(self, clf: Classifier, dataset, preprocess: Callable) -> str:
        """Hash of what determines a dataset's embeddings: model name and weights, dataset content, preprocessing.

        Pretrained models are keyed by their weights' name; random ones by a hash of their weights, so two
        different random initialisations never share a file.
        """
        entry = self._entry(clf.model, True)
        if not clf.pretrained and entry["fingerprint"] is None:
            entry["fingerprint"] = _weights_fingerprint(clf.model)
        model_id = f"{clf.name}:{clf.weights}" if clf.pretrained else f"{clf.name}:random:{entry['fingerprint']}"
        text = f"{model_id}|{getattr(dataset, 'root', '')}:{dataset.fingerprint()}|{preprocess!r}"
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def embed_dataset(
        self,
        clf: Classifier,
        dataset,
        preprocess: Callable | None = None,
        batch_size: int = 32,
        cache_dir: str | Path | None = None,
        progress: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings ``[N, D]`` and labels ``[N]`` of ``dataset`` under the frozen backbone of ``clf``.

        Computed once and stored in ``cache_dir`` (default ``$COURSE_DATA/embeddings``) under
        :meth:`dataset_key`; later calls, also in other processes, read the file. The file is written
        atomically under a lock; a damaged file is replaced; a read-only cache is read, never written.
        """
        preprocess = preprocess or clf.preprocess
        folder = Path(cache_dir) if cache_dir is not None else settings.data_cache_dir() / "embeddings"
        path = folder / f"{clf.name}-{self.dataset_key(clf, dataset, preprocess)}.pt"
        if path.is_file():
            try:
                blob = torch.load(path, map_location="cpu", weights_only=True)
                if len(blob["x"]) == len(blob["y"]) == len(dataset.samples):
                    return blob["x"], blob["y"]
            except Exception:  # a damaged or foreign file (refused by weights_only): compute afresh, replace it
                pass
        paths = [p for p, _ in dataset.samples]
        x = extract_embeddings(self.backbone(clf), paths, preprocess, batch_size, clf.device, progress)
        y = torch.tensor(dataset.targets, dtype=torch.long)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with FileLock(str(path) + ".lock", timeout=600):
                save_atomic({"x": x, "y": y, "classes": list(dataset.classes)}, path)
        except OSError:
            pass  # a read-only cache: the embeddings are still returned, just not stored
        return x, y


#: The course's embedding cache.
CACHE = EmbeddingCache()


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
