"""Notebook 01's residual-network helpers under one name, gathered from the modules that hold them::

    from course_utils.lessons import residual as rb
    x, y, classes = rb.photo_patches()
    norms = rb.gradient_norms(rb.deep_cnn(16, residual=True), x[:64], y[:64])

:mod:`.plain_vs_residual` (deep plain/residual twins, gradient norms, block probes), :mod:`.patches` (a patch
dataset cut from the bundled photos) and :mod:`.shapes` (shape tables). Training on real data: notebook 10.
"""

from __future__ import annotations

from .patches import Patches, photo_patches
from .plain_vs_residual import TwinBlock, block_changes, deep_cnn, gradient_norms
from .shapes import ShapeRow, format_shape_table, shape_table

__all__ = [
    "Patches",
    "ShapeRow",
    "TwinBlock",
    "block_changes",
    "deep_cnn",
    "format_shape_table",
    "gradient_norms",
    "photo_patches",
    "shape_table",
]
