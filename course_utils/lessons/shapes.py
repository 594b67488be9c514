"""A shape table: the output shape and parameter count of each submodule, found with forward hooks on
PyTorch's ``meta`` device (no arithmetic, so even ResNet-50 takes milliseconds)::

    print(format_shape_table(shape_table(resnet50(), (1, 3, 224, 224), depth=2)))
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..core.device import eval_mode
from ..core.errors import ExperimentError
from ..inspect.hooks import HookSet
from ..measure.flops import count_params
from ..measure.report import format_table
from ._checks import positive

__all__ = ["ShapeRow", "format_shape_table", "shape_table"]


@dataclass(frozen=True)
class ShapeRow:
    """One line of a shape table."""

    name: str
    kind: str
    shape: tuple[int, ...]
    params: int


def shape_table(
    model: nn.Module, input_size: Sequence[int] = (1, 3, 224, 224), depth: int = 1, device: str | torch.device = "meta"
) -> list[ShapeRow]:
    """Output shape of each submodule ``depth`` levels down (and shallower leaves), in call order.

    By default the pass runs on PyTorch's ``meta`` device on a copy of the model: shapes are
    propagated without any arithmetic, so even a large network takes milliseconds.
    """
    positive("depth", depth)
    size = tuple(input_size)
    if len(size) < 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ExperimentError(f"input_size={input_size!r}: give positive sizes, e.g. (1, 3, 224, 224)")
    device = torch.device(device)
    probe = copy.deepcopy(model).to(device) if device.type == "meta" else model
    rows: list[ShapeRow] = []

    def hook(mod, inputs, output, name):
        out = output[0] if isinstance(output, (tuple, list)) else output
        rows.append(ShapeRow(name, type(mod).__name__, tuple(out.shape), count_params(mod)))

    with HookSet() as hooks:
        for name, m in probe.named_modules():
            level = name.count(".") + 1 if name else 0
            if level == depth or (0 < level < depth and not any(True for _ in m.children())):
                hooks.forward(m, lambda mod, i, o, name=name: hook(mod, i, o, name))
        with eval_mode(probe), torch.no_grad():
            probe(torch.zeros(size, device=device))
    return rows


def format_shape_table(rows: Sequence[ShapeRow]) -> str:
    """The rows of :func:`shape_table` as an aligned text table (:func:`~course_utils.measure.format_table`)."""
    table = [
        {"layer": r.name, "type": r.kind, "output shape": str(list(r.shape)), "params": f"{r.params:,}"} for r in rows
    ]
    return format_table(table, align="<<<>")
