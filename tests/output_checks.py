"""What a learner sees: checks on every notebook cell's executed outputs, and on request a screenshot per notebook.

Registered from the root ``conftest.py``; it adds nothing to the notebooks' run time but these checks, done after
each cell that nbval executes. A cell fails when it shows the learner something misleading:

- **stderr** output (a warning box), unless the cell is tagged ``stderr-expected`` (a deliberate demonstration)
  or ``raises-exception``;
- a **figure title** that names a model whose weights are random (a ``Classifier`` with ``pretrained`` False in
  the kernel's namespace) without saying RANDOM;
- a printed **percentage above 100 %**;
- a **timing** that reports fewer than ``course_utils.measure.MIN_RUNS`` runs ("… over 3 runs", "3 runs per measurement").

When a notebook has run, its cells with their outputs are written to ``_build/executed/NN_x.ipynb`` (the website
is built from these copies). With ``COURSE_SCREENSHOTS=1``, and Playwright and chromium installed, each copy is also
rendered at 1280 px to ``_build/screenshots/notebooks/NN_x.png`` for a reviewer to look at: a chromium start and a
full-page render per notebook, 4–12 s each on 2 busy cores, so ``make test`` leaves it off (``COURSE_BUILD_DIR``
moves ``_build``).
"""

from __future__ import annotations

import ast
import copy
import html
import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path

import pytest

from tests import ROOT

BUILD = Path(os.environ.get("COURSE_BUILD_DIR") or ROOT / "_build")  # where executed copies and screenshots go
EXECUTED = BUILD / "executed"
SHOTS = BUILD / "screenshots" / "notebooks"

STDERR_TAGS = {"stderr-expected", "raises-exception"}

_PERCENT = re.compile(r"(?<![\w.])(\d{1,6}(?:\.\d+)?)\s?%")
_RUNS = re.compile(r"\bover (\d+) runs?\b|\b(\d+) runs? per measurement\b")
_TAG = re.compile(r"<[^>]+>")

#: Runs silently in the kernel before each cell (does its work once per kernel): the inline backend, and a recorder
#: of figure titles (matplotlib's canvas ``print_figure`` is what the inline backend and ``savefig`` both call).
_KERNEL_PROBE = """
import sys as _course_sys
if not getattr(_course_sys, "_course_figure_titles", None) is not None:
    _course_sys._course_figure_titles = []
    try:
        # Figures as a learner's Jupyter shows them (the test session's MPLBACKEND=Agg would draw none).
        get_ipython().run_line_magic("matplotlib", "inline")
        from matplotlib.backend_bases import FigureCanvasBase as _CourseCanvas
        _course_print_figure = _CourseCanvas.print_figure

        def _course_recording_print_figure(self, *args, **kwargs):
            try:
                fig = self.figure
                titles = [ax.get_title(loc) for ax in fig.axes for loc in ("left", "center", "right")]
                if getattr(fig, "_suptitle", None) is not None:
                    titles.append(fig._suptitle.get_text())
                _course_sys._course_figure_titles.append([t for t in titles if t.strip()])
            except Exception:
                pass
            return _course_print_figure(self, *args, **kwargs)

        _CourseCanvas.print_figure = _course_recording_print_figure
    except ImportError:
        pass
"""
_KERNEL_REPORT = (
    "__import__('json').dumps({'figures': __import__('sys')._course_figure_titles[:], "
    "'random': sorted({getattr(v, 'name', '') for x in list(get_ipython().user_ns.values()) "
    "for v in (list(x.values()) if isinstance(x, dict) else list(x) if isinstance(x, (list, tuple)) else [x]) "
    "if type(v).__name__ == 'Classifier' and getattr(v, 'pretrained', True) is False}), "
    "'cleared': __import__('sys')._course_figure_titles.clear()})"
)


def is_nbval_cell(item: pytest.Item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "test_outputs")


def kernel_eval(kc, code: str, expression: str | None = None, timeout: float = 60) -> dict | None:
    """Run ``code`` silently in the kernel of client ``kc``; return ``expression`` evaluated there (a JSON string,
    decoded), if given."""
    msg_id = kc.execute(
        code, silent=True, store_history=False, user_expressions={"r": expression} if expression else {}
    )
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    if not expression:
        return None
    value = reply["content"].get("user_expressions", {}).get("r", {})
    if value.get("status") != "ok":
        return None
    return json.loads(ast.literal_eval(value["data"]["text/plain"]))


def _texts(outputs: list) -> list[str]:
    """The text a learner reads in a cell's outputs (streams, plain text, HTML without its tags)."""
    texts = []
    for out in outputs:
        if out.get("output_type") == "stream":
            texts.append(out.get("text", ""))
        data = out.get("data") or {}
        if "text/html" in data:
            texts.append(html.unescape(_TAG.sub(" ", "".join(data["text/html"]))))
        elif "text/plain" in data:
            texts.append("".join(data["text/plain"]))
    return texts


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def problems(cell: dict, outputs: list, figures: list[list[str]], random_models: list[str]) -> list[str]:
    """What is wrong with one executed cell, as sentences (empty when nothing is)."""
    found = []
    tags = set(cell.get("metadata", {}).get("tags", []))
    if not tags & STDERR_TAGS:
        for out in outputs:
            if out.get("output_type") == "stream" and out.get("name") == "stderr" and out.get("text", "").strip():
                found.append(
                    f"writes to stderr (a warning box for the learner): {out['text'].strip()[:300]!r}; "
                    "fix the cause, or tag the cell 'stderr-expected' if it is a deliberate demonstration"
                )
    names = [n for n in (_norm(m) for m in random_models) if n]
    for titles in figures:
        for title in titles:
            hit = next((n for n in names if n in _norm(title)), None)
            if hit and "random" not in title.lower():
                found.append(f"figure title {title!r} names a model with random weights but does not say RANDOM")
    for text in _texts(outputs):
        for match in _PERCENT.finditer(text):
            if float(match.group(1)) > 100:
                line = next((ln for ln in text.splitlines() if match.group(0) in ln), match.group(0))
                found.append(f"prints a percentage above 100 %: {line.strip()[:200]!r}")
        for match in _RUNS.finditer(text):
            # the package's one value, imported here: the plugin loads in every pytest process, the xdist
            # controller included, which would otherwise import torch for nothing
            from course_utils.measure import MIN_RUNS

            runs = int(match.group(1) or match.group(2))
            if runs < MIN_RUNS:
                found.append(f"reports a timing over {runs} run(s) (fewer than {MIN_RUNS}): {match.group(0)!r}")
    return found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    if not is_nbval_cell(item):
        return (yield)
    started = item.config.stash.setdefault(_STARTED_KEY, {})
    if item.parent.path not in started:
        started[item.parent.path] = time.perf_counter()
        EXECUTED.mkdir(parents=True, exist_ok=True)  # another worker may wait for this notebook (this_runs_copy)
        _started_marker(item.parent.path.name).write_text(run_id(item.config), encoding="utf-8")
    kernel_eval(item.parent.kernel.kc, _KERNEL_PROBE)
    result = yield
    report = kernel_eval(item.parent.kernel.kc, "", _KERNEL_REPORT) or {"figures": [], "random": []}
    outputs = item.test_outputs or []
    executed = item.config.stash.setdefault(_EXECUTED_KEY, {})
    executed.setdefault(item.parent.path, {})[item.cell_num] = copy.deepcopy(outputs)
    found = problems(item.cell, outputs, report["figures"], report["random"])
    if found:
        raise AssertionError(f"cell {item.cell_num} shows the learner:\n- " + "\n- ".join(found))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.failed and is_nbval_cell(item):
        item.config.stash.setdefault(FAILED_KEY, set()).add(item.parent.path)
    return report


_EXECUTED_KEY = pytest.StashKey[dict]()
_STARTED_KEY = pytest.StashKey[dict]()
_RUN_KEY = pytest.StashKey[str]()
#: The notebooks (paths) with a failed cell in this run.
FAILED_KEY = pytest.StashKey[set]()

#: The widgets' state at the end of the run, as JupyterLab's "Save Widget State" stores it (None without ipywidgets).
_WIDGET_STATE = (
    "__import__('json').dumps(__import__('ipywidgets').Widget.get_manager_state(drop_defaults=True) "
    "if 'ipywidgets' in __import__('sys').modules else None)"
)


def run_id(config: pytest.Config) -> str:
    """One id for this test run, the same in every xdist worker (xdist's ``testrunuid``)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput and workerinput.get("testrunuid"):
        return workerinput["testrunuid"]
    if _RUN_KEY not in config.stash:
        config.stash[_RUN_KEY] = uuid.uuid4().hex
    return config.stash[_RUN_KEY]


def _started_marker(name: str) -> Path:
    return EXECUTED / f".{name}.started"


def this_runs_copy(name: str, config: pytest.Config, timeout: float = 1800) -> Path | None:
    """This run's executed copy of notebook ``name`` (``_build/executed/``), or None when no worker has started it.

    A notebook another worker is running is waited for (a worker runs one item at a time, so it is not this one);
    one that has not started may be queued behind the caller on the same worker, so it is not waited for.
    """
    run, path, deadline = run_id(config), EXECUTED / name, time.monotonic() + timeout
    while True:
        try:
            course = json.loads(path.read_text(encoding="utf-8"))["metadata"].get("course", {})
        except (OSError, ValueError, KeyError):
            course = {}
        if course.get("run") == run:
            return path
        try:
            started = _started_marker(name).read_text(encoding="utf-8") == run
        except OSError:
            started = False
        if not started:
            return None
        if time.monotonic() > deadline:
            pytest.fail(f"{name}: started in this run but no executed copy after {timeout:.0f} s in {EXECUTED}")
        time.sleep(2)


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if not is_nbval_cell(item) or (nextitem is not None and is_nbval_cell(nextitem) and nextitem.parent is item.parent):
        return  # not the notebook's last cell
    path = item.parent.path
    outputs = item.config.stash.get(_EXECUTED_KEY, {}).pop(path, {})
    if not outputs:
        return
    started = item.config.stash.get(_STARTED_KEY, {}).pop(path, time.perf_counter())
    course = {
        "run": run_id(item.config),
        "seconds": round(time.perf_counter() - started, 1),
        "failed": path in item.config.stash.get(FAILED_KEY, set()),
    }
    widgets = kernel_eval(item.parent.kernel.kc, "", _WIDGET_STATE) if item.parent.kernel.is_alive() else None
    save_executed(item.parent.nb, outputs, path, course=course, widgets=widgets)


def save_executed(
    nb, outputs: dict[int, list], path: Path, course: dict | None = None, widgets: dict | None = None
) -> Path:
    """Write the notebook with the outputs nbval saw (by code-cell number) to ``_build/executed/``; screenshot it
    when :func:`screenshots_wanted`.

    ``course`` (this run's id, its seconds, whether a cell failed) goes to the notebook's ``metadata.course``, the
    widget state to ``metadata.widgets``: the website is built from these copies without running them again.
    """
    import nbformat

    nb = copy.deepcopy(nb)
    if course is not None:
        nb.metadata["course"] = course
    if widgets:
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": widgets}
    for num, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):  # nbval numbers code cells only
        cell.outputs = [nbformat.from_dict(dict(o)) for o in outputs.get(num, [])]
        for out in cell.outputs:
            if out.get("output_type") == "execute_result":
                out.setdefault("metadata", {})
                out.setdefault("execution_count", None)
    EXECUTED.mkdir(parents=True, exist_ok=True)
    target = EXECUTED / path.name
    nbformat.write(nb, target)
    if screenshots_wanted():
        try:
            screenshot(target, SHOTS / f"{path.stem}.png")
        except Exception as exc:  # a reviewer's convenience: never fail the notebook's run for it
            print(f"output_checks: no screenshot of {path.name}: {exc}")
    return target


def screenshots_wanted() -> bool:
    """Whether executed notebooks are screenshotted: ``COURSE_SCREENSHOTS=1`` (read when a notebook has run)."""
    return os.environ.get("COURSE_SCREENSHOTS", "").strip().lower() in {"1", "true", "yes", "on"}


def chromium_executable() -> str | None:
    """Playwright's own chromium when it has been downloaded, else Debian's ``chromium``, else ``chromium-browser``."""
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            bundled = pw.chromium.executable_path
        if bundled and Path(bundled).is_file():
            return bundled
    except Exception:  # Playwright missing or its driver unable to start: look on PATH only
        pass
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(notebook: Path, png: Path, width: int = 1280) -> Path | None:
    """Render an executed notebook to HTML and take a full-page screenshot at ``width`` px (None without a browser)."""
    try:
        from nbconvert import HTMLExporter
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    chromium = chromium_executable()
    if chromium is None:
        return None
    body, _ = HTMLExporter(template_name="lab").from_filename(str(notebook))
    page_html = notebook.with_suffix(".html")
    page_html.write_text(body, encoding="utf-8")
    png.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            # Offline and self-contained: the page's CDN scripts (require.js, MathJax) are not fetched.
            page.route(
                "**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort()
            )
            page.goto(page_html.as_uri(), wait_until="load", timeout=60_000)
            page.screenshot(path=str(png), full_page=True, timeout=60_000)
        finally:
            browser.close()
    return png
