"""Argument checks shared by the lesson helpers: one message for a size that must be a positive whole number."""

from __future__ import annotations

from ..core.errors import ExperimentError

__all__ = ["positive"]


def positive(name: str, value: int) -> int:
    """``value`` when it is a positive ``int`` (not a ``bool``), else :class:`ExperimentError` naming ``name``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ExperimentError(f"{name}={value!r}: must be a positive whole number")
    return value
