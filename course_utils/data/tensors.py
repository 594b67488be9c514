"""A dataset held as tensors: draw n images per class, split off a validation set, batch it fast, augment whole batches.

Fashion-MNIST fits in memory as uint8 (``data.fashion_mnist``), so a training loop needs no ``Dataset`` of
PIL images and no worker processes: :class:`TensorLoader` slices a shuffled batch out of the tensor,
converts it to float once, and augments the whole batch at once (:class:`RandomCropFlip`), every image
with its own random crop and flip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from ..core.errors import DatasetError

__all__ = ["RandomCropFlip", "TensorLoader", "per_class", "split_off"]


def per_class(labels: torch.Tensor, n: int, seed: int = 0, exclude: torch.Tensor | None = None) -> torch.Tensor:
    """Sorted indices of ``n`` random images of every class in ``labels`` (another draw for every ``seed``).

    ``exclude`` (indices) are never drawn, e.g. the validation images.
    """
    if n < 1:
        raise DatasetError(f"n={n!r}: draw at least 1 image per class")
    allowed = torch.ones(len(labels), dtype=torch.bool)
    if exclude is not None:
        allowed[exclude] = False
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in labels.unique().tolist():
        idx = ((labels == c) & allowed).nonzero().flatten()
        if len(idx) < n:
            raise DatasetError(f"class {c} has {len(idx)} image(s) to draw from, fewer than n={n}")
        picks.append(idx[torch.randperm(len(idx), generator=g)[:n]])
    return torch.cat(picks).sort().values


def split_off(labels: torch.Tensor, per_class_val: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rest, validation)``: ``per_class_val`` random images of each class go to validation, the rest stay."""
    val = per_class(labels, per_class_val, seed=seed)
    rest = torch.ones(len(labels), dtype=torch.bool)
    rest[val] = False
    return rest.nonzero().flatten(), val


class RandomCropFlip:
    """Per-image augmentation of a float batch ``[B, C, H, W]``: a random crop after zero ``padding``, and a
    horizontal flip with probability ½ when ``flip`` (right for clothes, wrong for digits or text).

    The same as torchvision's ``RandomCrop(H, padding)`` + ``RandomHorizontalFlip()`` applied image by image,
    done for the whole batch with one gather. It has its own generator, so a seed gives the same crops.
    """

    def __init__(self, padding: int = 2, flip: bool = True, seed: int = 0) -> None:
        if padding < 0:
            raise DatasetError(f"padding={padding!r}: use 0 or more pixels")
        self.padding, self.flip = padding, flip
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        p, dev = self.padding, x.device
        if p:
            padded = torch.nn.functional.pad(x, (p, p, p, p))
            dy = torch.randint(0, 2 * p + 1, (b, 1), generator=self.generator).to(dev)
            dx = torch.randint(0, 2 * p + 1, (b, 1), generator=self.generator).to(dev)
            rows = (dy + torch.arange(h, device=dev))[:, :, None]  # [B, H, 1]
            cols = (dx + torch.arange(w, device=dev))[:, None, :]  # [B, 1, W]
            x = padded[torch.arange(b, device=dev)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
        if self.flip:
            mirror = (torch.rand(b, generator=self.generator) < 0.5).to(dev)
            x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
        return x.contiguous()

    def __repr__(self) -> str:
        return f"RandomCropFlip(padding={self.padding}, flip={self.flip})"


class TensorLoader:
    """Batches ``(transform(images[i] / 255), labels[i])`` from uint8 ``images`` ``[N, C, H, W]``.

    Like a ``DataLoader`` over a tensor dataset, without per-item Python: ``shuffle`` draws a new order every
    epoch from its own generator (``seed``), ``transform`` maps a whole float batch (on ``device``), e.g.
    augmentation or resizing and normalisation for a pretrained model.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int = 128,
        shuffle: bool = False,
        seed: int = 0,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        device: torch.device | str = "cpu",
        drop_last: bool = False,
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise DatasetError(
                f"images: expected uint8 [N, C, H, W], got {images.dtype} {tuple(images.shape)}; "
                "pass the images of load_fashion_mnist() (or a slice of them)"
            )
        if len(images) != len(labels):
            raise DatasetError(f"{len(images)} images but {len(labels)} labels")
        if batch_size < 1:
            raise DatasetError(f"batch_size={batch_size!r}: use 1 or more")
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.transform, self.device = transform, torch.device(device)
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for k in range(len(self)):
            idx = order[k * self.batch_size : (k + 1) * self.batch_size]
            x = self.images[idx].to(self.device, non_blocking=True).float().div_(255)
            if self.transform is not None:
                x = self.transform(x)
            yield x, self.labels[idx].to(self.device, non_blocking=True)
