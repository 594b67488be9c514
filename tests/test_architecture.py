"""The shape of course_utils (docs/architecture.md): layers that import only downwards, errors that are all
course errors, one plotting package whose figure functions share one signature, no aliases; tests/ mirrors it."""

from __future__ import annotations

import ast
import builtins
import inspect
import pathlib

import pytest
from matplotlib.figure import Figure

import course_utils
from course_utils import plots
from course_utils.core import errors

PACKAGE = pathlib.Path(course_utils.__file__).parent
#: Lowest first. A module may import from its own layer and the ones before it, never from a later one.
LAYERS = ["core", "data", "models", "inspect", "measure", "train", "plots", "deploy", "lessons", "cli", "exercises"]
BUILTIN_ERRORS = {
    n for n in dir(builtins) if isinstance(getattr(builtins, n), type) and issubclass(getattr(builtins, n), Exception)
}


def _sources(skip: tuple[str, ...] = ("solutions",)) -> list[pathlib.Path]:
    files = sorted(p for p in PACKAGE.rglob("*.py") if not set(p.relative_to(PACKAGE).parts) & set(skip))
    assert len(files) > 40, files
    return files


def _layer(rel: pathlib.PurePath) -> str | None:
    head = rel.parts[0].removesuffix(".py")
    return "exercises" if head == "solutions" else head if head in LAYERS else None


def _import_module_target(call: ast.Call, rel: pathlib.PurePath) -> list[str] | None:
    """The course_utils path that ``importlib.import_module(...)`` names, as far as it is written out."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name != "import_module" or not call.args:
        return None
    arg, text = call.args[0], ""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        text = arg.value
    elif isinstance(arg, ast.JoinedStr):
        for part in arg.values:
            if isinstance(part, ast.Constant):
                text += part.value
            elif (
                isinstance(part, ast.FormattedValue)
                and isinstance(part.value, ast.Name)
                and part.value.id == "__name__"
            ):
                module = [p.removesuffix(".py") for p in rel.parts]
                text += ".".join(["course_utils", *(module[:-1] if module[-1] == "__init__" else module)])
            else:
                break
    if text.startswith("course_utils."):
        return [p for p in text.split(".")[1:] if p]
    return None


def _imported_layers(source: str, rel: pathlib.PurePath) -> set[tuple[str, int]]:
    """``(layer, line)`` of every course_utils module that ``source`` (at ``rel`` in the package) imports.

    Every import form counts: ``from . import``, ``from course_utils.x import``, ``import course_utils.x`` and
    ``importlib.import_module("course_utils.x")`` (also as an f-string starting with ``{__name__}``).
    """
    found = set()
    for node in ast.walk(ast.parse(source)):
        targets: list[list[str]] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel.parent.parts)[: len(rel.parent.parts) - (node.level - 1)]
                target = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.startswith("course_utils."):
                target = node.module.split(".")[1:]
            else:
                continue
            if not target:  # `from . import x` at the top: x is the layer
                target = [node.names[0].name]
            targets.append(target)
        elif isinstance(node, ast.Import):
            targets += [a.name.split(".")[1:] for a in node.names if a.name.startswith("course_utils.")]
        elif isinstance(node, ast.Call):
            target = _import_module_target(node, rel)
            if target:
                targets.append(target)
        for target in targets:
            layer = _layer(pathlib.PurePath(*target))
            if layer:
                found.add((layer, node.lineno))
    return found


@pytest.mark.parametrize("path", _sources(skip=()), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_layers_import_only_downwards(path):
    own = _layer(path.relative_to(PACKAGE))
    if own is None:  # course_utils/__init__.py and __main__.py sit above every layer
        return
    higher = [
        (layer, line)
        for layer, line in _imported_layers(path.read_text(), path.relative_to(PACKAGE))
        if LAYERS.index(layer) > LAYERS.index(own)
    ]
    assert not higher, f"{path.name} ({own}) imports from higher layers: {higher}"


def test_the_layer_check_can_fail():
    """The import walk sees imports that go up, relative or absolute (a check that cannot fail is no check)."""
    source = "from ..plots import figure_png\nfrom course_utils.train import fit\nfrom .errors import CourseError\n"
    assert _imported_layers(source, pathlib.PurePath("core", "x.py")) == {("plots", 1), ("train", 2), ("core", 3)}
    source = (
        "import course_utils.deploy.export\n"
        "importlib.import_module('course_utils.cli.doctor')\n"
        "import_module(f'course_utils.solutions.{name}')\n"
        "importlib.import_module(f'{__name__}.nb04')\n"
        "importlib.import_module(name)\n"
    )
    assert _imported_layers(source, pathlib.PurePath("core", "x.py")) == {
        ("deploy", 1),
        ("cli", 2),
        ("exercises", 3),
        ("core", 4),  # {__name__} of core/x.py: course_utils.core.x.nb04
    }
    assert _imported_layers(source, pathlib.PurePath("exercises", "__init__.py")) >= {("exercises", 4)}


def _bare_builtin_raises(source: str, rel: pathlib.PurePath) -> list[str]:
    allowed = {"AssertionError"} if "exercises" in rel.parts else set()  # a checker's verdict is an assert
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id in BUILTIN_ERRORS - allowed:
                bad.append((node.lineno, f"{rel}:{node.lineno} raise {exc.id}"))
    return [text for _, text in sorted(bad)]


def test_no_bare_builtin_raise_anywhere_in_the_package():
    bad = [line for path in _sources() for line in _bare_builtin_raises(path.read_text(), path.relative_to(PACKAGE))]
    assert not bad, "raise a CourseError subclass (course_utils.core.errors) instead:\n" + "\n".join(bad)


def test_the_raise_check_can_fail():
    source = "def f(x):\n    if x:\n        raise ValueError('no')\n    raise AssertionError\n"
    assert _bare_builtin_raises(source, pathlib.PurePath("data", "x.py")) == [
        "data/x.py:3 raise ValueError",
        "data/x.py:4 raise AssertionError",
    ]
    assert _bare_builtin_raises(source, pathlib.PurePath("exercises", "x.py")) == ["exercises/x.py:3 raise ValueError"]


def test_every_error_is_a_course_error_and_a_builtin_defined_in_one_place():
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    public = [c for c in classes if not c.__name__.startswith("_")]
    assert len(public) >= 20
    for cls in public:
        assert issubclass(cls, errors.CourseError), cls
        if cls is not errors.CourseError:
            assert any(issubclass(cls, getattr(builtins, b)) for b in BUILTIN_ERRORS - {"Exception"}), cls
    defined_elsewhere = [
        f"{path.relative_to(PACKAGE)}:{node.lineno} class {node.name}"
        for path in _sources()
        if path.name != "errors.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.name.endswith("Error")
    ]
    assert not defined_elsewhere, defined_elsewhere


FIGURE_FUNCTIONS = [
    name
    for name, fn in inspect.getmembers(plots, inspect.isfunction)
    if fn.__module__.startswith(plots.__name__ + ".")
    and not name.startswith("_")
    and "Figure" in str(fn.__annotations__.get("return"))
]


def test_every_figure_function_lives_in_plots_is_typed_and_takes_ax():
    assert len(FIGURE_FUNCTIONS) >= 13, FIGURE_FUNCTIONS
    for name in FIGURE_FUNCTIONS:
        fn = getattr(plots, name)
        params = inspect.signature(fn).parameters
        assert "ax" in params and params["ax"].default is None, name
        assert name.startswith("plot_"), f"{name}: every figure function is named plot_*"
        assert fn.__annotations__["return"] in ("Figure", Figure), f"{name} returns {fn.__annotations__['return']}"
    elsewhere = [
        f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"
        for path in _sources()
        if path.relative_to(PACKAGE).parts[0] != "plots"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef) and node.returns is not None and "Figure" in ast.unparse(node.returns)
    ]
    assert not elsewhere, f"figure functions outside course_utils.plots: {elsewhere}"
    assert isinstance(plots.plot_losses({"a": [1.0, 0.5]}), Figure)


def test_no_module_level_aliases_of_functions():
    """``count_parameters = count_params`` is one idea under two names."""
    found = []
    for path in _sources():
        tree = ast.parse(path.read_text())
        functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        functions |= {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in functions:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not found, found


def test_every_import_of_the_package_is_declared():
    """Every third-party module course_utils imports comes from a distribution pyproject.toml declares."""
    import importlib.metadata as md
    import re
    import sys
    import tomllib

    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    requirements = project["dependencies"] + extras["lab"] + extras["deploy"]
    declared = {re.split(r"[<>=!\[ ]", r)[0].lower().replace("_", "-") for r in requirements}
    providers = md.packages_distributions()
    imported = set()
    for path in _sources(skip=()):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = sorted(m for m in imported if m not in sys.stdlib_module_names and m != "course_utils")
    assert {"torch", "PIL", "filelock", "psutil"} <= set(third_party)
    undeclared = [m for m in third_party if not {d.lower().replace("_", "-") for d in providers.get(m, [])} & declared]
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


@pytest.mark.parametrize("path", _sources(skip=()), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_declares_all(path):
    """Each module says what it offers; ``__main__`` (an entry point) is the exception."""
    if path.name == "__main__.py":
        return
    tree = ast.parse(path.read_text())
    declared = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
    ]
    assert declared, f"{path.relative_to(PACKAGE)} declares no __all__"
    names = ast.literal_eval(declared[0].value)
    module_names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            module_names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                module_names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.ImportFrom | ast.Import):
            module_names |= {a.asname or a.name.split(".")[0] for a in node.names}
    missing = [n for n in names if n not in module_names]
    assert not missing, f"{path.relative_to(PACKAGE)}: __all__ names what the module does not define: {missing}"


def test_tests_mirror_the_package():
    """tests/<layer>/ for every layer (solutions are tested with their exercises), and no folder for a layer that
    does not exist; each module there is named ``test_*.py`` and imports the layer it tests."""
    tests = pathlib.Path(__file__).resolve().parent
    folders = {p.name for p in tests.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert folders - {"reliability"} == set(LAYERS), "tests/ should have one folder per course_utils layer"
    for layer in LAYERS:
        modules = sorted((tests / layer).glob("*.py"))
        assert any(m.name.startswith("test_") for m in modules), f"tests/{layer}/ holds no test module"
        for module in modules:
            if module.name == "__init__.py":
                continue
            assert module.name.startswith("test_"), f"tests/{layer}/{module.name}: test modules are test_*.py"
            source = module.read_text(encoding="utf-8")
            names = ("course_utils." + layer, "course_utils import " + layer, "solutions")
            assert any(n in source for n in names), f"tests/{layer}/{module.name} does not use course_utils.{layer}"
