"""Reference solutions for notebook 02, and typical wrong answers the checkers must reject."""

from __future__ import annotations

import torch
from torchvision.models import ResNet50_Weights

__all__ = ["SOLUTIONS", "WRONG", "make_batch", "predict_probs", "top_k"]


def top_k(logits, categories, k=5):
    probs = torch.softmax(logits, dim=-1)
    values, indices = probs.topk(k)
    return [(categories[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]


def predict_probs(model, batch):
    model.eval()
    with torch.inference_mode():
        return torch.softmax(model(batch), dim=1)


def make_batch(images, preprocess):
    return torch.stack([preprocess(img) for img in images])


# ----------------------------------------------------------------------------- typical wrong answers


def _top_k_no_softmax(logits, categories, k=5):
    values, indices = logits.topk(k)
    return [(categories[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]


def _top_k_ascending(logits, categories, k=5):
    return top_k(logits, categories, k)[::-1]


def _top_k_softmax_of_top(logits, categories, k=5):
    values, indices = logits.topk(k)
    return [(categories[i], float(p)) for p, i in zip(values.softmax(-1).tolist(), indices.tolist())]


def _top_k_ignores_k(logits, categories, k=5):
    return top_k(logits, categories, 5)


def _top_k_indices(logits, categories, k=5):
    values, indices = torch.softmax(logits, dim=-1).topk(k)
    return list(zip(indices.tolist(), values.tolist()))


def _top_k_log_softmax(logits, categories, k=5):
    values, indices = torch.log_softmax(logits, dim=-1).topk(k)
    return [(categories[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]


def _top_k_sigmoid(logits, categories, k=5):
    values, indices = torch.sigmoid(logits).topk(k)
    return [(categories[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]


def _top_k_imagenet_names(logits, categories, k=5):
    names = ResNet50_Weights.IMAGENET1K_V2.meta["categories"]
    values, indices = torch.softmax(logits, dim=-1).topk(k)
    return [(names[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]


def _predict_probs_train_mode(model, batch):
    with torch.inference_mode():
        return torch.softmax(model(batch), dim=1)


def _predict_probs_with_grad(model, batch):
    model.eval()
    return torch.softmax(model(batch), dim=1)


def _predict_probs_detach(model, batch):
    model.eval()
    return torch.softmax(model(batch), dim=1).detach()


def _predict_probs_dim0(model, batch):
    model.eval()
    with torch.inference_mode():
        return torch.softmax(model(batch), dim=0)


def _predict_probs_squeeze(model, batch):
    model.eval()
    with torch.inference_mode():
        return torch.softmax(model(batch), dim=1).squeeze()


def _predict_probs_logits(model, batch):
    model.eval()
    with torch.inference_mode():
        return model(batch)


def _predict_probs_eval_not_called(model, batch):
    model.eval  # noqa: B018 - the parentheses are missing
    with torch.inference_mode():
        return torch.softmax(model(batch), dim=1)


def _to_batch_concat(images, preprocess):
    return torch.cat([preprocess(img) for img in images])


def _to_batch_own_preprocess(images, preprocess):
    own = ResNet50_Weights.IMAGENET1K_V2.transforms()
    return torch.stack([own(img) for img in images])


def _to_batch_reversed(images, preprocess):
    return torch.stack([preprocess(img) for img in reversed(images)])


def _to_batch_squeeze(images, preprocess):
    return torch.stack([preprocess(img) for img in images]).squeeze()


def _to_batch_list(images, preprocess):
    return [preprocess(img) for img in images]


def _to_batch_unsqueeze_each(images, preprocess):
    return torch.stack([preprocess(img).unsqueeze(0) for img in images])


def _to_batch_first_image_only(images, preprocess):
    first = preprocess(images[0])
    return first.unsqueeze(0).repeat(len(images), 1, 1, 1)


SOLUTIONS = {"02.1": top_k, "02.2": predict_probs, "02.3": make_batch}
WRONG = {
    "02.1": [
        _top_k_no_softmax,
        _top_k_ascending,
        _top_k_softmax_of_top,
        _top_k_ignores_k,
        _top_k_indices,
        _top_k_log_softmax,
        _top_k_sigmoid,
        _top_k_imagenet_names,
    ],
    "02.2": [
        _predict_probs_train_mode,
        _predict_probs_with_grad,
        _predict_probs_detach,
        _predict_probs_dim0,
        _predict_probs_squeeze,
        _predict_probs_logits,
        _predict_probs_eval_not_called,
    ],
    "02.3": [
        _to_batch_concat,
        _to_batch_own_preprocess,
        _to_batch_reversed,
        _to_batch_squeeze,
        _to_batch_list,
        _to_batch_unsqueeze_each,
        _to_batch_first_image_only,
    ],
}
