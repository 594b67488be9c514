"""``python -m course_utils doctor``: what is ready on this machine, for learners and instructors."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import shutil
import sys
from pathlib import Path

import torch
import torchvision

from ..core import settings
from ..core.device import get_device
from ..core.errors import CourseError
from ..data import fashion_mnist
from ..measure.report import format_table
from ..models import COURSE_MODELS, get_weights

__all__ = ["accelerator_status", "cache_status", "format_report", "kernel_status", "main", "report", "widgets_status"]


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def widgets_status() -> tuple[bool, str]:
    """Whether ipywidgets and its JupyterLab extension are installed, with versions."""
    ipyw, ext = _version("ipywidgets"), _version("jupyterlab_widgets")
    if ipyw and ext:
        return True, f"ipywidgets {ipyw}, jupyterlab_widgets {ext}"
    missing = [name for name, v in (("ipywidgets", ipyw), ("jupyterlab_widgets", ext)) if not v]
    return False, f"missing {', '.join(missing)}: pip install ipywidgets jupyterlab_widgets"


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def cache_status(folder: Path, everything_cached: bool) -> tuple[bool, str]:
    """Whether a cache folder can be written (or need not be: read-only is fine when it holds everything)."""
    base = _existing_parent(folder)
    writable = os.access(base, os.W_OK)
    free = shutil.disk_usage(base).free / 2**30
    if writable:
        return free > 1.0 or everything_cached, f"{folder} (writable, {free:.1f} GB free)"
    if everything_cached:
        return True, f"{folder} (read-only, holds everything needed)"
    return False, f"{folder} is read-only and incomplete: set TORCH_HOME/COURSE_DATA to a writable folder"


def kernel_status() -> tuple[bool, str]:
    """Whether Jupyter can find a Python kernel for the notebooks."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        specs = KernelSpecManager().find_kernel_specs()
    except Exception as exc:  # jupyter missing or broken
        return False, f"no Jupyter kernel found ({exc}): pip install -e '.[dev]'"
    return ("python3" in specs), ", ".join(sorted(specs)) or "none: python -m ipykernel install --user"


def accelerator_status() -> tuple[bool, str]:
    """GPU or Apple-silicon accelerator, if any (the course also runs on the CPU)."""
    if torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        return (
            True,
            f"CUDA {torch.version.cuda}: {torch.cuda.get_device_name()} ({free / 2**30:.0f}/{total / 2**30:.0f} GB free)",
        )
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return True, "Apple MPS"
    return True, "none (CPU only: every notebook still runs)"


def report() -> tuple[list[tuple[str, bool, str]], bool]:
    """Rows ``(item, ok, detail)`` and whether everything the course needs is ready."""
    device = get_device()
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    rows = [
        ("Python", sys.version_info >= (3, 11), platform.python_version()),
        ("torch", True, torch.__version__),
        ("torchvision", True, torchvision.__version__),
        ("device", True, f"{device}{gpu}; CPU threads {torch.get_num_threads()}"),
        (
            "offline mode",
            True,
            "ON (COURSE_OFFLINE=1): no network use" if settings.offline() else "off (downloads allowed)",
        ),
        ("weights cache", True, str(settings.weights_dir())),
    ]
    cached_all = True
    for name in COURSE_MODELS:
        try:
            w = get_weights(name)
            rows.append((f"weights {name}", *w.status()))
        except CourseError as exc:  # e.g. a packaged model whose package is missing
            rows.append((f"weights {name}", False, str(exc)))
            continue
        cached_all &= w.cached() or not w.url
    rows.append(("weights cache folder", *cache_status(settings.weights_dir(), cached_all)))
    rows.append((f"dataset {fashion_mnist.NAME}", *fashion_mnist.status()))
    rows.append(("widgets", *widgets_status()))
    rows.append(("Jupyter kernel", *kernel_status()))
    rows.append(("GPU", *accelerator_status()))
    return rows, all(ok for _, ok, _ in rows)


def format_report(rows: list[tuple[str, bool, str]], width: int | None = None) -> str:
    """The report as aligned ``OK``/``FIX`` lines (:func:`~course_utils.measure.format_table`); with ``width``,
    details wrap between words (never mid-word) onto lines indented under the detail column, so the table
    reads in a narrow notebook output."""
    table = [{"status": "OK " if good else "FIX", "item": item, "detail": detail} for item, good, detail in rows]
    return format_table(table, align="<<<", header=False, indent=2, width=width)


def main() -> int:
    """Print the report; exit status 1 when something required is missing."""
    rows, ok = report()
    print("Course environment check")
    print(format_report(rows))
    print("Everything the course needs is ready." if ok else "Some items need fixing (see FIX above).")
    return 0 if ok else 1
