"""Checker for notebook 00 (the warm-up exercise that shows how checking works)."""

from __future__ import annotations

import torch

from . import exercise


@exercise("00.1", "a batch of two RGB images of 224×224 pixels, as float zeros",
          hint="PyTorch images are [N, C, H, W]: torch.zeros(2, 3, 224, 224).")
def _check_batch(batch) -> None:
    assert isinstance(batch, torch.Tensor), f"make a torch tensor, got {type(batch).__name__}"
    assert batch.ndim == 4, f"a batch of images has 4 dimensions [N, C, H, W], yours has {batch.ndim}"
    assert tuple(batch.shape) == (2, 3, 224, 224), (
        f"expected shape (2, 3, 224, 224) — N, C, H, W — got {tuple(batch.shape)}"
    )
    assert batch.dtype == torch.float32, f"models expect float32, got {batch.dtype}"
    assert not batch.any(), "fill it with zeros"
