"""Execute the notebooks and render them, with outputs, to a browsable HTML book (``make book``).

Usage: ``python scripts/build_book.py [--out _build/book] [NOTEBOOK ...]`` (default: every notebook).
The notebooks in ``notebooks/`` are never modified: execution happens on copies in memory.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent


def _title(nb: nbformat.NotebookNode, path: Path) -> str:
    first = nb.cells[0].source.splitlines()[0] if nb.cells else path.stem
    return first.lstrip("# ").strip()


def build(notebooks: list[Path], out: Path, timeout: int = 600) -> list[tuple[Path, str, float]]:
    """Execute each notebook (cwd = notebooks/) and write ``out/NN_x.html`` plus ``out/index.html``."""
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    done = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        seconds = time.perf_counter() - start
        body, _ = exporter.from_notebook_node(nb)
        (out / f"{path.stem}.html").write_text(body, encoding="utf-8")
        done.append((path, _title(nb, path), seconds))
        print(f"{path.name}: executed in {seconds:.0f} s → {out / (path.stem + '.html')}", flush=True)
    items = "\n".join(f'<li><a href="{p.stem}.html">{html.escape(t)}</a> <small>({s:.0f} s)</small></li>'
                      for p, t, s in done)
    (out / "index.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>ResNet &amp; MobileNet, hands-on</title>"
        "<h1>ResNet &amp; MobileNet, hands-on</h1><p>Every notebook, executed with its outputs.</p>"
        f"<ol start='0'>{items}</ol>", encoding="utf-8")
    (out / "book.json").write_text(json.dumps([{"notebook": p.name, "title": t, "seconds": round(s, 1)}
                                               for p, t, s in done], indent=1))
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "book")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    build([p.resolve() for p in notebooks], args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
