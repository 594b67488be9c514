"""Errors a learner can hit while exporting, quantizing or running a model outside eager PyTorch."""

from __future__ import annotations

from ..errors import CourseError


class DeployError(CourseError, RuntimeError):
    """Base class of the deployment errors."""


class RuntimeMissingError(DeployError, ImportError):
    """An optional runtime (ONNX Runtime, ExecuTorch) is not installed or fails to import."""


class ExportError(DeployError):
    """A module could not be captured as a graph (torch.export, ONNX, ExecuTorch)."""


class ModelFileError(DeployError, ValueError):
    """An exported file (.onnx, .pte) is missing, empty or corrupt."""


class WrongDeviceError(DeployError, ValueError):
    """The model and its example input are on different devices, or a runtime needs another device."""


__all__ = ["DeployError", "ExportError", "ModelFileError", "RuntimeMissingError", "WrongDeviceError"]
