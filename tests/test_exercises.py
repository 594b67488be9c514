"""Every exercise: the reference solution passes, typical wrong answers are rejected, stubs are 'not yet'."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from course_utils.exercises import Result, all_exercises, check, evaluate, show_solution

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = all_exercises()


def _solutions(ex_id: str):
    return importlib.import_module(f"course_utils.solutions.nb{ex_id.split('.')[0]}")


def _stub(*args, **kwargs):
    raise NotImplementedError


def test_there_are_exercises():
    assert "02.1" in EXERCISES and len(EXERCISES) >= 3


@pytest.mark.parametrize("ex_id", EXERCISES)
def test_solution_passes(ex_id):
    result = evaluate(ex_id, _solutions(ex_id).SOLUTIONS[ex_id])
    assert result.status == "pass", str(result)


@pytest.mark.parametrize("ex_id", EXERCISES)
def test_wrong_answers_rejected(ex_id):
    wrong = _solutions(ex_id).WRONG.get(ex_id, [])
    assert wrong, f"exercise {ex_id} declares no typical wrong answers in WRONG"
    for answer in wrong:
        result = evaluate(ex_id, answer)
        assert result.status == "wrong", f"{getattr(answer, '__name__', answer)!r} was not rejected: {result}"
        assert len(result.message) > 10


@pytest.mark.parametrize("ex_id", EXERCISES)
def test_untouched_is_not_yet(ex_id):
    function_answer = callable(_solutions(ex_id).SOLUTIONS[ex_id])
    for stub in (_stub, ..., None) if function_answer else (..., None):
        assert evaluate(ex_id, stub).status == "not yet"


def test_every_exercise_is_used_in_its_notebook():
    sources = {
        nb.name[:2]: "".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"])
        for nb in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
    }
    for ex_id in EXERCISES:
        text = sources.get(ex_id.split(".")[0].zfill(2), "")
        assert f'check("{ex_id}"' in text, f"exercise {ex_id} is registered but never checked in its notebook"


def test_learner_error_is_reported_not_raised(capsys):
    def broken(*args):
        return 1 / 0

    result = check("02.1", broken)
    assert result.status == "wrong" and "ZeroDivisionError" in result.message
    assert not result and "ZeroDivisionError" in capsys.readouterr().out


def test_result_renders_html_and_text():
    r = Result("02.1", "pass", "well done")
    assert "PASS" in str(r) and "<div" in r._repr_html_() and bool(r)


def test_unknown_exercise_id():
    with pytest.raises(KeyError, match="99.9"):
        evaluate("99.9", 1)


def test_show_solution_prints_source(capsys):
    show_solution("02.1")
    assert "def top_k" in capsys.readouterr().out
