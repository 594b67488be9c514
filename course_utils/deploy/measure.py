"""Latency of anything callable on a tensor (eager model, ONNX session, ExecuTorch method) with the course's timer."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..measure.timing import Timing, time_function

#: Timed calls at least, so a median and a spread mean something.
MIN_RUNS = 10


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


__all__ = ["MIN_RUNS", "latency"]
