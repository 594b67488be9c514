"""course_utils.data.tensors: per-class draws, validation splits, the batch loader and batched augmentation."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2

from course_utils.core.errors import DatasetError
from course_utils.data.tensors import RandomCropFlip, TensorLoader, per_class, split_off

LABELS = torch.arange(10).repeat_interleave(30)  # 10 classes, 30 images each


def test_per_class_draws_n_of_every_class_and_differs_by_seed():
    a, b = per_class(LABELS, 4, seed=0), per_class(LABELS, 4, seed=1)
    assert torch.bincount(LABELS[a]).tolist() == [4] * 10 and a.tolist() == sorted(a.tolist())
    assert not torch.equal(a, b) and torch.equal(a, per_class(LABELS, 4, seed=0))
    held = per_class(LABELS, 5, seed=3)
    assert not set(per_class(LABELS, 25, seed=0, exclude=held).tolist()) & set(held.tolist())
    with pytest.raises(DatasetError, match="fewer than n=26"):
        per_class(LABELS, 26, seed=0, exclude=held)
    with pytest.raises(DatasetError, match="at least 1"):
        per_class(LABELS, 0)


def test_split_off_is_a_stratified_partition():
    rest, val = split_off(LABELS, 3, seed=0)
    assert len(rest) + len(val) == len(LABELS) and not set(rest.tolist()) & set(val.tolist())
    assert torch.bincount(LABELS[val]).tolist() == [3] * 10


def _images(n: int = 300) -> torch.Tensor:
    return torch.randint(0, 256, (n, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)


def test_loader_batches_every_image_once_per_epoch_in_a_new_order():
    images = _images()
    loader = TensorLoader(images, LABELS, batch_size=64, shuffle=True, seed=0)
    assert len(loader) == 5
    epochs = []
    for _ in range(2):
        xs, ys = zip(*loader)
        x, y = torch.cat(xs), torch.cat(ys)
        assert x.dtype == torch.float32 and x.max() <= 1 and len(x) == 300
        order = sorted(range(300), key=lambda i: (y[i].item(), x[i].sum().item()))
        ref = sorted(range(300), key=lambda i: (LABELS[i].item(), (images[i].float() / 255).sum().item()))
        assert torch.allclose(x[order], images[ref].float() / 255)  # the same images and labels, each once
        epochs.append(y)
    assert not torch.equal(epochs[0], epochs[1])
    plain = TensorLoader(images, LABELS, batch_size=64)
    assert torch.equal(next(iter(plain))[1], LABELS[:64])
    assert len(TensorLoader(images, LABELS, batch_size=64, drop_last=True)) == 4


def test_loader_rejects_what_it_cannot_batch():
    with pytest.raises(DatasetError, match="uint8"):
        TensorLoader(_images().float(), LABELS)
    with pytest.raises(DatasetError, match="300 images but 10 labels"):
        TensorLoader(_images(), LABELS[:10])


def test_crop_flip_matches_torchvision_image_by_image():
    """Every output image is one of the crops torchvision's RandomCrop(28, padding=2) + a flip could give."""
    x = _images(16).float() / 255
    out = RandomCropFlip(padding=2, flip=True, seed=0)(x)
    flips = 0
    for i in range(16):
        padded = v2.functional.pad(x[i], [2, 2, 2, 2])
        crops = [padded[:, a : a + 28, b : b + 28] for a in range(5) for b in range(5)]
        plain = any(torch.equal(out[i], c) for c in crops)
        flipped = any(torch.equal(out[i], c.flip(-1)) for c in crops)
        assert plain or flipped
        flips += flipped and not plain
    assert 2 <= flips <= 14  # about half are mirrored
    assert not torch.equal(out, RandomCropFlip(padding=2, seed=1)(x))
    assert torch.equal(out, RandomCropFlip(padding=2, seed=0)(x))
    assert torch.equal(RandomCropFlip(padding=0, flip=False)(x), x)
