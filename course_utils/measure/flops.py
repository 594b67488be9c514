"""Count FLOPs and parameters of any model with ``torch.utils.flop_counter.FlopCounterMode``.

FlopCounterMode counts a multiply-add as **2 FLOPs** (papers and torchvision's
``meta["_ops"]`` quote multiply-adds, "MACs", so FLOPs ≈ 2 × MACs). It counts the
matrix-like operators (convolutions, matmuls, linear layers); element-wise work such
as BatchNorm, activations and additions is left out, as in the published figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..core.device import eval_mode, model_device
from ..core.errors import ModelInputError

__all__ = ["Cost", "count_params", "make_input", "measure_cost"]


@dataclass(frozen=True)
class Cost:
    """Parameters and FLOPs of one forward pass (per batch of ``batch_size``)."""

    params: int
    flops: int
    input_shape: tuple[int, ...]
    by_operator: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def macs(self) -> int:
        """Multiply-adds (FLOPs / 2), the unit of papers and torchvision's ``_ops``."""
        return self.flops // 2

    @property
    def gflops(self) -> float:
        return self.flops / 1e9

    @property
    def mparams(self) -> float:
        return self.params / 1e6

    def __str__(self) -> str:
        return (
            f"{_human(self.params)} params · {_human(self.flops)} FLOPs "
            f"({_human(self.macs)} multiply-adds) for input {list(self.input_shape)}"
        )


def _human(n: int) -> str:
    """3504872 → '3.5 M', 2336 → '2,336' (below a million stays exact)."""
    for scale, unit in ((1e9, "G"), (1e6, "M")):
        if n >= scale:
            return f"{n / scale:.3g} {unit}" if n < 100 * scale else f"{n / scale:.0f} {unit}"
    return f"{n:,}"


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared tensors counted once)."""
    if not isinstance(model, nn.Module):
        raise ModelInputError(f"count_params expects an nn.Module, got {type(model).__name__}")
    seen: dict[int, int] = {}
    for p in model.parameters():
        if not trainable_only or p.requires_grad:
            seen[id(p)] = p.numel()
    return sum(seen.values())


def make_input(
    input_size: int | Sequence[int] = 224,
    batch_size: int = 1,
    channels: int = 3,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """A random ``[batch_size, channels, H, W]`` input (``input_size`` is an int or ``(H, W)``)."""
    if isinstance(input_size, int):
        h = w = input_size
    else:
        if len(input_size) != 2:
            raise ModelInputError(f"input_size must be an int or (H, W), got {tuple(input_size)!r}")
        h, w = input_size
    if min(h, w, batch_size, channels) < 1:
        raise ModelInputError(f"input sizes must be positive, got batch {batch_size}, channels {channels}, {h}×{w}")
    return torch.randn(batch_size, channels, int(h), int(w), device=device, dtype=dtype)


@torch.no_grad()
def measure_cost(
    model: nn.Module,
    inputs: torch.Tensor | Sequence[torch.Tensor] | None = None,
    input_size: int | Sequence[int] = 224,
    batch_size: int = 1,
) -> Cost:
    """Parameters and FLOPs (FlopCounterMode: 2 per multiply-add) of one forward pass in eval mode.

    ``inputs`` may be a tensor or a tuple of tensors; without it a random ``[batch_size, 3, H, W]``
    batch is made on the model's device. The model's train/eval mode is restored afterwards.
    """
    if not isinstance(model, nn.Module):
        raise ModelInputError(f"measure_cost expects an nn.Module, got {type(model).__name__}")
    if inputs is None:
        inputs = make_input(input_size, batch_size, device=model_device(model))
    args = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    try:
        with eval_mode(model), FlopCounterMode(display=False) as counter:
            model(*args)
    except RuntimeError as exc:
        shape = [tuple(a.shape) for a in args if isinstance(a, torch.Tensor)]
        raise ModelInputError(
            f"{type(model).__name__} could not run on input of shape {shape}: {exc}. "
            "Check the channel count, the dtype (float32) and that H and W are large enough."
        ) from None
    by_op = {str(op).removeprefix("aten."): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    shape = tuple(args[0].shape) if isinstance(args[0], torch.Tensor) else ()
    return Cost(count_params(model), int(counter.get_total_flops()), shape, by_op)
