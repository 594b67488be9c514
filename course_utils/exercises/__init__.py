"""Self-checking exercises: ``check("02.1", answer)`` says pass, not yet, or wrong because ….

Checkers live in ``course_utils/exercises/nbNN.py`` and register themselves with
:func:`exercise`. A checker receives the learner's answer and uses plain ``assert cond,
"why"`` statements; this module turns the outcome into a friendly message. An untouched
exercise (``...``, ``None`` or a function that raises ``NotImplementedError``) is "not yet",
so a learner's Run-All never stops on it. Reference solutions live in
``course_utils/solutions/nbNN.py``; :func:`show_solution` prints one on request.
"""

from __future__ import annotations

import html
import importlib
import inspect
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from ..notebook import in_notebook


class NotYet(Exception):
    """Raised by a checker (or learner code) when the exercise has not been attempted."""


@dataclass(frozen=True)
class Exercise:
    """A registered exercise: its id, one-line task, hint and checker."""

    id: str
    title: str
    checker: Callable[[object], None]
    hint: str = ""


@dataclass(frozen=True)
class Result:
    """Outcome of a check: ``status`` is ``"pass"``, ``"not yet"`` or ``"wrong"``."""

    id: str
    status: str
    message: str

    def __bool__(self) -> bool:
        return self.status == "pass"

    def __str__(self) -> str:
        icon = {"pass": "✅", "not yet": "⏳", "wrong": "❌"}[self.status]
        return f"{icon} Exercise {self.id}: {self.status.upper()} — {self.message}"

    def _repr_html_(self) -> str:
        colour = {"pass": "#155724", "not yet": "#856404", "wrong": "#721c24"}[self.status]
        return f'<div style="color:{colour};font-weight:500">{html.escape(str(self))}</div>'


_REGISTRY: dict[str, Exercise] = {}


def exercise(id: str, title: str, hint: str = "") -> Callable[[Callable[[object], None]], Callable[[object], None]]:
    """Decorator registering a checker for exercise ``id``."""

    def register(checker: Callable[[object], None]) -> Callable[[object], None]:
        _REGISTRY[id] = Exercise(id, title, checker, hint)
        return checker

    return register


def _module_for(id: str) -> str:
    return "nb" + id.split(".")[0].zfill(2)


def get(id: str) -> Exercise:
    """The registered exercise ``id`` (importing its notebook's checker module on demand)."""
    if id not in _REGISTRY:
        try:
            importlib.import_module(f"{__name__}.{_module_for(id)}")
        except ModuleNotFoundError:
            pass
    if id not in _REGISTRY:
        raise KeyError(f"no exercise {id!r}; exercise ids look like '02.1'")
    return _REGISTRY[id]


def all_exercises() -> dict[str, Exercise]:
    """Every exercise of every notebook, by id."""
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("nb"):
            importlib.import_module(f"{__name__}.{info.name}")
    return dict(sorted(_REGISTRY.items()))


def _untouched(answer: object) -> bool:
    return answer is None or answer is Ellipsis


def evaluate(id: str, answer: object) -> Result:
    """Run the checker of ``id`` on ``answer`` and return the :class:`Result` (never raises)."""
    ex = get(id)
    hint = f" Hint: {ex.hint}" if ex.hint else ""
    if _untouched(answer):
        return Result(id, "not yet", f"{ex.title} — replace the placeholder with your answer.{hint}")
    try:
        ex.checker(answer)
    except (NotImplementedError, NotYet):
        return Result(id, "not yet", f"{ex.title} — fill in the code marked 'YOUR CODE HERE'.{hint}")
    except AssertionError as exc:
        reason = str(exc).rstrip(". ") or "the answer does not match"
        return Result(id, "wrong", f"{reason}{'' if reason[-1] in '?!' else '.'}{hint}")
    except Exception as exc:  # the learner's code raised: show where, briefly
        frames = traceback.extract_tb(exc.__traceback__)
        where = next((f" (line {f.lineno}: {f.line})" for f in reversed(frames) if "course_utils" not in f.filename), "")
        return Result(id, "wrong", f"your code raised {type(exc).__name__}: {exc}{where}.{hint}")
    return Result(id, "pass", f"{ex.title} — well done!")


def check(id: str, answer: object) -> Result:
    """Check ``answer`` for exercise ``id``: shows the verdict and returns it."""
    result = evaluate(id, answer)
    if not in_notebook():
        print(result)
        return result
    return result  # rendered by Jupyter through _repr_html_


def solution(id: str) -> object:
    """The reference solution object of exercise ``id``."""
    get(id)
    module = importlib.import_module(f"course_utils.solutions.{_module_for(id)}")
    return module.SOLUTIONS[id]


def show_solution(id: str) -> None:
    """Print the source of the reference solution (try first!)."""
    obj = solution(id)
    try:
        print(inspect.getsource(obj))
    except TypeError:
        print(repr(obj))


__all__ = ["Exercise", "NotYet", "Result", "all_exercises", "check", "evaluate", "exercise", "get",
           "show_solution", "solution"]
