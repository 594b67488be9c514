"""The course's own exceptions: each message names the input and says what to do."""

from __future__ import annotations


class CourseError(Exception):
    """Base class for every error course_utils raises on purpose."""


class ImageLoadError(CourseError, ValueError):
    """An input could not be turned into an RGB image."""


class WeightsUnavailableError(CourseError, RuntimeError):
    """Pretrained weights are neither cached nor downloadable."""


class DownloadError(CourseError, RuntimeError):
    """A download failed, timed out or did not match its checksum."""


class UnknownExerciseError(CourseError, KeyError):
    """An exercise id that no notebook registers."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownModelError(CourseError, KeyError):
    """A model name that neither torchvision nor the course knows."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
