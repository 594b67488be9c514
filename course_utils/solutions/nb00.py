"""Reference solution for notebook 00, and typical wrong answers."""

import torch

SOLUTIONS = {"00.1": torch.zeros(2, 3, 224, 224)}
WRONG = {
    "00.1": [
        torch.zeros(2, 224, 224, 3),  # channels last, as in PIL/NumPy
        torch.zeros(3, 224, 224),  # forgot the batch dimension
        torch.zeros(2, 3, 224, 224, dtype=torch.uint8),
        [[0.0]],
    ]
}
