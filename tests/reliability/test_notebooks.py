"""The second-run check (tests/run_twice.py) is collected for every notebook and is not blind.

The check itself runs as one item per notebook after nbval's cells, in nbval's kernel
(``notebooks/NN_x.ipynb::run again in the same kernel``); these tests check that it is there for every notebook,
in the notebook's scope, after its last cell, and that its comparison reports what a second run can pile up.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests import ROOT
from tests.run_twice import ITEM_NAME, QUICK_BUDGET, growth, notebook_budgets, second_run_wanted

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _collected_ids(session) -> list[str]:
    """The notebook items' ids in run order: this session's when it collected every notebook (``make test``),
    else from a collect-only run of notebooks/."""
    ids = [item.nodeid for item in session.items if item.path.suffix == ".ipynb"]
    if {i.split("::")[0] for i in ids} == {f"notebooks/{nb.name}" for nb in NOTEBOOKS}:
        return ids
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist", "notebooks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return [line for line in result.stdout.splitlines() if ".ipynb::" in line]


def test_every_notebook_gets_its_second_run_after_its_last_cell(request):
    ids = _collected_ids(request.session)
    assert len(NOTEBOOKS) >= 11
    for nb in NOTEBOOKS:
        mine = [i for i in ids if i.startswith(f"notebooks/{nb.name}::")]
        assert mine and mine[-1] == f"notebooks/{nb.name}::{ITEM_NAME}", (nb.name, mine[-3:])
        assert sum(i.endswith(ITEM_NAME) for i in mine) == 1
        cells = sum(1 for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        assert len(mine) == cells + 1, nb.name


def test_make_test_runs_again_every_notebook_but_the_three_that_train():
    """`make test` (``--second-run=quick``) runs the quick notebooks twice and 04, 09, 10 once; `make test-full`
    (``all``) runs every notebook twice."""
    budgets = notebook_budgets()
    once = {nb.name[:2] for nb in NOTEBOOKS if not second_run_wanted(nb.name, "quick", budgets)}
    assert once == {"04", "09", "10"} and all(budgets[n] > QUICK_BUDGET for n in once)
    assert all(second_run_wanted(nb.name, "all", budgets) for nb in NOTEBOOKS)
    assert not any(second_run_wanted(nb.name, "none", budgets) for nb in NOTEBOOKS)
    assert second_run_wanted("99_new.ipynb", "quick", budgets)  # no budget yet: quick
    with pytest.raises(ValueError, match="--second-run='twice'"):
        second_run_wanted(NOTEBOOKS[0].name, "twice", budgets)
    # that `make test-full` passes --second-run=all: tests/test_project.py


def test_probe_detects_piled_up_hooks_and_growing_lists():
    """The comparison is not blind: a hook added per run and a list appended per run are reported."""
    base = {
        "user": {"model": {"params": 10, "hooks": 0, "modules": 2}, "log": {"len": 1}},
        "package": {"course_utils.x._cache": {"len": 3}},
        "global_hooks": 0,
    }
    again = json.loads(json.dumps(base))
    assert growth(base, again) == []
    again["user"]["model"]["hooks"] = 1
    again["user"]["log"]["len"] = 2
    again["package"]["course_utils.x._cache"]["len"] = 6
    again["global_hooks"] = 1
    assert len(growth(base, again)) == 4
