"""Honest timing of models and functions that holds on a busy machine.

A measurement warms up first (lazy initialisation, allocator, caches), fixes the number of CPU
threads, synchronises the accelerator around every timed run (CUDA, MPS) and repeats **adaptively**,
as ``torch.utils.benchmark``'s ``adaptive_autorange`` does: at least :data:`MIN_RUNS` runs, then more
until the interquartile range (IQR) is within ``target_spread`` of the median or the time budget is
spent. It reports the **median** with the IQR as spread: one-off hiccups of a shared machine move
the mean, not the median. When things are compared (:func:`compare_functions`, :func:`compare_latency`)
they are timed **interleaved**, one run each per round in rotating order, so a load spike hits all of
them instead of one; :func:`paired_ratio` turns two such timings into a ratio per round. When the
spread stays large, :func:`noise_note` says so in one line instead of a conclusion. Print timings;
never assert exact values.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from ..core.device import configure_threads, eval_mode, model_device
from ..core.errors import BenchmarkError
from ..models.inference import placed
from .flops import make_input

__all__ = [
    "MIN_RUNS",
    "NOISY_SPREAD",
    "Ratio",
    "TARGET_SPREAD",
    "Timing",
    "compare_functions",
    "compare_latency",
    "interleave_order",
    "is_noisy",
    "noise_note",
    "paired_ratio",
    "spread",
    "synchronize",
    "time_function",
]

#: Every timing has at least this many runs: fewer give no meaningful median or spread.
MIN_RUNS = 5
#: Adaptive timing stops once the IQR is within this fraction of the median.
TARGET_SPREAD = 0.1
#: A timing whose IQR exceeds this fraction of the median is too noisy to draw conclusions from.
NOISY_SPREAD = 0.25
#: Calls per run are batched until one run takes at least this long (timer overhead stays negligible).
_MIN_RUN_SECONDS = 2e-3
#: Each run is the best of this many blocks of calls (robust to a block preempted by another program).
_BLOCKS_PER_RUN = 3
#: Calls slower than this are timed one block per run (a long run averages over interruptions anyway).
_SLOW_CALL_SECONDS = 0.02


def _percent(fraction: float) -> str:
    """``0.123`` → ``'12 %'``; never prints more than 100 % (a spread that large is 'over 100 %')."""
    return "over 100 %" if fraction > 1 else f"{100 * fraction:.0f} %"


class _Spread:
    """A median with its interquartile range: how steady it is."""

    median: float
    iqr: float

    @property
    def spread(self) -> float:
        """IQR as a fraction of the median (0.05 = 5 %)."""
        return self.iqr / self.median if self.median > 0 else math.inf

    @property
    def noisy(self) -> bool:
        """True when the spread is too large (> :data:`NOISY_SPREAD`) to trust small differences."""
        return is_noisy(self.spread)


@dataclass(frozen=True)
class Timing(_Spread):
    """Seconds per call: median, interquartile range and the raw per-run times (one per round)."""

    median: float
    iqr: float
    times: tuple[float, ...]
    batch_size: int
    threads: int
    device: str
    label: str = ""
    number: int = 1  #: calls averaged in each run

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
        return (
            f"{name}{self.median_ms:.2f} ms median (IQR {self.iqr_ms:.2f} ms, {_percent(self.spread)} of the "
            f"median, over {len(self.times)} runs) · {self.throughput:.1f} items/s · batch {self.batch_size} · "
            f"{self.threads} thread(s) · {self.device}"
        )


def is_noisy(spread: float, threshold: float = NOISY_SPREAD) -> bool:
    """Whether a relative spread (IQR / median) is too large to draw a conclusion from."""
    return not spread <= threshold  # NaN and inf count as noisy


def noise_note(timings: Iterable[Timing | Ratio | float] | Timing | Ratio, threshold: float = NOISY_SPREAD) -> str:
    """``''`` when every timing is steady, else one line: the largest spread and what to do.

    Accepts timings, ratios or relative spreads (IQR / median). Print it *instead of* a conclusion:
    ``print(noise_note(ts) or "separable is faster")``.
    """
    items = [timings] if isinstance(timings, (Timing, Ratio)) else list(timings)
    worst = max((float(t) if isinstance(t, (int, float)) else t.spread for t in items), default=0.0)
    if not is_noisy(worst, threshold):
        return ""
    return (
        f"timings were noisy (spread {_percent(worst)} of the median), rerun on an idle machine "
        "before drawing a conclusion"
    )


def interleave_order(n: int, round_index: int) -> list[int]:
    """The order in which ``n`` candidates run in round ``round_index``: rotated by one each round.

    Two candidates alternate AB, BA, AB, …; three run ABC, BCA, CAB, …, so none is always first
    (warm caches) or always last (after the others heated the CPU).
    """
    if n < 0:
        raise BenchmarkError(f"interleave_order needs n ≥ 0, got {n}")
    start = round_index % n if n else 0
    return [(start + i) % n for i in range(n)]


def synchronize(device: str | torch.device | None = None) -> None:
    """Wait until queued work on ``device`` (CUDA or MPS) has finished; a no-op on the CPU."""
    kind = torch.device(device).type if device is not None else None
    if kind in (None, "cuda") and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    if kind in (None, "mps") and getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        torch.mps.synchronize()


def spread(times: Sequence[float]) -> tuple[float, float]:
    """Median and interquartile range of a list of timings (for sweeps you time yourself)."""
    if len(times) == 0:
        raise BenchmarkError("spread needs at least one timing")
    if len(times) < 2:
        return float(times[0]), 0.0
    q = statistics.quantiles(times, n=4, method="inclusive")
    return statistics.median(times), q[2] - q[0]


def _done(
    runs: Sequence[Sequence[float]],
    elapsed: float,
    min_runs: int,
    min_run_time: float,
    max_run_time: float,
    target_spread: float,
) -> bool:
    """The adaptive stopping rule: enough runs and time, and steady enough (or out of budget)."""
    if min(len(r) for r in runs) < min_runs:
        return False
    if elapsed >= max_run_time:
        return True
    if elapsed < min_run_time:
        return False
    return all(spread(r)[1] <= target_spread * spread(r)[0] for r in runs)


def _check_budget(warmup: int, min_run_time: float, max_run_time: float | None) -> float:
    if warmup < 0 or min_run_time <= 0:
        raise BenchmarkError(
            f"warmup must be ≥ 0 and min_run_time > 0, got warmup={warmup}, min_run_time={min_run_time}"
        )
    if max_run_time is None:
        return 5 * min_run_time
    if max_run_time < min_run_time:
        raise BenchmarkError(f"max_run_time ({max_run_time}) must be ≥ min_run_time ({min_run_time})")
    return max_run_time


def compare_functions(
    fns: Mapping[str, Callable[[], object]],
    device: str | torch.device = "cpu",
    threads: int | None = None,
    warmup: int = 3,
    min_run_time: float = 0.2,
    max_run_time: float | None = None,
    min_runs: int = MIN_RUNS,
    target_spread: float = TARGET_SPREAD,
    batch_sizes: Mapping[str, int] | int = 1,
) -> dict[str, Timing]:
    """Time several no-argument functions **interleaved**: each round runs each once, in rotating order.

    Every function gets ``warmup`` untimed calls, then calls are batched until a block takes a few
    milliseconds; a run of a fast function is the best of three such blocks (a block preempted by
    another program does not count), a slow function's run is one call. Rounds continue until every function has ``min_runs`` (at least :data:`MIN_RUNS`)
    runs, ``min_run_time`` seconds have passed and every spread is within ``target_spread`` of its
    median — or ``max_run_time`` (default 5 × ``min_run_time``) is spent. ``threads`` fixes torch's CPU
    threads for the measurement; the previous setting is restored. Returns ``{name: Timing}``.
    """
    fns = dict(fns)
    if not fns or not all(callable(f) for f in fns.values()):
        bad = next((type(f).__name__ for f in fns.values() if not callable(f)), "nothing")
        raise BenchmarkError(f"compare_functions needs callables with no arguments, got {bad}")
    max_run_time = _check_budget(warmup, min_run_time, max_run_time)
    min_runs = max(MIN_RUNS, int(min_runs))
    device = torch.device(device)
    names = list(fns)
    previous = torch.get_num_threads()
    threads = configure_threads(threads if threads is not None else previous)

    def one_block(fn: Callable[[], object], number: int) -> float:
        synchronize(device)
        start = time.perf_counter()
        for _ in range(number):
            fn()
        synchronize(device)
        return (time.perf_counter() - start) / number

    def one_run(name: str) -> float:
        # fast functions: the best of a few short blocks, so a block another program preempted does not count
        return min(one_block(fns[name], numbers[name]) for _ in range(blocks[name]))

    try:
        numbers, blocks = {}, {}
        for name in names:
            for _ in range(warmup):
                fns[name]()
            first = one_block(fns[name], 1)
            numbers[name] = max(1, min(10_000, math.ceil(_MIN_RUN_SECONDS / max(first, 1e-9))))
            blocks[name] = _BLOCKS_PER_RUN if first < _SLOW_CALL_SECONDS else 1
        runs: dict[str, list[float]] = {n: [] for n in names}
        start, round_index = time.perf_counter(), 0
        while not _done(
            list(runs.values()), time.perf_counter() - start, min_runs, min_run_time, max_run_time, target_spread
        ):
            for i in interleave_order(len(names), round_index):
                runs[names[i]].append(one_run(names[i]))
            round_index += 1
    finally:
        torch.set_num_threads(previous)
    sizes = batch_sizes if isinstance(batch_sizes, Mapping) else dict.fromkeys(names, batch_sizes)
    return {
        n: Timing(*spread(runs[n]), tuple(runs[n]), int(sizes.get(n, 1)), threads, str(device), n, numbers[n])
        for n in names
    }


def time_function(
    fn: Callable[[], object],
    device: str | torch.device = "cpu",
    threads: int | None = None,
    warmup: int = 3,
    min_run_time: float = 0.2,
    batch_size: int = 1,
    label: str = "",
    min_runs: int = MIN_RUNS,
    max_run_time: float | None = None,
    target_spread: float = TARGET_SPREAD,
) -> Timing:
    """Time ``fn()`` (no arguments) adaptively: ``warmup`` untimed calls, then at least ``min_runs`` runs.

    Runs continue until ``min_run_time`` seconds have passed and the IQR is within ``target_spread``
    of the median, or ``max_run_time`` (default 5 × ``min_run_time``) is spent; never fewer than
    :data:`MIN_RUNS` runs. ``threads`` fixes torch's CPU threads for the measurement (default: the
    current setting); the previous setting is restored afterwards. See :func:`compare_functions`
    to compare several functions fairly.
    """
    if not callable(fn):
        raise BenchmarkError(f"time_function needs a callable with no arguments, got {type(fn).__name__}")
    t = compare_functions(
        {label or "time_function": fn},
        device,
        threads,
        warmup,
        min_run_time,
        max_run_time,
        min_runs,
        target_spread,
        batch_size,
    )
    timing = next(iter(t.values()))
    return Timing(
        timing.median, timing.iqr, timing.times, batch_size, timing.threads, timing.device, label, timing.number
    )


@dataclass(frozen=True)
class Ratio(_Spread):
    """``a / b`` per interleaved round: the median ratio, its IQR and the number of rounds."""

    median: float
    iqr: float
    rounds: int

    def __str__(self) -> str:
        return f"{self.median:.2f}× (IQR {self.iqr:.2f} over {self.rounds} runs)"


def paired_ratio(a: Timing, b: Timing) -> Ratio:
    """``a / b`` computed round by round for two timings of one :func:`compare_functions` call.

    Interleaved runs of the same round saw the same load, so their ratio cancels most of it.
    """
    if len(a.times) != len(b.times) or not a.times:
        raise BenchmarkError(
            f"paired_ratio needs two timings from one interleaved comparison (same number of "
            f"runs); got {len(a.times)} and {len(b.times)} runs"
        )
    ratios = [x / y for x, y in zip(a.times, b.times)]
    median, iqr = spread(ratios)
    return Ratio(median, iqr, len(ratios))


@contextmanager
def _prepared(
    model: nn.Module,
    inputs: torch.Tensor | Sequence[torch.Tensor] | None,
    input_size: int | Sequence[int],
    batch_size: int,
    device: torch.device | None,
    channels_last: bool,
) -> Iterator[tuple[Callable[[], None], int]]:
    """A no-argument forward pass of ``model`` (eval, ``inference_mode``) and its batch size, checked once.

    Inside the block the model is in eval mode, on ``device`` and, with ``channels_last``, in channels-last
    memory; afterwards its train/eval flags and its own tensors are back (:func:`~course_utils.models.inference.placed`).
    """
    device = torch.device(device) if device is not None else model_device(model)
    if inputs is None:
        inputs = make_input(input_size, batch_size, device=device)
    args = tuple(a.to(device) for a in ((inputs,) if isinstance(inputs, torch.Tensor) else inputs))
    if channels_last:
        args = tuple(a.contiguous(memory_format=torch.channels_last) if a.ndim == 4 else a for a in args)
    fmt = torch.channels_last if channels_last else None
    with eval_mode(model), placed(model, device, fmt):

        def forward() -> None:
            with torch.inference_mode():
                model(*args)

        try:  # one untimed call first: a bad input fails here with a clear message, not deep inside the timer
            forward()
        except RuntimeError as exc:
            shapes = [tuple(a.shape) for a in args]
            raise BenchmarkError(
                f"{type(model).__name__} could not run on input of shape {shapes} "
                f"({str(exc).splitlines()[0][:300]}); expected the input the model was built for: check "
                "the channel count, the dtype (float32) and that H and W are large enough"
            ) from None
        yield forward, int(args[0].shape[0]) if args and args[0].ndim > 0 else 1


def compare_latency(
    models: Mapping[str, nn.Module],
    inputs: torch.Tensor | Mapping[str, torch.Tensor] | None = None,
    input_size: int | Sequence[int] | Mapping[str, int | Sequence[int]] = 224,
    batch_size: int = 1,
    device: str | torch.device | None = None,
    threads: int | None = None,
    warmup: int = 2,
    min_run_time: float = 0.5,
    max_run_time: float | None = None,
    channels_last: bool = True,
) -> dict[str, Timing]:
    """Latency of several models (or one model on several inputs), timed **interleaved** round by round.

    ``inputs`` is one tensor for all, or ``{name: tensor}``; without it each gets a random batch of
    ``input_size`` (an int, ``(H, W)`` or ``{name: size}``). Returns ``{name: Timing}`` in the given order;
    :func:`paired_ratio` of two results is a per-round ratio.

    The models run in eval mode on ``device`` (default: where each one is), channels-last with
    ``channels_last``; afterwards every model is as it was: train/eval flags, device, memory format.
    """
    if not models:
        raise BenchmarkError("compare_latency needs at least one model")
    for name, model in models.items():
        if not isinstance(model, nn.Module):
            raise BenchmarkError(f"compare_latency times nn.Modules, got a {type(model).__name__} for {name!r}")
    fns, sizes = {}, {}
    with ExitStack() as stack:
        for name, model in models.items():
            x = inputs.get(name) if isinstance(inputs, Mapping) else inputs
            size = input_size.get(name, 224) if isinstance(input_size, Mapping) else input_size
            dev = torch.device(device) if device is not None else model_device(model)
            fns[name], sizes[name] = stack.enter_context(_prepared(model, x, size, batch_size, dev, channels_last))
        dev = torch.device(device) if device is not None else model_device(next(iter(models.values())))
        return compare_functions(fns, dev, threads, max(0, warmup - 1), min_run_time, max_run_time, batch_sizes=sizes)
