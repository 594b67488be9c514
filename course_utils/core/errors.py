"""Every exception course_utils raises on purpose: a :class:`CourseError` that also subclasses the matching
builtin (``except ValueError`` keeps working). Each message names the input and says what to do."""

from __future__ import annotations

__all__ = [
    "BenchmarkError",
    "CheckpointError",
    "CourseError",
    "DataUnavailableError",
    "DatasetError",
    "DeployError",
    "DownloadError",
    "EmbeddingError",
    "ExerciseRegistryError",
    "ExperimentError",
    "ExportError",
    "FeatureMapError",
    "GradCAMError",
    "ImageLoadError",
    "InputShapeError",
    "LayerNotFoundError",
    "ModelFileError",
    "ModelInputError",
    "ModelRegistryError",
    "ModelSurgeryError",
    "PlotError",
    "RuntimeMissingError",
    "SettingError",
    "TrainingError",
    "UnknownExerciseError",
    "UnknownModelError",
    "UnsafeArchiveError",
    "WeightsUnavailableError",
    "WrongDeviceError",
]


class CourseError(Exception):
    """Base class for every error course_utils raises on purpose."""


class _PlainKeyError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


# --- core and data ------------------------------------------------------------------------------------------
class InputShapeError(CourseError, ValueError):
    """A tensor has the wrong type, rank, channel count, dtype or spatial size for a helper."""


class ImageLoadError(CourseError, ValueError):
    """An input could not be turned into an RGB image."""


class DownloadError(CourseError, RuntimeError):
    """A download failed, timed out or did not match its checksum."""


class UnsafeArchiveError(DownloadError):
    """An archive member would land outside the target folder, or is a device file."""


class DatasetError(CourseError, ValueError):
    """A dataset folder is missing, empty, unreadable or does not fit the model."""


class DataUnavailableError(DatasetError):
    """A dataset is not on this machine and cannot be downloaded now; the message names the fixes.

    In a notebook it shows as its one-line message, without a traceback: the fix is all there is to read.
    """

    def _render_traceback_(self) -> list[str]:  # IPython's hook for how an exception is shown
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


class SettingError(CourseError, ValueError):
    """An environment variable of the course holds a value it cannot use."""


class CheckpointError(CourseError, ValueError):
    """A checkpoint file is missing, unreadable, or does not fit the model."""


# --- models ---------------------------------------------------------------------------------------------
class UnknownModelError(CourseError, _PlainKeyError):
    """A model name that the registry does not know."""


class ModelRegistryError(CourseError, ValueError):
    """A model registered under a name that is already taken."""


class WeightsUnavailableError(CourseError, RuntimeError):
    """Pretrained weights are neither cached nor downloadable."""


class ModelSurgeryError(CourseError, ValueError):
    """A model does not have the part a helper changes or copies (head, features, matching tensors)."""


# --- inspect, measure, train, plots -------------------------------------------------------------------------
class LayerNotFoundError(CourseError, ValueError):
    """A layer name that the model does not have."""


class EmbeddingError(CourseError, ValueError):
    """Embeddings or similarity inputs of the wrong kind or shape."""


class FeatureMapError(CourseError, ValueError):
    """Feature maps of the wrong shape, or an unknown layer / image / channel."""


class GradCAMError(CourseError, ValueError):
    """Grad-CAM was asked for something it cannot compute."""


class ModelInputError(CourseError, ValueError):
    """A model or an input size that cannot be measured."""


class BenchmarkError(CourseError, ValueError):
    """Bad arguments to a benchmark (nothing to time, non-positive budgets)."""


class TrainingError(CourseError, ValueError):
    """A training or evaluation helper was called with arguments that do not fit together."""


class PlotError(CourseError, ValueError):
    """A figure helper got nothing to draw, or axes that do not fit."""


class ExperimentError(CourseError, ValueError):
    """A notebook experiment helper got an argument it cannot work with."""


# --- deploy ---------------------------------------------------------------------------------------------
class DeployError(CourseError, RuntimeError):
    """Base class of the errors of exporting, quantizing or running a model outside eager PyTorch."""


class RuntimeMissingError(DeployError, ImportError):
    """An optional runtime (ONNX Runtime, ExecuTorch) is not installed or fails to import."""


class ExportError(DeployError):
    """A module could not be captured as a graph (torch.fx, torch.export, ONNX, ExecuTorch)."""


class ModelFileError(DeployError, ValueError):
    """An exported file (.onnx, .pte) is missing, empty or corrupt."""


class WrongDeviceError(DeployError, ValueError):
    """The model and its example input are on different devices, or a runtime needs another device."""


# --- exercises ------------------------------------------------------------------------------------------
class UnknownExerciseError(CourseError, _PlainKeyError):
    """An exercise id that no notebook registers."""


class ExerciseRegistryError(CourseError, ValueError):
    """A checker registered twice under one id, under a malformed id, or in another notebook's module."""
