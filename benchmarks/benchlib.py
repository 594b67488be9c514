"""Shared plumbing of the benchmark scripts: interleaved repeats, medians with min–max, the result line.

Shared machines are noisy, so every script compares the things it measures *side by side in
one run*: each round times every candidate once, in turn, after a warm-up, and the result is
the ratio of medians together with the min–max of the per-round ratios. A load spike then
hits both sides of a ratio instead of one.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from course_utils.measure import synchronize


@dataclass(frozen=True)
class Sample:
    """Seconds per call of one candidate over several rounds."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def lo(self) -> float:
        return min(self.times)

    @property
    def hi(self) -> float:
        return max(self.times)

    def fmt(self, scale: float = 1e3, unit: str = "ms") -> str:
        """``'12.3 ms (min–max 11.9–14.0)'``."""
        return f"{self.median * scale:.1f} {unit} (min–max {self.lo * scale:.1f}–{self.hi * scale:.1f})"


@dataclass(frozen=True)
class Ratio:
    """``slow / fast``: the ratio of the medians, and the min–max of the per-round ratios."""

    value: float
    lo: float
    hi: float

    def fmt(self) -> str:
        return f"{self.value:.2f}x (per round {self.lo:.2f}–{self.hi:.2f})"


def interleaved(
    fns: dict[str, Callable[[], object]], rounds: int = 5, warmup: int = 1, device: str | torch.device | None = None
) -> dict[str, Sample]:
    """Time every function once per round, in turn (after ``warmup`` untimed rounds); the device is synchronised."""
    if rounds < 1 or not fns:
        raise ValueError(f"interleaved needs at least one function and one round, got {len(fns)} and {rounds}")
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(warmup + rounds):
        for name, fn in fns.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            if r >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: Sample(tuple(t)) for name, t in times.items()}


def ratio(slow: Sample, fast: Sample) -> Ratio:
    """How many times faster ``fast`` is than ``slow`` (round by round for the spread)."""
    per_round = [s / f for s, f in zip(slow.times, fast.times)]
    return Ratio(slow.median / fast.median, min(per_round), max(per_round))


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
