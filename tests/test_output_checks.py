"""The checks on what a learner sees (tests/output_checks.py): each rule fires, and a real nbval run enforces it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.output_checks import problems

ROOT = Path(__file__).resolve().parent.parent


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


def test_nbval_run_fails_on_a_cell_that_misleads(tmp_path):
    """A real notebook run under nbval with this plugin: a stray stderr line fails its cell, a tagged one does not."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import sys\nprint('fine')"),
        nbformat.v4.new_code_cell(
            "print('a deliberate demonstration', file=sys.stderr)", metadata={"tags": ["stderr-expected"]}
        ),
        nbformat.v4.new_code_cell("print('oops', file=sys.stderr)"),
        nbformat.v4.new_code_cell("print('speed-up: 250% of the ceiling')"),
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\n"
            "class Classifier:\n    name, pretrained = 'resnet50', False\n"
            "clf = Classifier()\nfig, ax = plt.subplots()\nax.set_title('ResNet-50 predictions')\nplt.show()"
        ),
        nbformat.v4.new_code_cell("fig, ax = plt.subplots()\nax.set_title('ResNet-50 (RANDOM weights)')\nplt.show()"),
    ]
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    env = {
        **os.environ,
        "COURSE_BUILD_DIR": str(tmp_path / "build"),
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            "-q",
            "--nbval-lax",
            "--nbval-current-env",
            "-p",
            "tests.output_checks",
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
            str(path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1, text
    assert "3 failed, 3 passed" in text, text
    assert "writes to stderr" in text and "'oops'" in text and "above 100 %" in text
    assert "figure title 'ResNet-50 predictions' names a model with random weights" in text
    executed = nbformat.read(tmp_path / "build" / "executed" / "probe.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "fine\n"  # each cell keeps its own outputs
    assert "image/png" in executed.cells[5].outputs[0]["data"]  # figures drawn inline, as in Jupyter
