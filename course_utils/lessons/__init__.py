"""Notebook-specific experiment helpers: residual-block experiments (01), pitfall boxes (07), widgets."""

__all__ = []
