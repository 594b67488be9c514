"""Device choice, seeding and CPU threads: the first cell of every notebook."""

from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch

from . import settings


def get_device(prefer: str | None = None) -> torch.device:
    """Best available device: ``cuda`` → ``mps`` → ``cpu`` (``COURSE_DEVICE`` overrides)."""
    choice = prefer or os.environ.get("COURSE_DEVICE")
    if choice:
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (all devices) for reproducible runs."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def configure_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads: ``n``, else ``COURSE_THREADS``, else the CPU count.

    On small shared CPUs more threads than cores make things slower, never faster.
    """
    if n is None:
        env = os.environ.get("COURSE_THREADS")
        n = int(env) if env else (os.cpu_count() or 1)
    n = max(1, int(n))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def setup(seed: int = 0, threads: int | None = None, quiet: bool = False) -> torch.device:
    """Seed, set threads, pick the device and print one summary line; returns the device."""
    seed_everything(seed)
    n = configure_threads(threads)
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
