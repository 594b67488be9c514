"""Reference solutions, one module per notebook (``SOLUTIONS`` and typical ``WRONG`` answers)."""

__all__ = []
