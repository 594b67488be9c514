"""Data: images from anything, datasets, safe downloads and archives, checkpoints.

The names notebooks use: Fashion-MNIST (:func:`load_fashion_mnist`, :data:`FASHION_MNIST_CLASSES`), the tensor
dataset tools (:func:`per_class`, :func:`split_off`, :class:`TensorLoader`, :class:`RandomCropFlip`) and
checkpoints (:func:`save_checkpoint`, :func:`load_checkpoint`, :func:`load_into`). Images → a batch
(:func:`~course_utils.data.images.to_batch`) is re-exported by ``course_utils`` itself.
"""

from .checkpoints import load_checkpoint, load_into, save_checkpoint
from .fashion_mnist import CLASSES as FASHION_MNIST_CLASSES
from .fashion_mnist import LabelledImages, load_fashion_mnist
from .tensors import RandomCropFlip, TensorLoader, per_class, split_off

__all__ = [
    "FASHION_MNIST_CLASSES",
    "LabelledImages",
    "RandomCropFlip",
    "TensorLoader",
    "load_checkpoint",
    "load_fashion_mnist",
    "load_into",
    "per_class",
    "save_checkpoint",
    "split_off",
]
