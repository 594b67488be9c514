"""Reference solution for notebook 00, and typical wrong answers."""

import numpy as np
import torch

__all__ = ["SOLUTIONS", "WRONG"]

SOLUTIONS = {"00.1": torch.zeros(2, 3, 224, 224)}
WRONG = {
    "00.1": [
        torch.zeros(2, 224, 224, 3),  # channels last, as in PIL/NumPy
        torch.zeros(3, 224, 224),  # forgot the batch dimension
        torch.zeros(2, 3, 224, 224, dtype=torch.uint8),  # bytes, as images are stored on disk
        torch.zeros(2, 3, 224, 224, dtype=torch.float64),  # NumPy's default float
        np.zeros((2, 3, 224, 224), dtype=np.float32),  # a NumPy array, not a tensor
        torch.ones(2, 3, 224, 224),  # ones, not zeros
        torch.zeros(1, 3, 224, 224),  # one image
        torch.zeros(2, 1, 224, 224),  # grey, not RGB
        [[0.0]],
    ]
}
