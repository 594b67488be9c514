"""Notebooks: stored without outputs, one template, lint clean, every torch.load safe."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(nb: Path) -> list[dict]:
    return json.loads(nb.read_text(encoding="utf-8"))["cells"]


def _src(cell: dict) -> str:
    return "".join(cell["source"])


def test_notebooks_exist():
    names = [nb.name[:2] for nb in NOTEBOOKS]
    assert "00" in names and "02" in names
    assert len(set(names)) == len(names), "two notebooks share a number"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs(nb):
    for i, cell in enumerate(_cells(nb)):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{nb.name} cell {i} has outputs: run `make clean-outputs`"
            assert cell.get("execution_count") is None, f"{nb.name} cell {i} has an execution count"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_follows_template(nb):
    cells = _cells(nb)
    first = _src(cells[0])
    assert cells[0]["cell_type"] == "markdown" and first.startswith(f"# {nb.name[:2]} · "), "title cell '# NN · Title'"
    for part in ("**Learning objectives**", "**Prerequisites**", "**Estimated time**"):
        assert part in first, f"{nb.name}: first cell lacks {part}"
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "setup(" in _src(code[0]), f"{nb.name}: the first code cell must call setup()"
    headings = [line for c in cells if c["cell_type"] == "markdown" for line in _src(c).splitlines()]
    assert "## Summary" in headings and "## Further reading" in headings
    assert headings.index("## Summary") < headings.index("## Further reading")
    assert _src(cells[-1]).lstrip().startswith("## Further reading") or "## Further reading" in _src(cells[-1])


@pytest.mark.parametrize("nb", [n for n in NOTEBOOKS if n.name[:2] != "00"], ids=lambda p: p.name)
def test_has_exercises_with_headings(nb):
    text = "\n".join(_src(c) for c in _cells(nb))
    ids = re.findall(r'check\("(\d\d\.\d+)"', text)
    assert len(set(ids)) >= 3, f"{nb.name}: at least 3 auto-checked exercises"
    for ex_id in set(ids):
        assert f"### Exercise {ex_id}" in text, (
            f"{nb.name}: exercise {ex_id} lacks its '### Exercise {ex_id} — …' heading"
        )
        assert ex_id.startswith(nb.name[:2]), f"{nb.name}: exercise {ex_id} belongs to another notebook"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_and_binder_ready(nb):
    import tomllib

    from IPython.core.inputtransformer2 import TransformerManager

    repo_url = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    slug = repo_url.removeprefix("https://github.com/")
    cells = _cells(nb)
    title = _src(cells[0])
    assert f"colab.research.google.com/github/{slug}/blob/main/notebooks/{nb.name}" in title
    assert f"mybinder.org/v2/gh/{slug}/main?urlpath=lab/tree/notebooks/{nb.name}" in title
    setup_cell = _src(next(c for c in cells if c["cell_type"] == "code"))
    assert 'find_spec("course_utils") is None' in setup_cell and f"git clone -q --depth 1 {repo_url} " in setup_cell
    python = TransformerManager().transform_cell(setup_cell)  # what IPython runs: must be valid Python
    compile(python, nb.name, "exec")
    assert "get_ipython().system('git clone" in python and "pip" in python


def test_ruff_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _python(source: str) -> ast.Module:
    """A code cell parsed as Python, its IPython `%magic` / `!shell` lines left out."""
    return ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()))


def _imports_in(source: str) -> list[str]:
    """The import statements of a cell, at any depth."""
    tree = _python(source)
    return [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def test_imports_in_source_are_found():
    assert _imports_in("x = 1\n%timeit x\n!ls\nif x:\n    from a import b\n") == ["from a import b"]
    assert _imports_in("def f():\n    import torch\n") == ["import torch"]
    assert _imports_in("print('import torch')\n") == []


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_imports_only_in_setup_cell(nb):
    code = [(i, c) for i, c in enumerate(_cells(nb)) if c["cell_type"] == "code"]
    offenders = [f"cell {i}: {stmt}" for i, cell in code[1:] for stmt in _imports_in(_src(cell))]
    assert not offenders, f"{nb.name}: imports belong in the setup cell (the first code cell): {offenders}"


#: The most names the notebooks together may import from course_utils: the curated public surface.
MAX_COURSE_NAMES = 60


def _course_imports(source: str) -> list[tuple[str, str]]:
    """``(module, name)`` for every name a cell imports from course_utils (``import course_utils.x`` too)."""
    found = []
    for node in ast.walk(_python(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "course_utils":
            found += [(node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, "*") for a in node.names if a.name.split(".")[0] == "course_utils"]
    return found


def test_course_import_walk_sees_every_form():
    source = "from course_utils import setup\nimport course_utils.models.surgery\nfrom course_utils.data.images import to_batch\n"
    assert _course_imports(source) == [
        ("course_utils", "setup"),
        ("course_utils.models.surgery", "*"),
        ("course_utils.data.images", "to_batch"),
    ]


def test_notebooks_import_the_curated_surface_only():
    """Only ``course_utils`` and its first-level subpackages, and few names: at most MAX_COURSE_NAMES in all."""
    imported = [
        (nb.name, mod, name)
        for nb in NOTEBOOKS
        for cell in _cells(nb)
        if cell["cell_type"] == "code"
        for mod, name in _course_imports(_src(cell))
    ]
    deep = sorted(
        {f"{nb}: from {mod} import {name}" for nb, mod, name in imported if mod.count(".") > 1 or name == "*"}
    )
    assert not deep, f"import from course_utils or a first-level subpackage (course_utils.data, …): {deep}"
    names = sorted({name for _, _, name in imported})
    assert len(names) <= MAX_COURSE_NAMES, f"{len(names)} distinct names imported from course_utils: {names}"
    assert len(imported) > 40  # the walk saw the notebooks' imports


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_figures_shown_one_way(nb):
    """A cell that draws ends with plt.show(), not a trailing `;` that hides the returned Figure."""
    code = [(i, _src(c).rstrip()) for i, c in enumerate(_cells(nb)) if c["cell_type"] == "code"]
    offenders = [i for i, src in code if src.endswith(";")]
    assert not offenders, f"{nb.name}: cells {offenders} end with ';': call the plot function, then plt.show()"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_no_copy_of_shared_helpers(nb):
    """Notebooks use the one BatchNorm randomiser and the one images→batch helper instead of redefining them."""
    shared = {"randomise_batchnorm", "randomise_bn", "to_batch"}
    defined = {
        node.name
        for cell in _cells(nb)
        if cell["cell_type"] == "code"
        for node in ast.walk(_python(_src(cell)))
        if isinstance(node, ast.FunctionDef)
    }
    assert not defined & shared, f"{nb.name} redefines {sorted(defined & shared)}: import it from course_utils"


#: Words for the document the course grew from ("the seed", "the seed recipe", "the course's source"): a learner
#: cannot know what they mean, and "seed" already means a random seed here (``setup(seed=0)``).
_AUTHORS_WORDS = re.compile(
    r"\bthe seed\b(?! ?\d)|\bseed(?:'s| recipe| lines?| code| document| notebook| content| block)\b|\bcourse's source\b",
    re.IGNORECASE,
)


def _authors_words(markdown: str) -> list[str]:
    prose = re.sub(r"`[^`]*`", "", markdown)  # code spans may say seed=0
    return [m.group(0) for m in _AUTHORS_WORDS.finditer(prose)]


def test_authors_words_are_found():
    assert _authors_words("As the seed recipe does, and the seed's block.") == ["the seed", "the seed"]
    assert _authors_words("In the seed code.") == ["the seed"] and _authors_words("A seed recipe.") == ["seed recipe"]
    assert _authors_words("The course's source says so.") == ["course's source"]
    assert _authors_words("Over 3 random seeds; `setup(seed=0)`; each seed draws anew; the random seed 0.") == []


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_says_seed_only_for_random_seeds(nb):
    found = {i: w for i, c in enumerate(_cells(nb)) if c["cell_type"] == "markdown" if (w := _authors_words(_src(c)))}
    assert not found, f"{nb.name}: say 'the standard recipe' or name the recipe, not {found}"
