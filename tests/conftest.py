"""Markers by kind, assigned to every collected item (the tests here and nbval's notebook cells alike).

``notebook``: a cell of ``notebooks/*.ipynb`` run by nbval, or a test that executes whole notebooks itself;
``browser``: a test that launches chromium (the ``browser``, ``lab`` or ``page`` fixtures of ``tests/test_browser.py``
and ``tests/test_site_browser.py``); ``book``: a test that builds the Sphinx site (``tests/test_book.py``, the
``site`` fixture of ``tests/test_site_browser.py``); ``slow``: a test that takes seconds because it starts
processes or exports real models (listed below); ``unit``: everything else. ``pytest -m unit`` (``make test-fast``)
is the quick set; ``make test`` selects nothing and runs them all.
The markers are registered in pyproject.toml ([tool.pytest.ini_options] markers).
"""

from __future__ import annotations

import pytest

BROWSER_FIXTURES = {"browser", "lab", "page"}
BOOK_FIXTURES = {"site", "served"}
BOOK_MODULES = {"test_book.py"}
#: Tests that execute whole notebooks in a kernel of their own (nbclient), not through nbval: notebook-sized runs.
NOTEBOOK_MODULES = {"test_data_missing_notebooks.py"}
NOTEBOOK_TESTS = {"test_deploy_missing_runtime.py::test_notebook_09_runs_every_other_section_and_says_which_it_skipped"}
#: Tests that take seconds each because they start processes (the CLI, DDP ranks, a fresh clone, pytest itself, a
#: benchmark) or export and quantise real models; measured over 3 s a test on the 2-core machine. ``slow``, not ``unit``.
SLOW_MODULES = {"test_cli.py", "test_deploy.py", "test_ddp.py"}
SLOW_TESTS = {
    "test_reliability_notebooks.py::test_every_notebook_gets_its_second_run_after_its_last_cell",
    "test_fashion_mnist.py::test_cli_fetch_and_doctor_know_the_dataset",
    "test_project.py::test_a_fresh_clone_in_a_private_folder_passes_its_tests",
    "test_project.py::test_make_lab_serves_the_course",
    "test_reliability_downloads.py::test_eight_processes_one_download_no_corruption",
    "test_reliability_downloads.py::test_read_only_cache",
    "test_weights.py::test_online_without_network_fails_fast_with_the_fix",
    "test_benchmarks.py::test_a_benchmark_script_runs_and_ends_with_its_result_line",
    "test_output_checks.py::test_nbval_run_fails_on_a_cell_that_misleads",
    "test_output_checks.py::test_the_second_run_in_the_same_kernel_fails_on_piled_up_state_and_on_a_cell_that_fails_again",
    "test_device.py::test_no_cuda_home_warning_on_a_machine_with_nvcc_but_no_gpu",
    "test_deploy_missing_runtime.py::test_torch_only_paths_work_and_runtime_errors_say_what_to_do",
    "test_reliability_offline.py::test_offline_mode_never_tries_the_network",
    "test_reliability_images.py::test_fuzz_loader_hypothesis",
}
#: Parametrised cases that export real models (the deployment helpers).
SLOW_IDS = ("test_models_left_unchanged.py::test_helper_leaves_the_model_as_it_found_it[deploy.",)


def pytest_ignore_collect(collection_path, config: pytest.Config) -> bool | None:
    """Under ``-m unit`` alone, the modules that hold no unit test are not even imported (test_deploy.py loads
    ExecuTorch: seconds per worker)."""
    if config.getoption("markexpr", "") == "unit" and collection_path.name in SLOW_MODULES | NOTEBOOK_MODULES:
        return True
    return None


#: Modules that use this run's executed notebooks (tests/output_checks.py): they go after every notebook, so that
#: no worker waits for a notebook queued behind it (``--dist loadscope`` hands out scopes in collection order).
AFTER_NOTEBOOKS = {"test_site_browser.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name in AFTER_NOTEBOOKS)  # stable: only those move, to the end
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
        full = f"{item.path.name}::{item.name}"
        if item.path.name in SLOW_MODULES or node in SLOW_TESTS or full.startswith(SLOW_IDS):
            kinds.append(pytest.mark.slow)
        for mark in kinds or [pytest.mark.unit]:
            item.add_marker(mark)
