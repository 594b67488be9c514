"""How much memory a piece of code needs: peak RSS on the CPU, allocator peaks on GPUs, autograd's saved tensors."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..core.device import get_device

__all__ = ["MemoryUse", "format_bytes", "peak_memory", "saved_tensors_bytes"]

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def format_bytes(n: float) -> str:
    """``1536`` → ``'1.5 KiB'``: bytes in binary units."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


@dataclass
class MemoryUse:
    """Peak memory above the level at the start of a measurement."""

    peak_bytes: int = 0
    device: str = "cpu"
    method: str = ""

    @property
    def mib(self) -> float:
        """The peak in MiB."""
        return self.peak_bytes / 2**20

    def __str__(self) -> str:
        return f"{format_bytes(self.peak_bytes)} ({self.method})"


def _proc_status(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _trim_heap() -> None:
    """Return freed heap memory to the OS (glibc), so that RSS starts from what is really in use."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_hwm() -> bool:
    """Reset Linux's peak-RSS counter (VmHWM); False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    _trim_heap()
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return _proc_status("VmHWM") is not None


def _current_rss() -> int | None:
    rss = _proc_status("VmRSS")
    if rss is not None:
        return rss
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.Process().memory_info().rss)


class _Poller:
    """Samples ``read()`` every ``interval`` seconds in a thread and keeps the maximum."""

    def __init__(self, read: Callable[[], int | None], interval: float = 0.005) -> None:
        self.read, self.interval, self.peak = read, interval, read() or 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.read() or 0)
            time.sleep(self.interval)

    def __enter__(self) -> _Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.read() or 0)


@contextlib.contextmanager
def peak_memory(device: str | torch.device | None = None) -> Iterator[MemoryUse]:
    """Measure the peak memory of the ``with`` body above the level at its start.

    CUDA: the caching allocator's peak (``torch.cuda.max_memory_allocated``). MPS: sampled
    allocated memory. CPU: the process's peak resident set size (Linux's ``VmHWM``, reset at
    the start; elsewhere sampled in a thread). RSS counts everything the process touches,
    so compare measurements of the same code, not absolute values across machines.
    """
    device = torch.device(device) if device is not None else get_device()
    use = MemoryUse(device=str(device))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        yield use
        torch.cuda.synchronize(device)
        use.peak_bytes, use.method = max(0, torch.cuda.max_memory_allocated(device) - base), "CUDA peak allocated"
    elif device.type == "mps":
        base = torch.mps.current_allocated_memory()
        with _Poller(torch.mps.current_allocated_memory) as poller:
            yield use
            torch.mps.synchronize()
        use.peak_bytes, use.method = max(0, poller.peak - base), "MPS allocated, sampled"
    elif _reset_hwm():
        base = _current_rss() or 0
        yield use
        use.peak_bytes, use.method = max(0, (_proc_status("VmHWM") or 0) - base), "peak RSS"
    else:
        base = _current_rss() or 0
        with _Poller(_current_rss) as poller:
            yield use
        use.peak_bytes, use.method = max(0, poller.peak - base), "RSS, sampled"


def saved_tensors_bytes(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, int]:
    """Call ``fn`` and return ``(result, bytes)``: the total size of tensors autograd saved for backward.

    Exact and device-independent: it is what ``torch.no_grad()``/``torch.inference_mode()``
    spare you (0 bytes under them). Tensors saved twice (the same storage) count once.
    """
    seen: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[(storage.data_ptr(), storage.device.index or 0)] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn(*args, **kwargs)
    return result, sum(seen.values())
