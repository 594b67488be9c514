"""Self-checking exercises: ``check("02.1", answer)`` says pass, not yet, or wrong because ….

Checkers live in ``course_utils/exercises/nbNN.py`` and register themselves with
:func:`exercise`. A checker receives the learner's answer and uses plain ``assert cond,
"why"`` statements; this module turns the outcome into a friendly message. An untouched
exercise (``...``, ``None`` or a function that raises ``NotImplementedError``) is "not yet",
so a learner's Run-All never stops on it. When the learner's code raises, the message quotes
the learner's own line; when an answer is so far off that the checker cannot even use it
(a list where a tensor was expected), the verdict is still "wrong", naming what was expected.
Reference solutions live in ``course_utils/solutions/nbNN.py``; :func:`show_solution` prints one.
"""

from __future__ import annotations

import ast
import difflib
import html
import importlib
import inspect
import re
import site
import sysconfig
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..core.errors import ExerciseRegistryError, UnknownExerciseError
from ..core.notebook import in_notebook


class NotYet(Exception):
    """Raised by a checker (or learner code) when the exercise has not been attempted."""


@dataclass(frozen=True)
class Exercise:
    """A registered exercise: its id, one-line task, hint and checker."""

    id: str
    title: str
    checker: Callable[[object], None]
    hint: str = ""


#: Text symbol, label and badge colours per status (symbols that every font has, no emoji).
_STYLE = {"pass": ("✓", "PASS", "#1e7e34"), "not yet": ("…", "NOT YET", "#8a6d00"), "wrong": ("✗", "WRONG", "#b02a37")}


@dataclass(frozen=True)
class Result:
    """Outcome of a check: ``status`` is ``"pass"``, ``"not yet"`` or ``"wrong"``.

    ``generic`` is True when the message could not name the mistake (the checker found no
    specific reason); the course's tests require specific messages for its typical wrong answers.
    """

    id: str
    status: str
    message: str
    generic: bool = False

    def __bool__(self) -> bool:
        return self.status == "pass"

    def __str__(self) -> str:
        symbol, label, _ = _STYLE[self.status]
        return f"{symbol} Exercise {self.id}: {label} — {self.message}"

    def _repr_html_(self) -> str:
        symbol, label, colour = _STYLE[self.status]
        badge = (
            f'<span style="background:{colour};color:#fff;border-radius:4px;padding:2px 8px;'
            f'font-weight:700;font-family:sans-serif;white-space:nowrap">{symbol} {label}</span>'
        )
        return (
            f'<div class="course-check course-check-{self.status.replace(" ", "-")}" '
            f'style="border-left:4px solid {colour};padding:4px 8px;margin:4px 0">{badge} '
            f"<b>Exercise {html.escape(self.id)}</b> — {html.escape(self.message)}</div>"
        )


_REGISTRY: dict[str, Exercise] = {}


def exercise(id: str, title: str, hint: str = "") -> Callable[[Callable[[object], None]], Callable[[object], None]]:
    """Decorator registering a checker for exercise ``id``, as strictly as torchvision registers models.

    The id must have the form ``NN.k`` and the checker must live in that notebook's module (:func:`module_for`);
    a second checker under the same id raises. Re-running the same module (a reload) replaces its own entry.
    """
    if not isinstance(id, str) or not _ID.fullmatch(id):
        raise ExerciseRegistryError(f"exercise id {id!r}: use the form 'NN.k' of the notebook's headings, e.g. '02.1'")

    def register(checker: Callable[[object], None]) -> Callable[[object], None]:
        module = checker.__module__.rsplit(".", 1)[-1]
        if module != module_for(id):
            raise ExerciseRegistryError(
                f"exercise {id} is registered in {checker.__module__}: its checker belongs in "
                f"course_utils.exercises.{module_for(id)}"
            )
        old = _REGISTRY.get(id)
        if old is not None and (old.checker.__module__, old.checker.__qualname__) != (
            checker.__module__,
            checker.__qualname__,
        ):
            raise ExerciseRegistryError(
                f"exercise {id} is already registered (by {old.checker.__qualname__}); give the new one its own id"
            )
        _REGISTRY[id] = Exercise(id, title, checker, hint)
        return checker

    return register


_ID = re.compile(r"\d{2}\.\d+")


def module_for(id: str) -> str:
    """The module of exercise ``id``'s checker and solutions: ``'04.3'`` → ``'nb04'``. The one place of this rule."""
    return "nb" + id.split(".")[0].zfill(2)


def get(id: str) -> Exercise:
    """The registered exercise ``id`` (importing its notebook's checker module on demand)."""
    if not isinstance(id, str):
        raise UnknownExerciseError(f"exercise ids are strings like '02.1', got {id!r}")
    if id not in _REGISTRY:
        try:
            importlib.import_module(f"{__name__}.{module_for(id)}")
        except ModuleNotFoundError:
            pass
    if id not in _REGISTRY:
        close = difflib.get_close_matches(id, list(all_exercises()), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "the ids are in the '### Exercise NN.k' headings"
        raise UnknownExerciseError(f"no exercise {id!r}; {hint}")
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


_PACKAGE = Path(__file__).resolve().parent.parent
_SOLUTIONS = _PACKAGE / "solutions"


def _library_dirs() -> list[Path]:
    dirs = {Path(torch.__file__).resolve().parent}
    try:
        import torchvision

        dirs.add(Path(torchvision.__file__).resolve().parent)
    except ImportError:  # pragma: no cover - torchvision is a core dependency
        pass
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if key in paths:
            dirs.add(Path(paths[key]).resolve())
    for d in [*site.getsitepackages(), site.getusersitepackages()]:
        dirs.add(Path(d).resolve())
    return sorted(dirs)


_LIBRARIES = _library_dirs()


def _is_learner_code(filename: str) -> bool:
    """True for a notebook cell or any file that is neither the course's checkers nor a library."""
    if filename.startswith("<"):  # <ipython-input-…>, <stdin>, exec'd code; not Python's own <frozen …>
        return not filename.startswith("<frozen")
    path = Path(filename).resolve()
    if path.is_relative_to(_SOLUTIONS):  # reference and typical wrong answers stand in for a learner's code
        return True
    if path.is_relative_to(_PACKAGE):
        return False
    return not any(path.is_relative_to(d) for d in _LIBRARIES)


def _learner_line(exc: BaseException) -> str | None:
    """``line N: code`` of the innermost traceback frame that is the learner's code, if any."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if _is_learner_code(frame.filename):
            code = (frame.line or "").strip()
            return f"line {frame.lineno}: {code}" if code else f"line {frame.lineno}"
    return None


def _sentence(text: str) -> str:
    text = text.strip().rstrip(". ")
    return text + ("" if text[-1:] in "?!" else ".")


def evaluate(id: str, answer: object) -> Result:
    """Run the checker of ``id`` on ``answer`` and return the :class:`Result` (never raises)."""
    ex = get(id)
    hint = f" Hint: {ex.hint}" if ex.hint else ""
    if _untouched(answer):
        return Result(id, "not yet", f"{ex.title} — replace the placeholder with your answer.{hint}")
    try:
        with torch.random.fork_rng(devices=[]):  # the checker's seeds leave the learner's random state alone
            ex.checker(answer)
    except (NotImplementedError, NotYet):
        return Result(id, "not yet", f"{ex.title} — fill in the code marked 'YOUR CODE HERE'.{hint}")
    except AssertionError as exc:
        reason = str(exc).strip()
        if reason:
            return Result(id, "wrong", f"{_sentence(reason)}{hint}")
        return Result(id, "wrong", f"the answer does not match the task: {ex.title}.{hint}", generic=True)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a verdict, never a traceback
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else '(no message)'}"
        where = _learner_line(exc)
        if where is not None:  # the learner's own code raised: quote their line, not a line inside torch
            return Result(id, "wrong", f"your code raised {_sentence(error)[:-1]} (your {where}).{hint}")
        return Result(
            id, "wrong", f"your answer could not be used as asked ({error}); expected {ex.title}.{hint}", generic=True
        )
    return Result(id, "pass", f"{ex.title} — well done!")


def check(id: str, answer: object) -> Result:
    """Check ``answer`` for exercise ``id``: shows the verdict and returns it."""
    result = evaluate(id, answer)
    if not in_notebook():
        print(result)
    return result  # in a notebook, rendered by Jupyter through _repr_html_


def solution(id: str) -> object:
    """The reference solution object of exercise ``id``."""
    get(id)
    module = importlib.import_module(f"course_utils.solutions.{module_for(id)}")
    return module.SOLUTIONS[id]


def solution_source(id: str) -> str:
    """The source code of the reference solution of ``id`` (a function, a class or a value)."""
    obj = solution(id)
    if inspect.isfunction(obj) or inspect.isclass(obj):
        return inspect.getsource(obj)
    module = importlib.import_module(f"course_utils.solutions.{module_for(id)}")
    source = inspect.getsource(module)
    tree = ast.parse(source)
    assignments = {
        t.id: node
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    table = assignments.get("SOLUTIONS")
    if table is not None and isinstance(table.value, ast.Dict):
        for key, value in zip(table.value.keys, table.value.values):
            if isinstance(key, ast.Constant) and key.value == id:
                if isinstance(value, ast.Name) and value.id in assignments:
                    return ast.get_source_segment(source, assignments[value.id]) + "\n"
                return f"answer = {ast.get_source_segment(source, value)}\n"
    return f"answer = {obj!r}\n"


def show_solution(id: str) -> None:
    """Print the source of the reference solution (try first!)."""
    print(solution_source(id))


__all__ = [
    "Exercise",
    "NotYet",
    "Result",
    "all_exercises",
    "check",
    "evaluate",
    "exercise",
    "get",
    "module_for",
    "show_solution",
    "solution",
    "solution_source",
]
