"""The checks on what a learner sees (tests/output_checks.py): each rule fires, and a real nbval run enforces it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests import ROOT, output_checks
from tests.output_checks import problems, save_executed, screenshots_wanted


def _stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def _cell(tags: list[str] | None = None) -> dict:
    return {"cell_type": "code", "metadata": {"tags": tags or []}, "source": ""}


def test_stderr_is_flagged_unless_tagged():
    out = [_stream("No CUDA runtime is found, using CUDA_HOME='/usr/local/cuda'\n", "stderr")]
    assert any("stderr" in p and "CUDA_HOME" in p for p in problems(_cell(), out, [], []))
    assert problems(_cell(["stderr-expected"]), out, [], []) == []
    assert problems(_cell(), [_stream("fine\n")], [], []) == []


@pytest.mark.parametrize(
    "text, bad",
    [
        ("standard 3×3: 417.2 GFLOP/s (223% of the ceiling)", True),
        ("dw % time 116.47 %", True),
        ("accuracy 100.0 %", False),
        ("top-1 87.5%", False),
        ("a 14.4× speed-up", False),
    ],
)
def test_percentages_above_100_are_flagged(text, bad):
    found = problems(_cell(), [_stream(text)], [], [])
    assert bool(found) is bad, found


def test_percentages_in_html_are_read_without_tags():
    out = [{"output_type": "display_data", "data": {"text/html": "<td style='width:100%'>agreement 140 %</td>"}}]
    assert any("140" in p for p in problems(_cell(), out, [], []))


@pytest.mark.parametrize(
    "text, bad",
    [
        ("median 3.21 ms (IQR 0.00 ms over 1 runs)", True),
        ("  1 measurement, 3 runs per measurement, 1 thread", True),
        ("median 3.21 ms (IQR 0.20 ms over 25 runs)", False),
        ("  1 measurement, 100 runs per measurement, 1 thread", False),
    ],
)
def test_timings_with_too_few_runs_are_flagged(text, bad):
    assert bool(problems(_cell(), [_stream(text)], [], [])) is bad


def test_random_model_titles_must_say_random():
    random = ["resnet50"]
    assert problems(_cell(), [], [["ResNet-50: full fine-tune, validation"]], random)
    assert problems(_cell(), [], [["ResNet-50 (RANDOM weights): validation"]], random) == []
    assert problems(_cell(), [], [["efficientnet_lite0: validation"]], random) == []  # real weights: fine
    assert problems(_cell(), [], [["ResNet-50"]], []) == []


def _nbval(notebooks: dict, tmp_path: Path, *plugins: str) -> subprocess.CompletedProcess:
    """Run ``{name: notebook}`` under nbval in one fresh pytest with only ``plugins`` (executed copies under
    tmp_path); ``-rA`` lists every item's outcome."""
    paths = []
    for name, nb in notebooks.items():
        paths.append(tmp_path / f"{name}.ipynb")
        nbformat.write(nb, paths[-1])
    env = {
        **{k: v for k, v in os.environ.items() if k != "COURSE_SCREENSHOTS"},  # the default: no screenshots
        "COURSE_BUILD_DIR": str(tmp_path / "build"),
        "COURSE_THREADS": "1",  # the kernels' thread check (tests/run_twice.py) applies, as under xdist
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    plugin_args = [arg for name in plugins for arg in ("-p", name)]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rA",
            "--nbval-lax",
            "--nbval-current-env",
            *plugin_args,
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
            *map(str, paths),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _notebook(*sources: str, tags: dict[int, list[str]] | None = None):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(s, metadata={"tags": (tags or {})[i]} if i in (tags or {}) else {})
        for i, s in enumerate(sources)
    ]
    return nb


#: Run together under nbval in one fresh pytest (a kernel each), with both plugins.
NOTEBOOKS = {
    # the output checks: a stray stderr line fails its cell, a tagged one does not; percentages; RANDOM titles
    "probe": _notebook(
        "import sys\nprint('fine')",
        "print('a deliberate demonstration', file=sys.stderr)",
        "print('oops', file=sys.stderr)",
        "print('speed-up: 250% of the ceiling')",
        "import matplotlib.pyplot as plt\n"
        "class Classifier:\n    name, pretrained = 'resnet50', False\n"
        "clf = Classifier()\nfig, ax = plt.subplots()\nax.set_title('ResNet-50 predictions')\nplt.show()",
        "fig, ax = plt.subplots()\nax.set_title('ResNet-50 (RANDOM weights)')\nplt.show()",
        tags={1: ["stderr-expected"]},
    ),
    # the second run: a list that grows per run, a cell that works once, a clean notebook, a broken one, and one
    # numbered as a training notebook (10: budget 240 s), which the default `--second-run=quick` runs once
    "growing": _notebook("try:\n    log\nexcept NameError:\n    log = []\nlog.append(1)"),
    "10_trains": _notebook("try:\n    log\nexcept NameError:\n    log = []\nlog.append(1)"),
    # a training notebook gets no second run, but its kernel is still checked: here it changes its torch threads
    "10_threads": _notebook("import torch\ntorch.set_num_threads(2)"),
    "once": _notebook("import os\nos.mkdir('made-once')"),
    "clean": _notebook("log = []\nlog.append(1)", "print(len(log))"),
    "broken": _notebook("raise ValueError('first run')"),
}


@pytest.fixture(scope="module")
def nbval_run(tmp_path_factory) -> tuple[str, dict[str, str], Path]:
    """The run's text, each item's outcome, and the folder it ran in."""
    tmp_path = tmp_path_factory.mktemp("nbval")
    proc = _nbval(NOTEBOOKS, tmp_path, "tests.output_checks", "tests.run_twice")
    outcome = {}
    for line in proc.stdout.splitlines():
        status, _, rest = line.partition(" ")
        if status in {"PASSED", "FAILED", "SKIPPED", "ERROR"} and ".ipynb::" in rest:
            outcome[rest.split(" - ")[0].strip()] = status
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr, outcome, tmp_path


def test_nbval_run_fails_on_a_cell_that_misleads(nbval_run):
    """A real notebook run under nbval with this plugin: a stray stderr line fails its cell, a tagged one does not."""
    text, outcome, tmp_path = nbval_run
    probe = {k.split("::")[1]: v for k, v in outcome.items() if k.startswith("probe.ipynb::Cell")}
    assert probe == {f"Cell {i}": s for i, s in enumerate(["PASSED", "PASSED", "FAILED", "FAILED", "FAILED", "PASSED"])}
    assert "writes to stderr" in text and "'oops'" in text and "above 100 %" in text
    assert "figure title 'ResNet-50 predictions' names a model with random weights" in text
    executed = nbformat.read(tmp_path / "build" / "executed" / "probe.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "fine\n"  # each cell keeps its own outputs
    assert "image/png" in executed.cells[5].outputs[0]["data"]  # figures drawn inline, as in Jupyter
    assert executed.metadata["course"]["failed"] is True and executed.metadata["course"]["seconds"] > 0
    assert not (tmp_path / "build" / "screenshots").exists(), "screenshots are taken only with COURSE_SCREENSHOTS=1"


@pytest.mark.parametrize("value, wanted", [("1", True), ("true", True), ("", False), ("0", False), (None, False)])
def test_screenshots_are_wanted_only_when_asked_for(monkeypatch, value, wanted):
    if value is None:
        monkeypatch.delenv("COURSE_SCREENSHOTS", raising=False)
    else:
        monkeypatch.setenv("COURSE_SCREENSHOTS", value)
    assert screenshots_wanted() is wanted


def test_an_executed_copy_is_screenshotted_when_asked_for(chromium, monkeypatch, tmp_path):
    """With COURSE_SCREENSHOTS=1 the executed copy is rendered by chromium to a full-page PNG."""
    monkeypatch.setenv("COURSE_SCREENSHOTS", "1")
    monkeypatch.setattr(output_checks, "EXECUTED", tmp_path / "executed")
    monkeypatch.setattr(output_checks, "SHOTS", tmp_path / "shots")
    nb = _notebook("print('hello')")
    copy = save_executed(nb, {0: [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]}, Path("07_x.ipynb"))
    png = tmp_path / "shots" / "07_x.png"
    assert copy == tmp_path / "executed" / "07_x.ipynb" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 5_000


def test_the_second_run_in_the_same_kernel_fails_on_piled_up_state_and_on_a_cell_that_fails_again(nbval_run):
    """tests/run_twice.py on real notebooks: a list that grows per run fails, a cell that works once fails, a clean
    notebook passes; a notebook whose first run failed gets no second run, nor (by default) a training notebook,
    whose skip says how to run it: there the same growing list goes unseen, but its kernel is still checked (a
    notebook that changes its torch threads fails)."""
    text, outcome, _ = nbval_run
    again = "run again in the same kernel"
    assert {k: v for k, v in outcome.items() if not k.startswith("probe.ipynb::Cell")} == {
        "growing.ipynb::Cell 0": "PASSED",
        f"growing.ipynb::{again}": "FAILED",
        "once.ipynb::Cell 0": "PASSED",
        f"once.ipynb::{again}": "FAILED",
        "clean.ipynb::Cell 0": "PASSED",
        "clean.ipynb::Cell 1": "PASSED",
        f"clean.ipynb::{again}": "PASSED",
        "broken.ipynb::Cell 0": "FAILED",
        "10_trains.ipynb::Cell 0": "PASSED",
        "10_threads.ipynb::Cell 0": "PASSED",
        f"10_threads.ipynb::{again}": "FAILED",
    }, text[-3000:]
    assert "SKIPPED [2]" in text and "a cell of the first run failed" in text, text[-3000:]  # probe, broken
    assert "--second-run=quick: 10_trains.ipynb ran once (its budget is 240 s" in text, text[-3000:]
    assert "`make test-full` (--second-run=all) runs it again" in text, text[-3000:]
    assert "its kernel's threads and offline guard were checked" in text, text[-3000:]
    assert "10_threads.ipynb: the kernel used 2 threads, not 1" in text, text[-3000:]
    assert "7 failed, 10 passed, 3 skipped" in text, text[-3000:]
    assert "state changed on the second run" in text and "log: {'len': 1} → {'len': 2}" in text, text[-3000:]
    assert "cell 0 fails on the second run" in text and "FileExistsError" in text, text[-3000:]
