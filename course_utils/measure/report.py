"""Tables of measured models: parameters, FLOPs, latency and achieved throughput against this device's ceiling."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..core.device import model_device
from ..core.errors import BenchmarkError
from .flops import make_input, measure_cost
from .timing import compare_latency, time_function

__all__ = ["format_share", "format_table", "matmul_gflops", "profile_models", "wrap_words"]


def matmul_gflops(
    size: int | Sequence[int] = (256, 512, 1024),
    device: str | torch.device = "cpu",
    threads: int | None = None,
    min_run_time: float = 0.2,
) -> float:
    """Achieved GFLOP/s of square float32 matmuls: the practical compute ceiling of this device.

    A ceiling must be one: it is the **best** run (not the median) over several runs at each of a few
    sizes (small ones fit the caches, big ones amortise overhead), at the thread count the rest of
    the measurement uses. A convolution can still beat it when its library kernel is better tuned or
    does fewer multiplies than the direct count (Winograd, FFT): :func:`format_share` says so.
    """
    sizes = [size] if isinstance(size, int) else list(size)
    if not sizes or min(sizes) < 16:
        raise BenchmarkError(f"matmul size must be at least 16, got {size}")
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, device=device)
        b = torch.randn(n, n, device=device)
        t = time_function(lambda a=a, b=b: a @ b, device, threads, warmup=2, min_run_time=min_run_time / len(sizes))
        best = max(best, 2 * n**3 / min(t.times) / 1e9)
    return best


def format_share(rate: float, ceiling: float) -> str:
    """``'48 % of the ceiling'``, or an honest sentence when ``rate`` is above ``ceiling`` (never > 100 %)."""
    if ceiling <= 0:
        raise BenchmarkError(f"the ceiling must be positive, got {ceiling}")
    if rate <= ceiling:
        return f"{100 * rate / ceiling:.0f} % of the ceiling"
    return (
        f"above the matmul ceiling (×{rate / ceiling:.2f}): the library's kernel beats the matmul or does fewer "
        "multiplies than the direct count (e.g. Winograd)"
    )


def profile_models(
    models: dict[str, nn.Module],
    input_size: int | Sequence[int] | Mapping[str, int] = 224,
    batch_size: int = 1,
    device: str | torch.device | None = None,
    threads: int | None = None,
    min_run_time: float = 0.3,
    extra: dict[str, dict] | None = None,
    max_run_time: float | None = None,
) -> list[dict]:
    """One row per model: ``name``, ``params_M``, ``GFLOPs``, ``latency_ms``, ``iqr_ms``, ``spread_%``, ``runs``,
    ``img_per_s``, ``GFLOP_per_s``; the latencies are timed interleaved (:func:`compare_latency`).

    ``min_run_time`` is per model (the comparison runs for ``len(models) × min_run_time`` at least).
    ``extra`` adds columns per model name (e.g. ``{"resnet18": {"acc@1": 69.8}}``). The models are measured in
    eval mode on ``device`` (default: where each one is) and left as they were (:func:`compare_latency`).
    """
    costs = {}
    for name, model in models.items():
        size = input_size.get(name, 224) if isinstance(input_size, Mapping) else input_size
        # FLOPs do not depend on the device: counted where the model is (measure_cost restores its mode)
        costs[name] = measure_cost(model, make_input(size, batch_size, device=model_device(model)))
    budget = min_run_time * len(models)
    timings = compare_latency(
        models, None, input_size, batch_size, device, threads, min_run_time=budget, max_run_time=max_run_time
    )
    rows = []
    for name, t in timings.items():
        cost = costs[name]
        rows.append(
            {
                "name": name,
                "params_M": cost.params / 1e6,
                "GFLOPs": cost.gflops,
                "latency_ms": t.median_ms,
                "iqr_ms": t.iqr_ms,
                "spread_%": min(100.0, 100 * t.spread),
                "runs": len(t.times),
                "img_per_s": t.throughput,
                "GFLOP_per_s": cost.flops / t.median / 1e9,
                **(extra or {}).get(name, {}),
            }
        )
    return rows


def wrap_words(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters where it can be, broken at spaces, and inside a
    long path only after a '/' (a single word longer than ``width`` keeps its own line)."""
    pieces = []  # (piece, joined to the previous piece without a space)
    for word in text.split():
        parts = re.findall(r"[^/]*/|[^/]+$", word) if len(word) > width else [word]
        pieces += [(part, k > 0) for k, part in enumerate(parts)]
    lines: list[str] = []
    for piece, glued in pieces:
        joined = (lines[-1] + ("" if glued else " ") + piece) if lines else piece
        if lines and len(joined) <= width:
            lines[-1] = joined
        else:
            lines.append(piece)
    return lines or [""]


def format_table(
    rows: Sequence[dict],
    columns: Sequence[str] | None = None,
    digits: int = 2,
    *,
    align: str | None = None,
    header: bool = True,
    indent: int = 0,
    width: int | None = None,
) -> str:
    """Rows of dicts as an aligned plain-text table (floats rounded to ``digits``): the course's one table.

    ``align``: one ``<`` or ``>`` per column (default: the first left, the others right). ``header=False``
    leaves out the column names and the rule. ``indent`` spaces before every line. With ``width``, the last
    column wraps between words onto lines indented under it, so the table fits a narrow output.
    """
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())
    align = align or "<" + ">" * (len(columns) - 1)
    if len(align) != len(columns) or set(align) - {"<", ">"}:
        raise BenchmarkError(f"align={align!r}: give one '<' or '>' per column ({len(columns)} columns)")
    cells = [
        [f"{r.get(c, ''):.{digits}f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in columns]
        for r in rows
    ]
    heads = [[str(c) for c in columns]] if header else []
    widths = [max(len(row[i]) for row in heads + cells) for i in range(len(columns))]
    pad = " " * indent

    def line(vals: Sequence[str]) -> str:
        text = "  ".join(v.ljust(w) if a == "<" else v.rjust(w) for v, w, a in zip(vals, widths, align))
        return (pad + text).rstrip()

    out = [line(heads[0]), line(["-" * w for w in widths])] if header else []
    last = indent + sum(widths[:-1]) + 2 * (len(columns) - 1)
    for row in cells:
        parts = wrap_words(row[-1], max(20, width - last)) if width and align[-1] == "<" else [row[-1]]
        out.append(line([*row[:-1], parts[0]]))
        out.extend(" " * last + part for part in parts[1:])
    return "\n".join(out)
