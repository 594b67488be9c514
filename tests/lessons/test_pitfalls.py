"""course_utils.lessons.pitfalls: the pitfall box, the smallest input a model takes, DataLoader workers, pickling."""

from __future__ import annotations

import pickle

import pytest
import torchvision
from torch import nn

from course_utils.core.errors import CourseError, ModelInputError
from course_utils.lessons.pitfalls import Pitfall, default_num_workers, min_input_size, pitfall


def test_pitfall_box_renders(capsys):
    box = pitfall("Title", symptom="s1", cause="c1", fix="f1", measured="m1")
    assert isinstance(box, Pitfall)
    printed = capsys.readouterr().out
    assert "symptom : s1" in printed and "measured: m1" in printed
    html = box._repr_html_()
    assert "Symptom" in html and "Measured here" in html and "<b>Title</b>" in html
    assert "Measured" not in Pitfall("t", "s", "c", "f")._repr_html_()
    assert "<script>" not in pitfall("<script>", "s", "c", "f")._repr_html_()


def test_min_input_size_real_models(lite0):
    assert min_input_size(lite0.model, range(1, 65)) == 32
    r18 = torchvision.models.resnet18().train()
    assert min_input_size(r18, range(1, 9)) == 1
    assert r18.training  # mode restored


def test_min_input_size_none_fits():
    with pytest.raises(ModelInputError, match="sizes") as info:
        min_input_size(nn.Conv2d(3, 4, 9), range(1, 5))
    assert isinstance(info.value, CourseError)


def test_default_num_workers_matches_start_method():
    import multiprocessing

    n = default_num_workers()
    method = multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_context().get_start_method()
    assert (n == 0) if method != "fork" else (0 <= n <= 4)


def test_notebook_classes_pickle_by_reference():
    # the mechanism notebook 07 relies on: classes pickle by module and name
    assert b"Pitfall" in pickle.dumps(Pitfall("t", "s", "c", "f"))
