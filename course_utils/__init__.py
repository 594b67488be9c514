"""Helpers for the ResNet & MobileNet course: loading, images, prediction, plotting, exercises.

The common names are here::

    from course_utils import setup, load_classifier, predict, load_image

Everything else lives in a subpackage named for its job (see docs/architecture.md): ``core``, ``data``,
``models``, ``inspect``, ``measure``, ``train``, ``plots``, ``deploy``, ``lessons``, ``cli``, ``exercises``.
"""

from .core.device import configure_threads, get_device, seed_everything, setup
from .core.errors import CourseError, DownloadError, ImageLoadError, UnknownModelError, WeightsUnavailableError
from .core.settings import offline
from .data.images import EXPECTED_CLASSES, load_image, load_images, sample_image, sample_images, sample_path, to_batch
from .exercises import check, show_solution
from .models import Classifier, Prediction, load_classifier, predict, predict_proba, topk

__version__ = "0.1.0"

__all__ = [
    "EXPECTED_CLASSES",
    "Classifier",
    "CourseError",
    "DownloadError",
    "ImageLoadError",
    "Prediction",
    "UnknownModelError",
    "WeightsUnavailableError",
    "check",
    "configure_threads",
    "get_device",
    "load_classifier",
    "load_image",
    "load_images",
    "offline",
    "predict",
    "predict_proba",
    "sample_image",
    "sample_images",
    "sample_path",
    "seed_everything",
    "setup",
    "show_solution",
    "to_batch",
    "topk",
]
