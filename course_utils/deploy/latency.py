"""Latency of anything callable on a tensor (eager model, ONNX session, ExecuTorch method) with the course's timer."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import torch

from ..core.errors import BenchmarkError
from ..measure.timing import MIN_RUNS, Ratio, Timing, compare_functions, noise_note, time_function

__all__ = ["compare_runs", "latency", "speedup_line", "speedup_verdict"]


def latency(
    run: Callable[[torch.Tensor], object],
    x: torch.Tensor,
    label: str = "",
    min_run_time: float = 0.3,
    min_runs: int = MIN_RUNS,
) -> Timing:
    """Median seconds of ``run(x)`` under ``torch.inference_mode`` (``course_utils.measure.timing.time_function``)."""

    def call() -> None:
        with torch.inference_mode():
            run(x)

    return time_function(
        call, x.device, warmup=2, min_run_time=min_run_time, batch_size=int(x.shape[0]), label=label, min_runs=min_runs
    )


def compare_runs(
    runs: Mapping[str, Callable[[torch.Tensor], object]],
    x: torch.Tensor,
    min_run_time: float = 0.3,
    max_run_time: float | None = None,
    min_runs: int = MIN_RUNS,
) -> dict[str, Timing]:
    """Latency of several ways to run ``x`` (eager models, :class:`~course_utils.deploy.OnnxModel`,
    :class:`~course_utils.deploy.PteModel`), timed **interleaved**: each round runs each once, in rotating order.

    Built on :func:`course_utils.measure.timing.compare_functions`, under ``torch.inference_mode``: a load spike
    of a shared machine slows all of them, and :func:`~course_utils.measure.paired_ratio` of two results divides
    the runs of the same round. Returns ``{name: Timing}`` in the given order.
    """

    def call(run: Callable[[torch.Tensor], object]) -> Callable[[], None]:
        def go() -> None:
            with torch.inference_mode():
                run(x)

        return go

    fns = {name: call(run) if callable(run) else run for name, run in runs.items()}
    for name, fn in fns.items():  # one untimed call each: a run that fails says which, before any timing
        if not callable(fn):
            continue  # compare_functions names what is not callable
        try:
            fn()
        except Exception as exc:
            raise BenchmarkError(
                f"compare_runs: {name!r} failed on input of shape {tuple(x.shape)} ({type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}); run it once by hand on this "
                "input (an exported file takes the shape it was exported with)"
            ) from None
    return compare_functions(
        fns,
        x.device,
        warmup=2,
        min_run_time=min_run_time,
        max_run_time=max_run_time,
        min_runs=min_runs,
        batch_sizes=int(x.shape[0]),
    )


def speedup_verdict(ratio: Ratio, timings: Iterable[Timing] = ()) -> str:
    """``"noisy"``, ``"same"``, ``"faster"`` or ``"slower"``: what ``ratio`` (baseline time / candidate time per
    round, :func:`~course_utils.measure.paired_ratio`) supports.

    Noisy when the ratio or one of ``timings`` spreads too much (:func:`~course_utils.measure.noise_note`); the same
    when the median is within half the interquartile range (at least 2 %) of 1.
    """
    if noise_note([ratio, *timings]):
        return "noisy"
    if abs(ratio.median - 1) <= max(ratio.iqr / 2, 0.02):
        return "same"
    return "faster" if ratio.median > 1 else "slower"


def speedup_line(ratio: Ratio, baseline: str, candidate: str, timings: Iterable[Timing] = ()) -> str:
    """One line saying what ``ratio`` (baseline time / candidate time, per round) allows one to say
    (:func:`speedup_verdict`): the noise note, "within noise", or how many times faster or slower the candidate ran.
    """
    timings = list(timings)
    verdict = speedup_verdict(ratio, timings)
    spread = f"median of {ratio.rounds} interleaved rounds, IQR {ratio.iqr:.2f}"
    if verdict == "noisy":
        return f"{candidate} vs {baseline}: {noise_note([ratio, *timings])}"
    if verdict == "same":
        return f"{candidate} vs {baseline}: within noise ({ratio.median:.2f}×, {spread})"
    if verdict == "faster":
        return f"{candidate} runs {ratio.median:.2f}× as fast as {baseline} ({spread})"
    return f"{candidate} runs {1 / ratio.median:.2f}× slower than {baseline} ({spread})"
