"""Models: the registry (torchvision's classifiers and EfficientNet-Lite0), weights, surgery, prediction."""

from . import efficientnet_lite  # noqa: F401  (registers efficientnet_lite0)
from .predict import Prediction, predict, predict_proba, topk
from .registry import COURSE_MODELS, IMAGENET_CATEGORIES, Classifier, get_weights, list_models, load_classifier
from .surgery import backbone, copy_weights, folded_copy, head_of, replace_head

__all__ = [
    "COURSE_MODELS",
    "IMAGENET_CATEGORIES",
    "Classifier",
    "Prediction",
    "backbone",
    "copy_weights",
    "folded_copy",
    "get_weights",
    "head_of",
    "list_models",
    "load_classifier",
    "predict",
    "predict_proba",
    "replace_head",
    "topk",
]
