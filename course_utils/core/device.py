"""Device choice, seeding, CPU threads (the first cell of every notebook), and where a model lives."""

from __future__ import annotations

import os
import platform
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from . import settings
from .errors import SettingError

__all__ = [
    "buffers_kept",
    "configure_threads",
    "eval_mode",
    "get_device",
    "model_device",
    "resolve_threads",
    "seed_everything",
    "setup",
]


def get_device(prefer: str | None = None) -> torch.device:
    """Best available device: ``cuda`` → ``mps`` → ``cpu`` (``COURSE_DEVICE`` overrides)."""
    choice = prefer or os.environ.get("COURSE_DEVICE", "").strip()
    if choice:
        try:
            return torch.device(choice)
        except (RuntimeError, TypeError):
            where = f"prefer={prefer!r}" if prefer else f"COURSE_DEVICE={choice!r}"
            raise SettingError(f"{where}: not a device; use cpu, cuda, cuda:1 or mps") from None
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter or buffer (the CPU for a model without tensors)."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode inside the ``with`` block; every submodule's train/eval flag is restored after."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, flag in flags:
            m.training = flag


@contextmanager
def buffers_kept(model: nn.Module) -> Iterator[nn.Module]:
    """Inside the block ``model`` may run in train mode; its buffers (BatchNorm's running statistics) are put back after."""
    saved = [b.detach().clone() for b in model.buffers()]
    try:
        yield model
    finally:
        with torch.no_grad():
            for buffer, value in zip(model.buffers(), saved):
                buffer.copy_(value)


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (all devices) for reproducible runs."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _parse_threads(value: str | None) -> int | None:
    """``"4"`` → 4; ``"4,2"`` (OpenMP's nested form) → 4; empty, zero or invalid → None."""
    if not value:
        return None
    try:
        n = int(value.split(",")[0].strip())
    except ValueError:
        return None
    return n if n > 0 else None


def resolve_threads(n: int | None = None, environ: dict[str, str] | None = None, cpu_count: int | None = None) -> int:
    """How many CPU threads to use: ``n``, else ``COURSE_THREADS``, else ``OMP_NUM_THREADS``, else the CPU count.

    The same precedence torch users expect (``OMP_NUM_THREADS`` is torch's own default). An invalid
    ``COURSE_THREADS`` raises :class:`SettingError`; an invalid ``OMP_NUM_THREADS`` is skipped, as torch skips it.
    Pure: it reads ``environ`` (default ``os.environ``) and changes nothing.
    """
    env = os.environ if environ is None else environ
    if n is not None:
        return max(1, int(n))
    raw = env.get("COURSE_THREADS", "").strip()
    if raw:
        parsed = _parse_threads(raw)
        if parsed is None:
            raise SettingError(f"COURSE_THREADS={raw!r}: give a whole number of threads above 0, e.g. 1, or unset it")
        return parsed
    parsed = _parse_threads(
        env.get("OMP_NUM_THREADS")
    )  # torch's own variable: an invalid value is skipped, as torch does
    if parsed is not None:
        return parsed
    return cpu_count if cpu_count is not None else _cpu_count()


def configure_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads as :func:`resolve_threads` decides; returns the number set.

    On small shared CPUs more threads than cores make things slower, never faster.
    """
    n = resolve_threads(n)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def setup(seed: int = 0, threads: int | None = None, quiet: bool = False) -> torch.device:
    """Seed, set threads, apply the course's figure style, pick the device and print one summary line.

    Threads: ``threads``, else ``COURSE_THREADS``, else ``OMP_NUM_THREADS``, else the CPU count.
    Returns the device.
    """
    from .notices import quiet_library_notices
    from .style import apply_style

    quiet_library_notices()
    seed_everything(seed)
    n = configure_threads(threads)
    apply_style()
    device = get_device()
    if not quiet:
        import torchvision

        mode = "ON (no network)" if settings.offline() else "off"
        print(
            f"Python {platform.python_version()} · torch {torch.__version__} · "
            f"torchvision {torchvision.__version__} · device {device} · "
            f"{n} CPU thread(s) · seed {seed} · offline mode {mode}"
        )
    return device
