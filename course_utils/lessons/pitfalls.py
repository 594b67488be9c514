"""Common inference and training pitfalls: a symptom → cause → fix box, and two safe defaults."""

from __future__ import annotations

import html
import multiprocessing
import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from ..core.device import eval_mode, model_device
from ..core.errors import ModelInputError
from ..core.notebook import in_notebook

__all__ = ["Pitfall", "default_num_workers", "min_input_size", "pitfall"]


@dataclass(frozen=True)
class Pitfall:
    """One pitfall as the course shows it: what you see, why, what to do, and what was measured."""

    title: str
    symptom: str
    cause: str
    fix: str
    measured: str = ""

    def __str__(self) -> str:
        lines = [
            f"⚠ {self.title}",
            f"  symptom : {self.symptom}",
            f"  cause   : {self.cause}",
            f"  fix     : {self.fix}",
        ]
        if self.measured:
            lines.append(f"  measured: {self.measured}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        rows = [("Symptom", self.symptom, "#721c24"), ("Cause", self.cause, "#856404"), ("Fix", self.fix, "#155724")]
        if self.measured:
            rows.append(("Measured here", self.measured, "#0c5460"))
        body = "".join(
            f'<tr><td style="padding:2px 10px 2px 0;color:{c};font-weight:600;vertical-align:top">{k}</td>'
            f'<td style="padding:2px 0;text-align:left">{html.escape(v)}</td></tr>'
            for k, v, c in rows
        )
        return (
            f'<div style="border-left:4px solid #c44e52;background:#f8f9fa;padding:6px 12px;margin:4px 0">'
            f"<b>{html.escape(self.title)}</b><table style='margin:4px 0'>{body}</table></div>"
        )


def pitfall(title: str, symptom: str, cause: str, fix: str, measured: str = "") -> Pitfall:
    """A :class:`Pitfall` box (rendered as HTML in Jupyter, as text elsewhere)."""
    box = Pitfall(title, symptom, cause, fix, measured)
    if not in_notebook():
        print(box)
    return box


def default_num_workers(max_workers: int = 4) -> int:
    """A safe ``DataLoader(num_workers=...)`` for this process.

    With the ``spawn``/``forkserver`` start methods (Windows, macOS, Python ≥ 3.14 on Linux)
    each worker re-imports the dataset by name, which fails for classes defined in a notebook
    (``__main__``); then 0 (load in the main process) is the safe choice. With ``fork`` it is
    ``min(max_workers, CPUs - 1)``.
    """
    method = multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_context().get_start_method()
    if method != "fork":
        return 0
    return max(0, min(max_workers, (os.cpu_count() or 1) - 1))


@torch.inference_mode()
def min_input_size(model: nn.Module, sizes: Iterable[int] = range(1, 257), channels: int = 3) -> int:
    """Smallest square input side (from ``sizes``, ascending) that ``model`` accepts in eval mode.

    Sizes are tried from small to large with a batch of one; the model's train/eval mode is
    restored afterwards.
    """
    device = model_device(model)
    with eval_mode(model):
        for s in sorted(sizes):
            try:
                model(torch.zeros(1, channels, s, s, device=device))
                return s
            except RuntimeError:
                continue
    raise ModelInputError(
        f"{type(model).__name__} accepted none of the sizes tried; try larger sizes= "
        f"or check that the input has {channels} channels"
    )
