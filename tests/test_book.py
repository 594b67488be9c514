"""`make book` (scripts/build_book.py) on small real notebooks: what it builds, when it fails, and offline.

Each test runs the real build (Sphinx, MyST-NB, a real kernel) on one or two tiny notebooks, a few
seconds each; the course's own notebooks are built in ``tests/test_site_browser.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

from tests import ROOT, netguard

GUARD_SITE = "course-reliability-"  # the test session's own guard folder on PYTHONPATH (tests/reliability_summary.py)


def _notebook(path: Path, *cells: str, title: str = "98 · A tiny page") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\nA page of the test site.")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)
    return path


def _build(*notebooks: Path, out: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/build_book.py", "--jobs", "1", "--out", str(out), *map(str, notebooks)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env or {**os.environ, "COURSE_OFFLINE": "1"},
    )


def _standalone_env() -> dict:
    """COURSE_OFFLINE=1 without the test session's guard: the build must guard itself, as `make book` does."""
    env = {k: v for k, v in os.environ.items() if k != "COURSE_NET_GUARD"}
    path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and GUARD_SITE not in p]
    return {**env, "PYTHONPATH": os.pathsep.join(path), "COURSE_OFFLINE": "1"}


def test_a_failing_notebook_fails_the_build_and_leaves_the_old_site(tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("the previous site")
    broken = _notebook(
        tmp_path / "98_broken.ipynb", "x = 1", "raise ValueError('the data is missing')", "print('never reached')"
    )
    result = _build(broken, out=out)
    assert result.returncode == 1, result.stdout[-2000:]
    message = result.stderr.strip().splitlines()
    assert any("98_broken.ipynb failed" in line for line in message), result.stderr[-2000:]
    assert "the data is missing" in result.stderr and "make book" in result.stderr
    assert (out / "index.html").read_text() == "the previous site"  # no half-built site replaced it
    assert not (out / "notebooks").exists()


def test_offline_the_build_guards_every_kernel_and_fails_on_a_connection(tmp_path):
    """Under COURSE_OFFLINE=1 a notebook that connects to another machine is stopped, recorded, and fails the build."""
    leaky = _notebook(
        tmp_path / "98_leaky.ipynb",
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 80), timeout=2)  # TEST-NET-1: another machine\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__)",
    )
    result = _build(leaky, out=tmp_path / "site", env=_standalone_env())
    assert result.returncode == 1, result.stdout[-2000:]
    assert "tried to reach the network" in result.stderr and "192.0.2.1:80" in result.stderr, result.stderr
    assert not (tmp_path / "site").exists()


def test_offline_build_opens_no_socket_and_reports_times(tmp_path):
    """A clean build under the guard: nothing recorded, one page per notebook in order, a time for each."""
    record = tmp_path / "network.log"
    first = _notebook(tmp_path / "97_first.ipynb", "print(6 * 7)", title="97 · First page")
    second = _notebook(
        tmp_path / "98_second.ipynb",
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
        "ax.plot([1, 2, 3])\nax.set_title('A rising line for the test')\nplt.show()",
        title="98 · Second page",
    )
    before = {p: p.read_bytes() for p in (first, second)}
    env = _standalone_env()
    netguard.guard_children(tmp_path / "guard", record, env)  # the guard in every child Python, as the suite does
    out = tmp_path / "site"
    result = _build(second, first, out=out, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert not record.exists() or record.read_text().strip() == "", record.read_text()
    rows = json.loads((out / "book.json").read_text())
    assert [r["notebook"] for r in rows] == ["notebooks/97_first.ipynb", "notebooks/98_second.ipynb"]
    assert all(r["seconds"] > 0 and r["succeeded"] for r in rows)
    assert "notebooks/97_first.ipynb" in result.stdout and "executed in" in result.stdout  # the table
    page = (out / "notebooks" / "97_first.html").read_text()
    assert "42" in page
    second_page = (out / "notebooks" / "98_second.html").read_text()
    assert 'alt="Figure: A rising line for the test"' in second_page
    index = (out / "index.html").read_text()
    assert index.index("notebooks/97_first.html") < index.index("notebooks/98_second.html")  # course order
    assert {p: p.read_bytes() for p in (first, second)} == before  # outputs never written back


def test_a_missing_notebook_is_a_clear_error(tmp_path):
    result = _build(tmp_path / "nope.ipynb", out=tmp_path / "site")
    assert result.returncode == 1 and "not a notebook file" in result.stderr and "Traceback" not in result.stderr


def test_every_course_notebook_is_a_page_in_course_order():
    """The build globs notebooks/NN_*.ipynb (a new notebook is picked up); the site's table of contents globs them."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import build_book
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    found = [p.name for p in build_book.course_notebooks()]
    assert found == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert found[0] == "00_start_here.ipynb" and len(found) >= 9
    index = (ROOT / "book" / "index.md").read_text()
    assert ":glob:" in index and "notebooks/*" in index
