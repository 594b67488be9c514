"""Models: the registry (torchvision's classifiers and EfficientNet-Lite0), weights, surgery, inference copies,
prediction (``predict`` → ``predict_proba`` → ``inference_copy`` → ``ranking.topk``)."""

from . import efficientnet_lite  # registers efficientnet_lite0; its architecture pieces for notebook 06
from .inference import inference_copy
from .predict import predict, predict_proba
from .ranking import Prediction, topk
from .registry import COURSE_MODELS, IMAGENET_CATEGORIES, Classifier, get_weights, list_models, load_classifier
from .surgery import (
    backbone,
    copy_weights,
    count_batchnorms,
    folded_copy,
    head_of,
    randomise_batchnorm,
    reset_classifier,
)

__all__ = [
    "COURSE_MODELS",
    "IMAGENET_CATEGORIES",
    "Classifier",
    "Prediction",
    "backbone",
    "copy_weights",
    "count_batchnorms",
    "efficientnet_lite",
    "folded_copy",
    "get_weights",
    "head_of",
    "inference_copy",
    "list_models",
    "load_classifier",
    "predict",
    "predict_proba",
    "randomise_batchnorm",
    "reset_classifier",
    "topk",
]
