"""Honest timing of models and functions on ``torch.utils.benchmark``.

A measurement warms up first (lazy initialisation, allocator, caches), runs for a fixed
number of threads, synchronises the accelerator around every timed block (CUDA, MPS) and
reports the **median** with the interquartile range as spread: one-off hiccups of a shared
machine move the mean, not the median. Print timings; never assert exact values.
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils import benchmark as tbench

from .device import configure_threads
from .errors import CourseError
from .flops import _first_device, make_input


class BenchmarkError(CourseError, ValueError):
    """Bad arguments to a benchmark (nothing to time, non-positive budgets)."""


@dataclass(frozen=True)
class Timing:
    """Seconds per call: median, interquartile range and the raw per-call times."""

    median: float
    iqr: float
    times: tuple[float, ...]
    batch_size: int
    threads: int
    device: str
    label: str = ""

    @property
    def median_ms(self) -> float:
        return self.median * 1e3

    @property
    def iqr_ms(self) -> float:
        return self.iqr * 1e3

    @property
    def throughput(self) -> float:
        """Items (images) per second: ``batch_size / median``."""
        return self.batch_size / self.median

    def __str__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return (f"{name}{self.median_ms:.2f} ms median (IQR {self.iqr_ms:.2f} ms, {len(self.times)} runs) · "
                f"{self.throughput:.1f} items/s · batch {self.batch_size} · {self.threads} thread(s) · {self.device}")


def synchronize(device: str | torch.device | None = None) -> None:
    """Wait until queued work on ``device`` (CUDA or MPS) has finished; a no-op on the CPU."""
    kind = torch.device(device).type if device is not None else None
    if kind in (None, "cuda") and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    if kind in (None, "mps") and getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        torch.mps.synchronize()


def time_function(fn: Callable[[], object], device: str | torch.device = "cpu", threads: int | None = None,
                  warmup: int = 3, min_run_time: float = 0.2, batch_size: int = 1, label: str = "",
                  min_runs: int = 3) -> Timing:
    """Time ``fn()`` (no arguments): ``warmup`` untimed calls, then ``blocked_autorange`` for ``min_run_time`` s.

    Slow functions are timed at least ``min_runs`` times, so the median and spread mean something.

    ``threads`` fixes torch's CPU threads for the measurement (default: the current setting);
    the previous setting is restored afterwards.
    """
    if not callable(fn):
        raise BenchmarkError(f"time_function needs a callable with no arguments, got {type(fn).__name__}")
    if warmup < 0 or min_run_time <= 0:
        raise BenchmarkError(f"warmup must be ≥ 0 and min_run_time > 0, got warmup={warmup}, min_run_time={min_run_time}")
    device = torch.device(device)
    previous = torch.get_num_threads()
    threads = configure_threads(threads if threads is not None else previous)

    def timer() -> float:
        synchronize(device)
        return timeit.default_timer()

    try:
        for _ in range(warmup):
            fn()
        synchronize(device)
        timer_obj = tbench.Timer(stmt="fn()", globals={"fn": fn}, timer=timer, num_threads=threads,
                                 label=label or "time_function")
        times = [float(t) for t in timer_obj.blocked_autorange(min_run_time=min_run_time).times]
        while len(times) < min_runs:
            times += [float(t) for t in timer_obj.timeit(1).times]
    finally:
        torch.set_num_threads(previous)
    median, iqr = spread(times)
    return Timing(median, iqr, tuple(times), batch_size, threads, str(device), label)


def measure_latency(model: nn.Module, inputs: torch.Tensor | Sequence[torch.Tensor] | None = None,
                    input_size: int | Sequence[int] = 224, batch_size: int = 1,
                    device: str | torch.device | None = None, threads: int | None = None, warmup: int = 3,
                    min_run_time: float = 0.3, channels_last: bool = True, label: str = "") -> Timing:
    """Inference latency of ``model`` (eval mode, ``torch.inference_mode``) on ``inputs`` or a random batch.

    The model and inputs go to ``device`` (default: where the model already is). ``channels_last``
    uses the memory layout that convolutions run fastest in on CPUs and GPUs. ``throughput`` of the
    result is images per second for this batch size.
    """
    if not isinstance(model, nn.Module):
        raise BenchmarkError(f"measure_latency expects an nn.Module, got {type(model).__name__}")
    device = torch.device(device) if device is not None else _first_device(model)
    model = model.eval().to(device)
    if inputs is None:
        inputs = make_input(input_size, batch_size, device=device)
    args = tuple(a.to(device) for a in ((inputs,) if isinstance(inputs, torch.Tensor) else inputs))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        args = tuple(a.contiguous(memory_format=torch.channels_last) if a.ndim == 4 else a for a in args)

    def forward() -> None:
        with torch.inference_mode():
            model(*args)

    try:  # one untimed call first: a bad input fails here with a clear message, not deep inside the timer
        forward()
    except RuntimeError as exc:
        shapes = [tuple(a.shape) for a in args]
        raise BenchmarkError(f"{type(model).__name__} could not run on input of shape {shapes} "
                             f"({str(exc).splitlines()[0][:300]}); expected the input the model was built for: check "
                             "the channel count, the dtype (float32) and that H and W are large enough") from None
    n = int(args[0].shape[0]) if args and args[0].ndim > 0 else 1
    return time_function(forward, device, threads, max(0, warmup - 1), min_run_time, n, label or type(model).__name__)


def matmul_gflops(size: int = 1024, device: str | torch.device = "cpu", threads: int | None = None,
                  min_run_time: float = 0.2) -> float:
    """Achieved GFLOP/s of a square float32 matmul: the practical compute ceiling of this device."""
    if size < 16:
        raise BenchmarkError(f"matmul size must be at least 16, got {size}")
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    t = time_function(lambda: a @ b, device, threads, warmup=2, min_run_time=min_run_time)
    return 2 * size**3 / t.median / 1e9


def spread(times: Sequence[float]) -> tuple[float, float]:
    """Median and interquartile range of a list of timings (for sweeps you time yourself)."""
    if len(times) == 0:
        raise BenchmarkError("spread needs at least one timing")
    if len(times) < 2:
        return float(times[0]), 0.0
    q = statistics.quantiles(times, n=4, method="inclusive")
    return statistics.median(times), q[2] - q[0]





def profile_models(models: dict[str, nn.Module], input_size: int | Sequence[int] = 224, batch_size: int = 1,
                   device: str | torch.device | None = None, threads: int | None = None,
                   min_run_time: float = 0.3, extra: dict[str, dict] | None = None) -> list[dict]:
    """One row per model: ``name``, ``params_M``, ``GFLOPs``, ``latency_ms``, ``iqr_ms``, ``img_per_s``, ``GFLOP_per_s``.

    ``extra`` adds columns per model name (e.g. ``{"resnet18": {"acc@1": 69.8}}``).
    """
    from .flops import measure_cost

    rows = []
    for name, model in models.items():
        dev = torch.device(device) if device is not None else _first_device(model)
        model = model.eval().to(dev)
        cost = measure_cost(model, make_input(input_size, batch_size, device=dev))
        t = measure_latency(model, input_size=input_size, batch_size=batch_size, device=dev, threads=threads,
                            min_run_time=min_run_time, label=name)
        rows.append({"name": name, "params_M": cost.params / 1e6, "GFLOPs": cost.gflops, "latency_ms": t.median_ms,
                     "iqr_ms": t.iqr_ms, "img_per_s": t.throughput, "GFLOP_per_s": cost.flops / t.median / 1e9,
                     **(extra or {}).get(name, {})})
    return rows


def format_table(rows: Sequence[dict], columns: Sequence[str] | None = None, digits: int = 2) -> str:
    """Rows of dicts as an aligned plain-text table (floats rounded to ``digits``)."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())
    cells = [[f"{r.get(c, ''):.{digits}f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in columns]
             for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(vals, widths)))  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """Names on the accuracy–latency Pareto front of ``{name: (latency, accuracy)}``, fastest first.

    A model is on the front when no other model is at least as fast *and* at least as accurate
    while strictly better in one of the two.
    """
    def dominated(a: tuple[float, float]) -> bool:
        return any(b[0] <= a[0] and b[1] >= a[1] and b != a for b in points.values())

    return sorted((n for n, p in points.items() if not dominated(p)), key=lambda n: points[n][0])


def plot_tradeoff(points: dict[str, tuple[float, float]], xlabel: str = "latency (ms)",
                  ylabel: str = "ImageNet acc@1 (%)", title: str | None = None, logx: bool = True):
    """Scatter of ``{name: (x, y)}`` with the Pareto front drawn as a step line; returns the figure."""
    import matplotlib.pyplot as plt

    if not points:
        raise BenchmarkError("plot_tradeoff needs at least one point")
    front = pareto_front(points)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, (x, y) in points.items():
        on = name in front
        ax.scatter(x, y, s=60 if on else 35, color="#c44e52" if on else "#4c72b0", zorder=3)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    xs, ys = zip(*(points[n] for n in front))
    ax.step(xs, ys, where="post", color="#c44e52", alpha=0.6, label="Pareto front")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right")
    ax.set_title(title or "accuracy vs latency (up and to the left is better)")
    fig.tight_layout()
    return fig


__all__ = ["BenchmarkError", "Timing", "format_table", "matmul_gflops", "measure_latency", "pareto_front",
           "plot_tradeoff", "profile_models", "spread", "synchronize", "time_function"]
