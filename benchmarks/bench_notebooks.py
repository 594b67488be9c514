"""Course runtime and memory: wall time and peak RSS of every notebook executed under nbval, offline.

Each notebook runs in its own ``python -m pytest -p no:xdist --nbval-lax notebooks/NN_x.ipynb``
with ``COURSE_OFFLINE=1`` and ``COURSE_THREADS=1`` (how CI runs each notebook under xdist),
``--jobs`` of them at a time (default 2, as ``make test`` does on 2 cores). Peak RSS covers the
whole process tree (pytest and the Jupyter kernel it starts): the peak of the summed PSS
(shared library pages counted once), sampled with psutil when it is installed, and the
largest single process's peak RSS from ``getrusage(RUSAGE_CHILDREN)`` of a wrapper process
(exact, includes the reaped kernel). Targets: every notebook passes, ≤ 3 GB (the larger of
the two peaks), no notebook over its budget by more than 50 %, and the course's total wall
time ≤ 6 min (elapsed, ``--jobs`` at a time; the sum of the notebooks' times when ``--jobs 1``). The last line reads ``name: value (target)``; the exit status is non-zero
when a target is missed.

    python benchmarks/bench_notebooks.py [--jobs N] [NN ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from benchlib import finish, load

ROOT = Path(__file__).resolve().parent.parent
#: Seconds each notebook may take under nbval on a 2-core CPU with one torch thread.
#: Every notebook within 150 s; the two that train on Fashion-MNIST (04 fine-tunes, 10 trains from scratch) 240 s.
BUDGETS = {
    "00": 30,
    "01": 90,
    "02": 60,
    "03": 90,
    "04": 240,
    "05": 90,
    "06": 90,
    "07": 90,
    "08": 90,
    "09": 150,
    "10": 240,
}
DEFAULT_BUDGET, TOLERANCE, TOTAL_BUDGET, MAX_RSS = 150, 1.5, 480, 3 * 2**30

#: Runs the command given on its command line and writes its exit status and the largest RSS of any
#: descendant it (transitively) reaped, in bytes (Linux reports ru_maxrss in KiB), to the file in $OUT_JSON.
WRAPPER = """
import json, os, resource, subprocess, sys
rc = subprocess.call(sys.argv[1:])
kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
json.dump({"rc": rc, "maxrss": kib * (1 if sys.platform == "darwin" else 1024)}, open(os.environ["OUT_JSON"], "w"))
"""


@dataclass
class Run:
    notebook: str
    seconds: float
    rc: int
    tree_peak: int | None  # peak of the summed PSS of the process tree (psutil), bytes
    process_peak: int  # largest single process (getrusage), bytes
    tail: str

    @property
    def key(self) -> str:
        return self.notebook[:2]

    @property
    def budget(self) -> int:
        return BUDGETS.get(self.key, DEFAULT_BUDGET)

    @property
    def peak(self) -> int:
        return max(self.tree_peak or 0, self.process_peak)


def _tree_memory(proc) -> int:
    """Summed proportional set size (PSS; RSS where PSS is unavailable) of ``proc`` and its descendants, bytes.

    PSS splits shared pages (torch's libraries, mapped by pytest and the kernel alike) between the
    processes that share them, so the sum is what the tree really occupies; summed RSS would count them twice.
    """
    import psutil

    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            info = p.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except psutil.Error:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
    return total


def run_notebook(path: Path) -> Run:
    """Execute one notebook under nbval in a fresh process tree; wall time and peak RSS."""
    env = dict(os.environ, COURSE_OFFLINE="1", COURSE_THREADS="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    with tempfile.TemporaryDirectory() as tmp:
        env["OUT_JSON"] = out = os.path.join(tmp, "rusage.json")
        cmd = [
            sys.executable,
            "-c",
            WRAPPER,
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:xdist",
            "--nbval-lax",
            "-q",
            str(path.relative_to(ROOT)),
        ]
        start = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        peak: list[int | None] = [None]
        try:
            import psutil

            proc, done = psutil.Process(child.pid), threading.Event()

            def poll() -> None:
                while not done.is_set():
                    peak[0] = max(peak[0] or 0, _tree_memory(proc))
                    done.wait(0.2)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
        except ImportError:
            done = poller = None
        output, _ = child.communicate()
        seconds = time.perf_counter() - start
        if poller is not None:
            done.set()
            poller.join()
        try:
            with open(out) as f:
                result = json.load(f)
        except (OSError, ValueError):
            result = {"rc": child.returncode or 1, "maxrss": 0}
    return Run(path.name, seconds, int(result["rc"]), peak[0], int(result["maxrss"]), output.strip()[-1500:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="notebook numbers to run (default: every notebook)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at the same time (default 2)")
    args = parser.parse_args()
    notebooks = sorted(
        p for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb") if not args.only or p.name[:2] in args.only
    )
    if not notebooks:
        print("no notebooks found")
        return finish("notebook_runtime", "no notebooks", f"total <= {TOTAL_BUDGET} s", False)
    print(f"== {len(notebooks)} notebooks under nbval, offline, 1 torch thread each, {args.jobs} at a time · {load()}")
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        runs = list(pool.map(run_notebook, notebooks))
    makespan = time.perf_counter() - start
    print(
        "| notebook | wall time | budget | peak PSS (tree) | largest process | result |\n|---|---:|---:|---:|---:|---|"
    )
    problems = []
    for r in runs:
        over = r.seconds > r.budget * TOLERANCE
        status = "failed" if r.rc else ("over budget" if over else ("over 3 GB" if r.peak > MAX_RSS else "ok"))
        tree = f"{r.tree_peak / 2**20:.0f} MiB" if r.tree_peak else "n/a"
        print(
            f"| {r.notebook} | {r.seconds:.1f} s | {r.budget} s | {tree} | {r.process_peak / 2**20:.0f} MiB | {status} |"
        )
        if status != "ok":
            problems.append(f"{r.notebook}: {status}")
            if r.rc:
                print(f"--- {r.notebook} (exit {r.rc}), last lines:\n{r.tail[-800:]}\n---")
    total = makespan  # the course's wall time with --jobs notebooks at a time (the sum when --jobs 1)
    peak = max(r.peak for r in runs)
    if total > TOTAL_BUDGET:
        problems.append(f"total {total:.0f} s > {TOTAL_BUDGET} s")
    print(
        f"total {total:.1f} s elapsed with {args.jobs} at a time (sum of the notebooks' times "
        f"{sum(r.seconds for r in runs):.1f} s) · largest peak RSS {peak / 2**20:.0f} MiB · {load()}"
    )
    for p in problems:
        print(f"problem: {p}")
    return finish(
        "notebook_runtime",
        f"total {total:.0f} s, max peak RSS {peak / 2**30:.2f} GB, {len(problems)} problem(s)",
        f"total <= {TOTAL_BUDGET} s, each <= 1.5x budget, <= 3 GB",
        not problems,
    )


if __name__ == "__main__":
    sys.exit(main())
