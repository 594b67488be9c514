"""Checker for notebook 00 (the warm-up exercise that shows how checking works)."""

from __future__ import annotations

import torch

from . import exercise

__all__ = []

_EXPECTED = (2, 3, 224, 224)


@exercise(
    "00.1",
    "a batch of two RGB images of 224×224 pixels, as float zeros",
    hint="PyTorch orders image batches as [N, C, H, W]; look up torch.zeros and its dtype argument.",
)
def _check_batch(batch) -> None:
    assert isinstance(batch, torch.Tensor), f"make a torch tensor (torch.zeros), got {type(batch).__name__}" + (
        ": NumPy arrays must be converted" if type(batch).__module__ == "numpy" else ""
    )
    shape = tuple(batch.shape)
    assert batch.ndim == 4, f"a batch of images has 4 dimensions [N, C, H, W], yours has {batch.ndim} {list(shape)}" + (
        ": the batch dimension N comes first, even for one image" if batch.ndim == 3 else ""
    )
    if shape != _EXPECTED:
        why = ""
        if shape == (2, 224, 224, 3):
            why = ": that is channels-last, as PIL and NumPy store images; PyTorch puts the channels second"
        elif shape[0] != 2:
            why = f": N is the number of images, here 2 (yours has {shape[0]})"
        elif shape[1] != 3:
            why = f": C is the number of colour channels, 3 for RGB (yours has {shape[1]})"
        raise AssertionError(f"expected shape (2, 3, 224, 224) — N, C, H, W — got {shape}{why}")
    assert batch.dtype == torch.float32, f"models expect float32 (torch's default float), got {batch.dtype}" + (
        ": images loaded as bytes must be converted" if batch.dtype == torch.uint8 else ""
    )
    assert not batch.any(), f"fill it with zeros ({int(batch.count_nonzero()):,} values are not 0)"
