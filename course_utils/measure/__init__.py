"""Measuring: parameters and FLOPs, honest timing on a busy machine, memory, tables of models, results over seeds."""

from .flops import Cost, count_params, make_input, measure_cost
from .memory import MemoryUse, format_bytes, peak_memory, saved_tensors_bytes
from .report import format_share, format_table, matmul_gflops, profile_models
from .seeds import MIN_SEEDS, Runs, differs, verdict
from .timing import (
    MIN_RUNS,
    NOISY_SPREAD,
    TARGET_SPREAD,
    Ratio,
    Timing,
    compare_functions,
    compare_latency,
    interleave_order,
    is_noisy,
    noise_note,
    paired_ratio,
    spread,
    synchronize,
    time_function,
)

__all__ = [
    "MIN_RUNS",
    "MIN_SEEDS",
    "NOISY_SPREAD",
    "TARGET_SPREAD",
    "Cost",
    "MemoryUse",
    "Ratio",
    "Runs",
    "Timing",
    "compare_functions",
    "compare_latency",
    "count_params",
    "differs",
    "format_bytes",
    "format_share",
    "format_table",
    "interleave_order",
    "is_noisy",
    "make_input",
    "matmul_gflops",
    "measure_cost",
    "noise_note",
    "paired_ratio",
    "peak_memory",
    "profile_models",
    "saved_tensors_bytes",
    "spread",
    "synchronize",
    "time_function",
    "verdict",
]
