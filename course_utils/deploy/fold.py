"""Conv–BatchNorm folding the library way: a traced copy whose convolutions absorbed their BatchNorms."""

from __future__ import annotations

import torch
from torch import nn

from .errors import ExportError


def count_batchnorms(model: nn.Module) -> int:
    """How many BatchNorm layers ``model`` still contains."""
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def folded_copy(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every Conv→BatchNorm pair folded into one conv (``torch.fx`` fusion).

    ``model`` itself is never changed. Only valid for inference: folding bakes in the running statistics.
    """
    from torch.fx.experimental.optimization import fuse

    if not isinstance(model, nn.Module):
        raise ExportError(f"folded_copy expects an nn.Module, got {type(model).__name__}")
    was_training = [m.training for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            folded = fuse(model, inplace=False)
    except Exception as exc:  # torch.fx cannot trace data-dependent Python control flow
        raise ExportError(
            f"could not trace {type(model).__name__} to fold its BatchNorms "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); fold by hand or use "
            "torch.export, which handles more models"
        ) from None
    finally:
        for m, flag in zip(model.modules(), was_training):
            m.training = flag
    return folded.eval()


__all__ = ["count_batchnorms", "folded_copy"]
