"""Shared plumbing of the benchmark scripts: the ``--rounds`` option, the machine line, the result line, how
timings are printed.

Shared machines are noisy, so every script compares the things it measures *side by side in one
run*, through ``course_utils.measure`` (the timing the notebooks teach): ``compare_functions`` times
every candidate once per round, in rotating order, after a warm-up, for at least ``min_runs`` rounds
and until the spreads settle or the budget is spent; ``paired_ratio`` gives the **median of the
per-round ratios** with its interquartile range. A load spike then hits both sides of a ratio instead
of one. Nothing here times anything itself.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import torch

from course_utils.measure import Ratio, Timing


def rounds_parser(doc: str, default: int | None, help: str) -> argparse.ArgumentParser:
    """The command line of a timing script: the first line of its docstring ``doc`` as description, and
    ``--rounds`` (interleaved rounds at least; ``compare_functions`` never runs fewer than ``MIN_RUNS``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=default, help=help)
    return parser


def fmt(t: Timing, scale: float = 1e3, unit: str = "ms") -> str:
    """``'12.3 ms (IQR 0.4, 9 runs)'``: the median seconds per call of a ``course_utils.measure`` timing."""
    return f"{t.median * scale:.1f} {unit} (IQR {t.iqr * scale:.1f}, {len(t.times)} runs)"


def fmt_ratio(r: Ratio) -> str:
    """``'2.00x (IQR 0.10 over 9 rounds)'``: the median of the per-round ratios of ``paired_ratio``."""
    return f"{r.median:.2f}x (IQR {r.iqr:.2f} over {r.rounds} rounds)"


def load() -> str:
    """The 1, 5 and 15-minute load averages against the core count (how busy the shared machine is)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load n/a"
    return f"load {one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} cores"


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else :func:`platform.processor`."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: str | torch.device = "cpu") -> str:
    """One line: CPU, cores, torch threads, device, versions and the current load."""
    dev = torch.device(device)
    gpu = f" · {torch.cuda.get_device_name(dev)}" if dev.type == "cuda" else ""
    return (
        f"{cpu_name()} · {os.cpu_count()} cores · {torch.get_num_threads()} torch thread(s) · device {dev}{gpu} · "
        f"Python {platform.python_version()} · torch {torch.__version__} · {load()}"
    )


def header(title: str, device: str | torch.device = "cpu") -> None:
    """Print what is measured and on which machine."""
    print(f"== {title}")
    print(f"   {machine(device)}")


def finish(name: str, value: str, target: str, ok: bool) -> int:
    """Print the last line ``name: value (target)`` and return the exit status (1 when the target is missed)."""
    if not ok:
        print(f"TARGET MISSED ({load()})")
    print(f"{name}: {value} ({target})")
    sys.stdout.flush()
    return 0 if ok else 1
