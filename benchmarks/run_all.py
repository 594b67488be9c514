"""Run every ``benchmarks/bench_*.py`` (what ``make bench`` does) and summarise their result lines.

Each script runs in its own process; its output streams through, its last line
(``name: value (target)``) and exit status go into a summary table. ``--record`` also writes the
table, the machine and the load into ``benchmarks/README.md`` (between the ``results`` markers).
``COURSE_OFFLINE`` defaults to 1: speed does not depend on whether weights are pretrained.

    python benchmarks/run_all.py [-k SUBSTRING] [--record]
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import torch
from benchlib import load, machine

from course_utils.core.device import configure_threads

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


def run(script: Path) -> tuple[int, str, float]:
    """Run one script, echoing its output; exit status, last non-empty line, seconds."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=HERE.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    last = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        if line.strip() and not line.startswith("W1") and "cpp_extension" not in line:
            last = line.strip()
    return proc.wait(), last, time.perf_counter() - start


def record(rows: list[tuple[str, int, str, float]], before: str, after: str) -> None:
    """Replace the results section of benchmarks/README.md."""
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        START,
        f"Run {stamp}, `COURSE_THREADS={os.environ.get('COURSE_THREADS', 'unset')}`.",
        "",
        f"Machine: {machine()}",
        "",
        f"Load before: {before}; after: {after}.",
        "",
        "| script | result line | status | seconds |",
        "|---|---|---|---:|",
    ]
    lines += [
        f"| {name} | `{last.replace('|', chr(92) + '|')}` | {'pass' if rc == 0 else 'FAIL'} | {secs:.0f} |"
        for name, rc, last, secs in rows
    ]  # a | inside a table cell must be escaped
    lines.append(END)
    text = README.read_text() if README.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    README.write_text(
        pattern.sub(lambda _: "\n".join(lines), text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + "\n".join(lines) + "\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="run only scripts whose name contains this")
    parser.add_argument("--record", action="store_true", help="write the results into benchmarks/README.md")
    args = parser.parse_args()
    os.environ.setdefault("COURSE_OFFLINE", "1")
    configure_threads()  # the summary names the thread count the scripts use
    scripts = [p for p in sorted(HERE.glob("bench_*.py")) if args.k in p.name]
    if not scripts:
        print(f"no benchmarks/bench_*.py matches {args.k!r}")
        return 2
    before = load()
    print(f"{len(scripts)} benchmark(s) · {machine()}")
    rows = []
    for script in scripts:
        print(f"\n### {script.name}", flush=True)
        rc, last, secs = run(script)
        rows.append((script.name, rc, last, secs))
    after = load()
    print("\n| script | result | status | seconds |\n|---|---|---|---:|")
    for name, rc, last, secs in rows:
        print(f"| {name} | {last} | {'pass' if rc == 0 else f'FAIL (exit {rc})'} | {secs:.0f} |")
    print(f"load before {before}; after {after} · torch {torch.__version__}")
    if args.record:
        record(rows, before, after)
        print(f"recorded in {README.relative_to(HERE.parent)}")
    return 0 if all(rc == 0 for _, rc, _, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
