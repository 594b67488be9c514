"""A small real classification set built offline in about a second: random square patches of the bundled
photos, labelled by the photo they come from (notebook 01 trains its deep twins on it)::

    x, y, classes = photo_patches(n_per_photo=128, size=12)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torchvision.transforms.v2.functional as TF

from ..core.errors import ExperimentError
from ..data.images import SAMPLE_IMAGES, sample_image
from ._checks import positive

__all__ = ["Patches", "photo_patches"]


@dataclass(frozen=True)
class Patches:
    """Image patches ``images`` [N, 3, S, S] (normalised), integer ``labels`` [N] and the class names."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]

    def __iter__(self):  # allows ``x, y, classes = photo_patches()``
        return iter((self.images, self.labels, self.classes))


def photo_patches(
    n_per_photo: int = 128,
    size: int = 16,
    min_frac: float = 0.15,
    max_frac: float = 0.4,
    photos: Iterable[str] | None = None,
    seed: int = 0,
) -> Patches:
    """A small real classification set: random square crops of the bundled photos, labelled by photo.

    For each photo, ``n_per_photo`` crops with a side between ``min_frac`` and ``max_frac`` of
    the photo's shorter side are cut at random places, randomly mirrored and resized to
    ``size``×``size``. The task — which photo does this patch come from? — needs colour and
    texture, so a CNN can learn it. Deterministic for a given ``seed``; built in memory in about
    a second; per-channel normalised to mean 0, std 1.
    """
    positive("n_per_photo", n_per_photo)
    positive("size", size)
    if not 0 < min_frac <= max_frac <= 1:
        raise ExperimentError(f"min_frac={min_frac}, max_frac={max_frac}: need 0 < min_frac <= max_frac <= 1")
    names = list(photos) if photos is not None else list(SAMPLE_IMAGES)
    if len(names) < 2:
        raise ExperimentError(f"photos={names!r}: a classification set needs at least two photos")
    gen = torch.Generator().manual_seed(seed)
    images, labels = [], []
    for label, name in enumerate(names):
        img = sample_image(name)  # raises ImageLoadError naming the photo if unknown
        scale = 4 * size / (max(min_frac, 1e-3) * min(img.size))  # shrink first: crops need ≤4× the pixels of `size`
        if scale < 1:
            img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))))
        t = TF.to_dtype(TF.pil_to_tensor(img), torch.float32, scale=True)
        h, w = t.shape[-2:]
        short = min(h, w)
        for _ in range(n_per_photo):
            side = int(short * (min_frac + (max_frac - min_frac) * torch.rand(1, generator=gen).item()))
            side = max(side, 2)
            top = int(torch.randint(h - side + 1, (1,), generator=gen))
            left = int(torch.randint(w - side + 1, (1,), generator=gen))
            patch = TF.resized_crop(t, top, left, side, side, [size, size], antialias=True)
            if torch.rand(1, generator=gen).item() < 0.5:
                patch = TF.horizontal_flip(patch)
            images.append(patch)
            labels.append(label)
    x = torch.stack(images)
    mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)
    return Patches((x - mean) / std, torch.tensor(labels), names)
