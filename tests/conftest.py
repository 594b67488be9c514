"""Markers by kind, assigned to every collected item (the tests here and nbval's notebook cells alike).

``notebook``: a cell of ``notebooks/*.ipynb`` run by nbval; ``browser``: a test that launches chromium (the
``browser`` or ``lab`` fixtures of ``tests/test_browser.py``); ``book``: a test that builds the Sphinx site
(``tests/test_book.py``, the ``site`` fixture of ``tests/test_site_browser.py``); ``unit``: everything else.
``pytest -m unit`` (``make test-fast``) is the quick set; ``make test`` selects nothing and runs them all.
The markers are registered in pyproject.toml ([tool.pytest.ini_options] markers).
"""

from __future__ import annotations

import pytest

BROWSER_FIXTURES = {"browser", "lab", "page"}
BOOK_FIXTURES = {"site", "served"}
BOOK_MODULES = {"test_book.py"}
#: Tests that execute whole notebooks in a kernel of their own (nbclient), not through nbval: notebook-sized runs.
NOTEBOOK_MODULES = {"test_reliability_notebooks.py", "test_data_missing_notebooks.py"}
NOTEBOOK_TESTS = {"test_deploy_missing_runtime.py::test_notebook_09_runs_every_other_section_and_says_which_it_skipped"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        node = f"{item.path.name}::{item.name.split('[')[0]}"
        if item.path.suffix == ".ipynb" or item.path.name in NOTEBOOK_MODULES or node in NOTEBOOK_TESTS:
            item.add_marker(pytest.mark.notebook)
            continue
        fixtures = set(getattr(item, "fixturenames", ()))
        kinds = []
        if fixtures & BROWSER_FIXTURES:
            kinds.append(pytest.mark.browser)
        if fixtures & BOOK_FIXTURES or item.path.name in BOOK_MODULES:
            kinds.append(pytest.mark.book)
        for mark in kinds or [pytest.mark.unit]:
            item.add_marker(mark)
