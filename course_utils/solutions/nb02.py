"""Reference solutions for notebook 02, and typical wrong answers the checkers must reject."""

from __future__ import annotations

import torch


def top_k(logits, categories, k=5):
    probs = torch.softmax(logits, dim=-1)
    values, indices = probs.topk(k)
    return [(categories[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]


def to_batch(images, preprocess):
    return torch.stack([preprocess(img) for img in images])


def predict_probs(model, batch):
    model.eval()
    with torch.inference_mode():
        return torch.softmax(model(batch), dim=1)


def _top_k_no_softmax(logits, categories, k=5):
    values, indices = logits.topk(k)
    return [(categories[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]


def _top_k_ascending(logits, categories, k=5):
    return top_k(logits, categories, k)[::-1]


def _to_batch_concat(images, preprocess):
    return torch.cat([preprocess(img) for img in images])


def _predict_probs_train_mode(model, batch):
    with torch.inference_mode():
        return torch.softmax(model(batch), dim=1)


def _predict_probs_with_grad(model, batch):
    model.eval()
    return torch.softmax(model(batch), dim=1)


SOLUTIONS = {"02.1": top_k, "02.2": to_batch, "02.3": predict_probs}
WRONG = {
    "02.1": [_top_k_no_softmax, _top_k_ascending],
    "02.2": [_to_batch_concat],
    "02.3": [_predict_probs_train_mode, _predict_probs_with_grad],
}
