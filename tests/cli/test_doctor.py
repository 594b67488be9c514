"""The doctor's table and the course's banners: what a learner reads in notebook 00 and after loading a model."""

from __future__ import annotations

import re

import pytest

from course_utils.cli.doctor import format_report
from course_utils.core.notebook import banner_html

ROWS = [
    ("Python", True, "3.11.7"),
    (
        "weights resnet18",
        True,
        "ResNet18_Weights.IMAGENET1K_V1 NOT cached (resnet18-f37072fd.pth): random weights "
        "offline; `python -m course_utils fetch` prepares it",
    ),
    (
        "weights efficientnet_lite0",
        False,
        "/home/learner/course/.venv/lib/python3.11/site-packages/efficientnet_lite0_pytorch"
        "_model/models/efficientnet-lite0-57934424.pth (SHA-256 MISMATCH)",
    ),
]


def test_report_without_width_is_one_line_per_item():
    lines = format_report(ROWS).splitlines()
    assert len(lines) == len(ROWS)
    assert lines[0].startswith("  OK   Python") and lines[2].startswith("  FIX  weights efficientnet_lite0")


@pytest.mark.parametrize("width", [60, 80, 96])
def test_report_wraps_between_words_never_inside_one(width):
    text = format_report(ROWS, width=width)
    lines = text.splitlines()
    too_long = [line for line in lines if len(line) > width and " " in line[35:]]  # one unbreakable word may
    assert not too_long, too_long
    words = {w for _, _, detail in ROWS for w in detail.split() if "/" not in w}
    printed = " ".join(line[35:] if line.startswith(" " * 35) else line for line in lines).split()
    assert words <= set(printed), words - set(printed)  # every word whole, none cut in two
    indent = len("  OK   weights efficientnet_lite0  ")
    assert all(line.startswith(" " * indent) for line in lines if not re.match(r"  (OK |FIX)  ", line))
    path = ROWS[2][2].split()[0]
    assert path in "".join(line.strip() for line in lines)  # a long path breaks only after a '/'


def test_random_weights_banner_reads_as_a_note():
    page = banner_html("resnet18 has RANDOM weights: <offline>", "warning")
    assert "Note:" in page and "WARNING" not in page
    assert "&lt;offline&gt;" in page and "<offline>" not in page
    assert "border-left" in page
