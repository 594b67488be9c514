"""Markers by kind, the order the scopes run in, and the shared fixtures (local servers, the browser).

Markers are assigned to every collected item (the tests here and nbval's notebook cells alike).

``notebook``: a cell of ``notebooks/*.ipynb`` run by nbval, or a test that executes whole notebooks itself;
``browser``: a test that launches chromium (the ``browser`` fixture below, ``lab`` of ``tests/test_browser.py``,
``page`` of ``tests/test_site_browser.py``); ``book``: a test that builds the Sphinx site (``tests/test_book.py``, the
``site`` fixture of ``tests/test_site_browser.py``); ``slow``: a test that takes seconds because it starts
processes or exports real models (listed below); ``unit``: everything else. ``pytest -m unit`` (``make test-fast``)
is the quick set; ``make test`` selects nothing and runs them all.
The markers are registered in pyproject.toml ([tool.pytest.ini_options] markers).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import ROOT
from tests.output_checks import chromium_executable
from tests.run_twice import notebook_budgets, second_run_wanted

BROWSER_FIXTURES = {"browser", "chromium", "lab", "page"}
BOOK_FIXTURES = {"site", "served"}
# Modules are named by their path under tests/ (``where()``).
BOOK_MODULES = {"test_book.py"}
#: Tests that execute whole notebooks in a kernel of their own (nbclient), not through nbval: notebook-sized runs.
NOTEBOOK_MODULES = {"test_data_missing_notebooks.py"}
NOTEBOOK_TESTS = {"deploy/test_availability.py::test_notebook_09_runs_every_other_section_and_says_which_it_skipped"}
#: Tests that take seconds each because they start processes (the CLI, DDP ranks, a fresh clone, pytest itself, a
#: benchmark) or export and quantise real models; measured over 3 s a test on the 2-core machine. ``slow``, not ``unit``.
SLOW_MODULES = {"cli/test_cli.py", "deploy/test_export.py", "test_ddp_script.py"}
SLOW_TESTS = {
    "reliability/test_notebooks.py::test_every_notebook_gets_its_second_run_after_its_last_cell",
    "test_project.py::test_a_fresh_clone_in_a_private_folder_passes_its_tests",
    "test_project.py::test_make_lab_serves_the_course",
    "reliability/test_downloads.py::test_eight_processes_one_download_no_corruption",
    "reliability/test_downloads.py::test_read_only_cache",
    "models/test_weights.py::test_online_without_network_fails_fast_with_the_fix",
    "test_benchmarks.py::test_a_benchmark_script_runs_and_ends_with_its_result_line",
    "test_output_checks.py::test_nbval_run_fails_on_a_cell_that_misleads",
    "test_output_checks.py::test_the_second_run_in_the_same_kernel_fails_on_piled_up_state_and_on_a_cell_that_fails_again",
    "core/test_device.py::test_no_cuda_home_warning_on_a_machine_with_nvcc_but_no_gpu",
    "deploy/test_availability.py::test_torch_only_paths_work_and_runtime_errors_say_what_to_do",
    "reliability/test_offline.py::test_offline_mode_never_tries_the_network",
    "reliability/test_images.py::test_fuzz_loader_hypothesis",
}
#: Parametrised cases that export real models (the deployment helpers).
SLOW_IDS = ("test_models_left_unchanged.py::test_helper_leaves_the_model_as_it_found_it[deploy.",)
#: Modules that use this run's executed notebooks (tests/output_checks.py): they run last.
AFTER_NOTEBOOKS = {"test_site_browser.py"}
TESTS = ROOT / "tests"


def where(path: Path) -> str:
    """A test module's path under tests/ (``data/test_images.py``), or a notebook's file name."""
    path = Path(path)
    return path.relative_to(TESTS).as_posix() if path.is_relative_to(TESTS) else path.name


def pytest_ignore_collect(collection_path, config: pytest.Config) -> bool | None:
    """Under ``-m unit`` alone, the modules that hold no unit test are not even imported (deploy/test_export.py
    loads ExecuTorch: seconds per worker)."""
    if config.getoption("markexpr", "") == "unit" and where(collection_path) in SLOW_MODULES | NOTEBOOK_MODULES:
        return True
    return None


def longest_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """The items grouped by module or notebook (an xdist ``loadscope`` scope), the longest scopes first, so that
    two workers finish together: notebooks by their budget (twice when they get a second run), then the modules with a
    test that is not ``unit`` (slow, browser, book), then the rest by size; last, the modules that use this run's
    executed notebooks.

    ``make test`` passes ``--no-loadscope-reorder`` so that xdist keeps this order; the order is the same in
    every worker (it reads only the items and the budgets)."""
    scopes: dict[Path, list[pytest.Item]] = {}
    for item in items:
        scopes.setdefault(item.path, []).append(item)
    budgets = notebook_budgets()
    mode = items[0].config.getoption("second_run") if items else "quick"

    def cost(path: Path) -> tuple[int, float]:
        members = scopes[path]
        if where(path) in AFTER_NOTEBOOKS:
            return (3, 0)
        if path.suffix == ".ipynb":
            runs = 2 if second_run_wanted(path.name, mode, budgets) else 1
            return (0, -runs * budgets.get(path.name[:2], 90))
        slow = any(i.get_closest_marker("unit") is None for i in members)  # notebook, browser, book or slow
        return (1 if slow else 2, -len(members))

    return [item for path in sorted(scopes, key=cost) for item in scopes[path]]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = where(item.path)
        node = f"{module}::{item.name.split('[')[0]}"
        if item.path.suffix == ".ipynb" or module in NOTEBOOK_MODULES or node in NOTEBOOK_TESTS:
            item.add_marker(pytest.mark.notebook)
            continue
        fixtures = set(getattr(item, "fixturenames", ()))
        kinds = []
        if fixtures & BROWSER_FIXTURES:
            kinds.append(pytest.mark.browser)
        if fixtures & BOOK_FIXTURES or module in BOOK_MODULES:
            kinds.append(pytest.mark.book)
        full = f"{module}::{item.name}"
        if module in SLOW_MODULES or node in SLOW_TESTS or full.startswith(SLOW_IDS):
            kinds.append(pytest.mark.slow)
        for mark in kinds or [pytest.mark.unit]:
            item.add_marker(mark)
    items[:] = longest_first(items)


# -- shared fixtures: local servers on 127.0.0.1 only, and the browser ------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _start(server: http.server.ThreadingHTTPServer) -> str:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def file_server() -> Iterator[Callable[[Path], str]]:
    """``file_server(folder)`` serves ``folder`` over HTTP on 127.0.0.1 and returns its base URL; every server
    started is stopped when the module's tests are done."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(directory: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        servers.append(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler))
        return _start(servers[-1])

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """``free_port()``: a port on 127.0.0.1 where nothing listens (a connection is refused; a server may bind it)."""

    def pick() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    return pick


@pytest.fixture
def silent_port() -> Iterator[int]:
    """The port of a TCP server on 127.0.0.1 that accepts connections and never sends a byte."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held, stop = [], threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(sock.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


@pytest.fixture
def flaky_server() -> Iterator[Callable[[bytes, int], tuple[str, list[str | None]]]]:
    """``flaky_server(content, cut_after)`` serves ``content`` at ``/file`` and cuts the first response after
    ``cut_after`` bytes; it answers ``Range: bytes=N-`` as real file servers do. Returns ``(url, requests)``:
    ``requests`` records the Range header of every request (``None`` when absent)."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(content: bytes, cut_after: int) -> tuple[str, list[str | None]]:
        requests: list[str | None] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                requests.append(rng)
                start = int(rng.split("=")[1].rstrip("-")) if rng else 0
                body = content[start:]
                self.send_response(206 if rng else 200)
                self.send_header("Content-Length", str(len(body)))
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
                self.end_headers()
                if len(requests) == 1:
                    self.wfile.write(body[:cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        servers.append(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler))
        return _start(servers[-1]) + "/file", requests

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@functools.cache
def _no_browser() -> str | None:
    """Why no browser can be driven here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    if chromium_executable() is None:
        return (
            "no chromium: neither Debian's (apt-get install chromium) nor Playwright's "
            "(python -m playwright install --with-deps chromium)"
        )
    return None


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the browser tests keep their screenshots (``_build/screenshots/``)."""
    folder = ROOT / "_build" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def chromium() -> str:
    """The chromium executable Playwright drives; skipped with the reason without it, except in CI (``CI=true``)."""
    reason = _no_browser()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run in CI: {reason}")
        pytest.skip(reason)
    return chromium_executable()


@pytest.fixture(scope="module")
def browser(chromium):
    """Headless chromium (the ``chromium`` fixture's) driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ],
        )
        yield browser
        browser.close()
