"""Build the course website with Sphinx and MyST-NB (``make book``): every notebook executed, with its outputs.

Usage: ``python scripts/build_book.py [--out _build/book] [--executed] [NOTEBOOK ...]`` (default: every
``notebooks/NN_*.ipynb``). With ``--executed`` the notebooks given already carry their outputs (the test run's
copies in ``_build/executed/``, written by nbval): they are rendered as they are, not run again, and each one's
run time comes from its ``metadata.course``.
The sources are staged in a temporary folder in the repository's layout (``book/`` pages, README, CONTRIBUTING,
``docs/``, the notebooks); the notebooks in ``notebooks/`` are never modified. The site replaces ``--out`` only
when the whole build succeeded: a failing notebook fails the build and leaves no half-built site. At the end a
table gives each notebook's execution time (also written to ``<out>/book.json``). Under ``COURSE_OFFLINE=1`` the
build and every notebook kernel run behind the course's socket guard; a connection to another machine fails it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
PAGES = ("README.md", "CONTRIBUTING.md")  # README: included by the landing page; not a page of its own


class BookError(Exception):
    """A build that cannot start or did not finish; the message says why and what to do."""


def course_notebooks() -> list[Path]:
    """Every course notebook, in course order (``NN_topic.ipynb``)."""
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def stage(notebooks: list[Path], src: Path, executed: bool = False) -> None:
    """Copy the site's sources into ``src``, laid out as in the repository (launch links use those paths).

    ``executed``: the notebooks already carry their outputs; the build report lists the run times they record.
    """
    shutil.copytree(BOOK, src, dirs_exist_ok=True, ignore=shutil.ignore_patterns("conf.py", "_static", "__pycache__"))
    if executed:
        report = src / "build-report.md"
        report.write_text(
            report.read_text(encoding="utf-8").replace("```{nb-exec-table}\n```", executed_table(notebooks)),
            encoding="utf-8",
        )
    for name in PAGES:
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "docs", src / "docs", dirs_exist_ok=True)
    (src / "notebooks").mkdir(exist_ok=True)
    for nb in notebooks:
        if not nb.is_file() or nb.suffix != ".ipynb":
            raise BookError(f"{nb}: not a notebook file; give paths like notebooks/00_start_here.ipynb")
        data = json.loads(nb.read_text(encoding="utf-8"))
        for cell in data.get("cells", []):
            if cell.get("cell_type") == "markdown":
                cell["source"] = local_images("".join(cell["source"]))
        (src / "notebooks" / nb.name).write_text(
            json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )


def executed_table(notebooks: list[Path]) -> str:
    """The build report's table for notebooks executed beforehand (MyST-NB's own table lists only what it ran)."""
    lines = [
        "This build rendered the copies the test run executed under nbval (`scripts/build_book.py --executed`): the",
        "notebooks were not run again, and the times below are those of the test run.",
        "",
        "| notebook | executed by | seconds | succeeded |",
        "|---|---|---:|---|",
    ]
    for nb in notebooks:
        course = json.loads(nb.read_text(encoding="utf-8")).get("metadata", {}).get("course")
        if not course:
            raise BookError(f"{nb}: not an executed copy (no metadata.course); run the notebooks, or drop --executed")
        failed = course.get("failed", False)
        lines.append(f"| notebooks/{nb.stem} | the test run (nbval) | {float(course['seconds']):.1f} | {not failed} |")
    return "\n".join(lines) + "\n"


_LINKED_IMAGE = re.compile(r"\[!\[([^\]]*)\]\((https?://[^)\s]+)\)\]\((https?://[^)\s]+)\)")
_REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\((https?://[^)\s]+)\)")


def local_images(markdown: str) -> str:
    """Markdown with no image from another host: a page must not fetch one when it is viewed.

    The Colab / Binder badges become text links (each page also has the theme's launch buttons).
    """
    markdown = _LINKED_IMAGE.sub(lambda m: f"[{m.group(1) or m.group(3)}]({m.group(3)})", markdown)
    return _REMOTE_IMAGE.sub(lambda m: f"[{m.group(1) or 'image'}]({m.group(2)})", markdown)


def guard_network(tmp: Path) -> Path | None:
    """Under ``COURSE_OFFLINE=1``, guard this process and every child Python; return the record file."""
    from course_utils.core.settings import offline

    if not offline():
        return None
    sys.path.insert(0, str(ROOT))  # the guard is test support: tests/netguard.py
    from tests import netguard

    if not os.environ.get(netguard.ENV):  # the test suite may have set one up already: reuse it
        netguard.guard_children(tmp / "guard", tmp / "network.log")
    netguard.install_from_env()
    return Path(os.environ[netguard.ENV])


def _cause(exc: BaseException) -> BaseException:
    """The innermost exception (Sphinx wraps a notebook's failure in extension errors)."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "orig_exc", None) or exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def _failed_notebook(exc: BaseException) -> str:
    current: BaseException | None = exc
    while current is not None:
        if type(current).__name__ == "ExecutionError" and current.args:
            return Path(str(current.args[0])).name
        current = getattr(current, "orig_exc", None) or current.__cause__
    return "a notebook"


def build(notebooks: list[Path], out: Path, jobs: int = 1, executed: bool = False) -> list[dict]:
    """Stage, execute and render ``notebooks`` into the site ``out``; return the per-notebook report rows.

    ``executed``: the notebooks already carry their outputs; render them without running them.
    """
    try:
        from sphinx.application import Sphinx
        from sphinx.util.console import nocolor
    except ImportError as exc:
        raise BookError('the book tools are not installed: run `make book`, or pip install -e ".[book]"') from exc
    out = out.resolve()
    with tempfile.TemporaryDirectory(prefix="course-book-") as tmp_name:
        tmp = Path(tmp_name)
        src, partial = tmp / "src", tmp / "html"
        src.mkdir()
        stage(notebooks, src, executed=executed)
        record = guard_network(tmp)
        os.environ.pop("MPLBACKEND", None)  # kernels draw inline figures (a test run may have set Agg)
        before = len(_records(record))
        warnings = io.StringIO()
        # A partial build (some notebooks) links to chapters it lacks from the landing page: expected there.
        partial_build = {nb.name for nb in notebooks} != {nb.name for nb in course_notebooks()}
        overrides = {"suppress_warnings": ["myst.xref_missing"]} if partial_build else {}
        if executed:
            overrides["nb_execution_mode"] = "off"
        if not sys.stderr.isatty():
            nocolor()
        start = time.perf_counter()
        try:
            app = Sphinx(
                str(src),
                str(BOOK),
                str(partial),
                str(tmp / "doctrees"),
                "html",
                status=sys.stdout,
                warning=_Tee(warnings, sys.stderr),
                freshenv=True,
                parallel=jobs,
                confoverrides=overrides,
            )
            app.build()
        except Exception as exc:  # a notebook failed (or Sphinx did): no site, a message that says which
            inner = _cause(exc)
            raise BookError(
                f"the book was not built: {_failed_notebook(exc)} failed: {type(inner).__name__}: "
                f"{str(inner).strip()[-1500:]}\nFix the notebook (run it in `make lab`), then `make book`."
            ) from exc
        for nb in notebooks:  # the download button offers the notebook exactly as stored in the repository
            source = partial / "_sources" / "notebooks" / nb.name
            stored = ROOT / "notebooks" / nb.name
            if source.is_file():
                shutil.copy2(stored if stored.is_file() else nb, source)
        if app.statuscode:
            raise BookError(f"Sphinx reported errors (exit status {app.statuscode}); see the messages above")
        blocked = _records(record)[before:]
        if blocked:
            raise BookError(
                "offline mode (COURSE_OFFLINE=1): the build tried to reach the network:\n  " + "\n  ".join(blocked[:20])
            )
        rows = json.loads((partial / "book.json").read_text(encoding="utf-8"))
        report = {
            "seconds": round(time.perf_counter() - start, 1),
            "pages": len(list(partial.rglob("*.html"))),
            "warnings": [line for line in warnings.getvalue().splitlines() if line.strip()],
        }
        (partial / "build.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(partial, out)
    _print_table(rows, report, out)
    return rows


class _Tee(io.TextIOBase):
    """Sphinx's warning stream: shown as usual and kept for the report."""

    def __init__(self, *streams: io.TextIOBase) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)


def _records(record: Path | None) -> list[str]:
    if record is None or not record.is_file():
        return []
    return [line for line in record.read_text(encoding="utf-8").splitlines() if line.strip()]


def _print_table(rows: list[dict], report: dict, out: Path) -> None:
    width = max([len(r["notebook"]) for r in rows] + [8])
    print(f"\n{'notebook':<{width}}  executed in", flush=True)
    for r in rows:
        print(f"{r['notebook']:<{width}}  {r['seconds']:7.1f} s")
    total = sum(r["seconds"] for r in rows)
    print(
        f"{'total':<{width}}  {total:7.1f} s of execution; build {report['seconds']:.0f} s, "
        f"{report['pages']} pages, {len(report['warnings'])} warning line(s)"
    )
    print(f"book: {out / 'index.html'}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to build (default: all, in course order)")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "book", help="the site's folder")
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="notebooks executed at once (default: 2, or 1 on a single core)",
    )
    parser.add_argument(
        "--executed",
        action="store_true",
        help="the notebooks already carry their outputs (e.g. _build/executed/ after make test): do not run them",
    )
    args = parser.parse_args(argv)
    notebooks = [p.resolve() for p in args.notebooks] or course_notebooks()
    if args.jobs > 1:
        os.environ.setdefault("COURSE_THREADS", "1")  # one torch thread per kernel when kernels share the cores
    try:
        build(notebooks, args.out, jobs=max(1, args.jobs), executed=args.executed)
    except BookError as exc:
        print(f"book: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
