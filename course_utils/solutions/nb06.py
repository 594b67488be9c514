"""Reference solutions for notebook 06, and typical wrong answers the checkers must reject."""

from __future__ import annotations

import torch
import torchvision
from torch import nn

__all__ = ["SOLUTIONS", "WRONG", "hard_sigmoid", "pareto_front", "replace_head"]


def hard_sigmoid(x):
    return nn.functional.relu6(x + 3) / 6


def replace_head(model, num_classes):
    model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, num_classes)
    return model


def pareto_front(points):
    def dominated(name):
        lat, acc = points[name]
        return any(b_lat <= lat and b_acc >= acc and (b_lat, b_acc) != (lat, acc) for b_lat, b_acc in points.values())

    return sorted((n for n in points if not dominated(n)), key=lambda n: points[n][0])


# 06.1
def _sigmoid(x):
    return torch.sigmoid(x)


def _hard_swish(x):
    return x * nn.functional.relu6(x + 3) / 6


def _unclipped(x):
    return (x + 3) / 6


def _relu_not_relu6(x):  # clips below only
    return nn.functional.relu(x + 3) / 6


def _forgot_shift(x):
    return nn.functional.relu6(x) / 6


def _in_place(x):  # right values, but the learner's tensor is changed
    return x.add_(3).clamp_(0, 6).div_(6)


def _python_loop(x):  # 1-D only, and float32 whatever came in
    return torch.tensor([min(max(v + 3, 0), 6) / 6 for v in x.flatten().tolist()])


# 06.2
def _head_index_1(model, num_classes):  # V2's index and width, typed in
    model.classifier[1] = nn.Linear(1280, num_classes)
    return model


def _head_whole_classifier(model, num_classes):
    model.classifier = nn.Sequential(nn.Linear(model.classifier[-1].in_features, num_classes))
    return model


def _head_five_classes(model, num_classes):  # the fine-tuning example's 5 classes, whatever is asked
    model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, 5)
    return model


def _head_out_features_attribute(model, num_classes):  # the weight keeps its 1000 rows
    model.classifier[-1].out_features = num_classes
    return model


def _head_appended(model, num_classes):
    model.classifier.append(nn.Linear(model.classifier[-1].out_features, num_classes))
    return model


def _head_fresh_model(model, num_classes):  # a new, untrained network of the same kind
    return torchvision.models.mobilenet_v2(num_classes=num_classes)


def _head_returns_layer(model, num_classes):
    model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, num_classes)
    return model.classifier[-1]


# 06.3
def _pareto_strict(points):  # forgets ties: dominated only when another is strictly better in BOTH
    def dominated(name):
        lat, acc = points[name]
        return any(b_lat < lat and b_acc > acc for b_lat, b_acc in points.values())

    return sorted((n for n in points if not dominated(n)), key=lambda n: points[n][0])


def _pareto_by_accuracy(points):
    return sorted(pareto_front(points), key=lambda n: -points[n][1])


def _pareto_self_dominates(points):  # every point is "at least as good" as itself
    return [
        n
        for n in sorted(points, key=lambda n: points[n][0])
        if not any(b[0] <= points[n][0] and b[1] >= points[n][1] for b in points.values())
    ]


def _pareto_slower_is_better(points):  # sign error on latency
    def dominated(name):
        lat, acc = points[name]
        return any(b_lat >= lat and b_acc >= acc and (b_lat, b_acc) != (lat, acc) for b_lat, b_acc in points.values())

    return sorted((n for n in points if not dominated(n)), key=lambda n: points[n][0])


def _pareto_drops_twins(points):  # excludes itself by name, so an identical twin dominates it
    return sorted(
        (
            n
            for n, (lat, acc) in points.items()
            if not any(m != n and b_lat <= lat and b_acc >= acc for m, (b_lat, b_acc) in points.items())
        ),
        key=lambda n: points[n][0],
    )


def _pareto_pops_input(points):  # right answer, but removes entries from the caller's dict
    front = pareto_front(points)
    for name in [n for n in points if n not in front]:
        points.pop(name)
    return front


def _pareto_best_only(points):
    return [max(points, key=lambda n: points[n][1])]


SOLUTIONS = {"06.1": hard_sigmoid, "06.2": replace_head, "06.3": pareto_front}
WRONG = {
    "06.1": [_sigmoid, _hard_swish, _unclipped, _relu_not_relu6, _forgot_shift, _in_place, _python_loop],
    "06.2": [
        _head_index_1,
        _head_whole_classifier,
        _head_five_classes,
        _head_out_features_attribute,
        _head_appended,
        _head_fresh_model,
        _head_returns_layer,
    ],
    "06.3": [
        _pareto_strict,
        _pareto_by_accuracy,
        _pareto_self_dominates,
        _pareto_slower_is_better,
        _pareto_drops_twins,
        _pareto_pops_input,
        _pareto_best_only,
    ],
}
