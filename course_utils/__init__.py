"""Helpers for the ResNet & MobileNet course: loading, images, prediction, plotting, exercises.

Import what you need from the small modules, or the common names from here::

    from course_utils import setup, load_classifier, predict, load_image
"""

from .device import configure_threads, get_device, seed_everything, setup
from .errors import CourseError, DownloadError, ImageLoadError, UnknownModelError, WeightsUnavailableError
from .exercises import check, show_solution
from .images import load_image, load_images, sample_image, sample_images, sample_path
from .models import Classifier, is_pretrained, load_classifier, load_model
from .predict import Prediction, predict, predict_proba, topk
from .settings import offline

__version__ = "0.1.0"

__all__ = [
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
    "is_pretrained",
    "load_classifier",
    "load_image",
    "load_images",
    "load_model",
    "offline",
    "predict",
    "predict_proba",
    "sample_image",
    "sample_images",
    "sample_path",
    "seed_everything",
    "setup",
    "show_solution",
    "topk",
]
