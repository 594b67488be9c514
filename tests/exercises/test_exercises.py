"""Every exercise: the reference solution passes, typical wrong answers are rejected, stubs are 'not yet'."""

from __future__ import annotations

import ast
import importlib
import json
import re

import pytest
import torch

from course_utils.core.errors import CourseError, ExerciseRegistryError, UnknownExerciseError
from course_utils.exercises import (
    Result,
    all_exercises,
    check,
    evaluate,
    exercise,
    module_for,
    show_solution,
    solution_source,
)
from tests import ROOT

EXERCISES = all_exercises()
MIN_WRONG = 5  #: typical wrong answers every exercise must reject, each with a specific message
EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u26ff\u2705\u274c\u231b\u23f3]")


def _solutions(ex_id: str):
    return importlib.import_module(f"course_utils.solutions.{module_for(ex_id)}")


def _stub(*args, **kwargs):
    raise NotImplementedError


def _name(answer: object) -> str:
    return getattr(answer, "__name__", None) or repr(answer)[:60]


def test_the_exercise_registry_is_strict():
    def checker(answer):
        pass

    checker.__module__ = "course_utils.exercises.nb04"
    with pytest.raises(ExerciseRegistryError, match="already registered"):
        exercise("04.1", "a second checker under a taken id")(checker)
    with pytest.raises(ExerciseRegistryError, match="belongs in course_utils.exercises.nb05"):
        exercise("05.9", "a checker in another notebook's module")(checker)
    for bad in ("4.1", "04", "04.x", 4.1):
        with pytest.raises(ExerciseRegistryError, match="form 'NN.k'"):
            exercise(bad, "a malformed id")
    assert "05.9" not in all_exercises() and module_for("4.2") == "nb04" == module_for("04.10")
    import course_utils.exercises.nb04 as nb04_checkers

    before = all_exercises()["04.1"].checker
    importlib.reload(nb04_checkers)  # a reload re-registers its own checkers: no error
    assert all_exercises()["04.1"].checker.__qualname__ == before.__qualname__


def test_there_are_exercises():
    assert "02.1" in EXERCISES and len(EXERCISES) >= 3


@pytest.mark.parametrize("ex_id", EXERCISES)
def test_solution_passes(ex_id):
    result = evaluate(ex_id, _solutions(ex_id).SOLUTIONS[ex_id])
    assert result.status == "pass", str(result)


@pytest.mark.parametrize("ex_id", EXERCISES)
def test_wrong_answers_rejected_with_a_specific_message(ex_id):
    wrong = _solutions(ex_id).WRONG.get(ex_id, [])
    assert len(wrong) >= MIN_WRONG, f"exercise {ex_id} declares {len(wrong)} typical wrong answers, needs {MIN_WRONG}"
    messages = set()
    for answer in wrong:
        result = evaluate(ex_id, answer)
        assert result.status == "wrong", f"{_name(answer)} was not rejected: {result}"
        assert not result.generic, f"{_name(answer)} got the generic fallback, not a reason: {result}"
        assert "Traceback" not in result.message and 'File "' not in result.message
        messages.add(result.message.split(" Hint:")[0])
    assert len(messages) >= 3, f"{ex_id}: the wrong answers get too few different messages: {messages}"


@pytest.mark.parametrize("ex_id", EXERCISES)
def test_untouched_is_not_yet(ex_id):
    function_answer = callable(_solutions(ex_id).SOLUTIONS[ex_id])
    for stub in (_stub, ..., None) if function_answer else (..., None):
        assert evaluate(ex_id, stub).status == "not yet"


@pytest.mark.parametrize("ex_id", EXERCISES)
def test_hint_does_not_give_the_answer_away(ex_id):
    """No line of the reference solution's body appears in the hint (show_solution is there for that)."""
    hint = EXERCISES[ex_id].hint.replace(" ", "")
    body = solution_source(ex_id).splitlines()[1:]
    leaked = [line.strip() for line in body if len(line.strip()) > 24 and line.strip().replace(" ", "") in hint]
    assert not leaked, f"{ex_id}: the hint contains the solution's code {leaked}"


@pytest.mark.parametrize("ex_id", EXERCISES)
def test_show_solution_works_for_every_id(ex_id, capsys):
    show_solution(ex_id)
    out = capsys.readouterr().out
    assert out.strip(), f"show_solution({ex_id!r}) printed nothing"
    ast.parse(out)  # valid Python a learner can read and run
    assert "tensor([" not in out, "print the code, not a value's repr"


def _notebook_sources() -> dict[str, list[str]]:
    return {
        nb.name[:2]: ["".join(c["source"]) for c in json.loads(nb.read_text())["cells"]]
        for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    }


def test_every_exercise_is_used_in_its_notebook():
    sources = {k: "\n".join(v) for k, v in _notebook_sources().items()}
    for ex_id in EXERCISES:
        text = sources.get(module_for(ex_id).removeprefix("nb"), "")
        assert f'check("{ex_id}"' in text, f"exercise {ex_id} is registered but never checked in its notebook"


def _key(ex_id: str) -> tuple[int, int]:
    nb, k = ex_id.split(".")
    return int(nb), int(k)


@pytest.mark.parametrize("nb", sorted(_notebook_sources()))
def test_exercise_ids_appear_in_order(nb):
    """Headings and check() calls number the exercises 1, 2, 3 … in the order a learner meets them."""
    cells = _notebook_sources()[nb]
    for pattern, what in [(r"^### Exercise (\d\d\.\d+)\b", "headings"), (r'check\("(\d\d\.\d+)"', "check() calls")]:
        ids = []
        for src in cells:
            for found in re.findall(pattern, src, flags=re.M):
                if found not in ids:
                    ids.append(found)
        assert ids == sorted(ids, key=_key), f"notebook {nb}: exercise {what} appear in the order {ids}"
        assert all(i.startswith(f"{nb}.") for i in ids), f"notebook {nb} checks another notebook's exercise: {ids}"
        if ids:
            assert [_key(i)[1] for i in ids] == list(range(1, len(ids) + 1)), f"notebook {nb}: ids skip a number: {ids}"


def _learner_function_with_a_typo(logits, categories, k=5):
    probs = torch.softmx(logits, dim=-1)  # the typo a learner makes
    return probs.topk(k)


def test_learner_error_quotes_the_learners_line_not_torch(capsys):
    result = check("02.1", _learner_function_with_a_typo)
    assert result.status == "wrong" and not result.generic
    assert "AttributeError" in result.message and "softmx" in result.message
    assert "probs = torch.softmx(logits, dim=-1)" in result.message, result.message
    line = _learner_function_with_a_typo.__code__.co_firstlineno + 1
    assert f"line {line}" in result.message
    assert "__init__.py" not in result.message and "site-packages" not in result.message
    assert "AttributeError" in capsys.readouterr().out  # printed outside a notebook


def test_learner_error_inside_torch_cites_the_learners_call():
    def shapes_do_not_match(logits, categories, k=5):
        return torch.mm(logits, logits)  # raises inside torch: a 1-D tensor is not a matrix

    result = evaluate("02.1", shapes_do_not_match)
    assert result.status == "wrong" and "RuntimeError" in result.message
    assert "return torch.mm(logits, logits)" in result.message, result.message


def test_an_answer_that_crashes_the_checker_is_a_friendly_wrong():
    """A probability that is not a number makes 02.1's checker fail inside course_utils: still a verdict."""
    result = evaluate("02.1", lambda logits, categories, k=5: [(categories[0], None)] * k)
    assert result.status == "wrong" and result.generic
    assert "could not be used" in result.message and "TypeError" in result.message
    assert EXERCISES["02.1"].title in result.message  # names what was expected
    assert "Traceback" not in result.message and "line" not in result.message


def test_checking_leaves_the_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    evaluate("02.1", _solutions("02.1").SOLUTIONS["02.1"])  # its checker seeds torch
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("status,label", [("pass", "PASS"), ("not yet", "NOT YET"), ("wrong", "WRONG")])
def test_result_renders_without_emoji(status, label):
    r = Result("02.1", status, "a reason")
    text, page = str(r), r._repr_html_()
    assert label in text and label in page and not EMOJI.search(text + page), text
    assert "background:" in page and "<span" in page  # a coloured badge in the notebook
    assert bool(r) == (status == "pass")


def test_result_html_escapes_the_message():
    page = Result("02.1", "wrong", "got <b>list</b>")._repr_html_()
    assert "<b>list</b>" not in page and "&lt;b&gt;" in page


def test_unknown_exercise_id():
    with pytest.raises(KeyError, match="99.9"):
        evaluate("99.9", 1)
    with pytest.raises(UnknownExerciseError) as info:
        evaluate("02.9", 1)
    assert isinstance(info.value, CourseError) and "did you mean" in str(info.value)
    assert not str(info.value).startswith('"')  # no KeyError quoting
    with pytest.raises(UnknownExerciseError, match="strings like"):
        evaluate(2.1, 1)


def test_show_solution_prints_source(capsys):
    show_solution("02.1")
    assert "def top_k" in capsys.readouterr().out
    show_solution("00.1")
    assert "torch.zeros(2, 3, 224, 224)" in capsys.readouterr().out


def test_no_library_name_equals_an_exercise_answer():
    """A learner who writes ``replace_head`` for exercise 06.2 must not meet a library ``replace_head`` that does
    something else: answers (the solutions' public names) and the library's public names never coincide."""
    import pkgutil

    import course_utils

    answers = {}
    for info in pkgutil.iter_modules(importlib.import_module("course_utils.solutions").__path__):
        module = importlib.import_module(f"course_utils.solutions.{info.name}")
        answers.update({name: info.name for name in module.__all__})
    library = {}
    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        if info.name.startswith(("course_utils.exercises", "course_utils.solutions")) or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        library.update({name: info.name for name in getattr(module, "__all__", [])})
    clashes = sorted(f"{name} ({answers[name]} answer, {library[name]})" for name in set(answers) & set(library))
    assert not clashes, clashes
    assert len(answers) >= 25 and "replace_head" in answers and "make_optimizer" in answers
