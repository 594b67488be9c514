"""Which optional deployment runtimes import here, and why not (the ``[deploy]`` extra)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import io
import os
import tempfile
from collections.abc import Iterator

from ..core.errors import RuntimeMissingError
from ..core.notices import quiet_library_notices

#: Each runtime and the modules it needs; all ship in ``pip install -e ".[deploy]"``.
RUNTIMES: dict[str, tuple[str, ...]] = {
    "onnxruntime": ("onnx", "onnxscript", "onnxruntime", "onnxruntime.quantization"),
    "executorch": (
        "executorch.exir",
        "executorch.runtime",
        "executorch.backends.xnnpack.partition.xnnpack_partitioner",
        "executorch.backends.xnnpack.quantizer.xnnpack_quantizer",
        "torchao.quantization.pt2e.quantize_pt2e",
    ),
}
INSTALL_HINT = 'install the deployment extra: pip install -e ".[deploy]"'
#: The distributions the deployment code depends on, with the oldest versions of pyproject's ``[deploy]`` extra.
MIN_VERSIONS: dict[str, str] = {
    "torch": "2.3",
    "onnx": "1.17",
    "onnxscript": "0.2",
    "onnxruntime": "1.20",
    "executorch": "1.0",
    "torchao": "0.10",
}


def _reason(module: str) -> str | None:
    quiet_library_notices()  # before the runtimes (torchao, ExecuTorch) log their notices on import
    try:
        importlib.import_module(module)
    except Exception as exc:  # ImportError, or a compiled runtime that does not match this torch
        return f"`import {module}` failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})"
    return None


def runtime_status() -> dict[str, str | None]:
    """``{runtime: None}`` when it imports, else ``{runtime: why not}``."""
    status: dict[str, str | None] = {}
    for name, modules in RUNTIMES.items():
        status[name] = next((r for m in modules if (r := _reason(m)) is not None), None)
    return status


def runtime_versions() -> dict[str, str | None]:
    """Installed version of torch and of each deployment distribution (``None``: not installed).

    Read from the package metadata, so nothing is imported (a broken runtime still reports its version).
    """
    versions: dict[str, str | None] = {}
    for dist in MIN_VERSIONS:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def require(name: str) -> None:
    """Raise :class:`RuntimeMissingError` naming the fix unless runtime ``name`` imports."""
    if name not in RUNTIMES:
        raise RuntimeMissingError(f"unknown runtime {name!r}; choose one of {', '.join(RUNTIMES)}")
    reason = runtime_status()[name]
    if reason is not None:
        raise RuntimeMissingError(
            f"{name} is not usable here: {reason}; {INSTALL_HINT} "
            "(on a platform without wheels, skip this part: the torch-only sections still run)"
        )


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Collect what compiled code writes to stderr (ExecuTorch's CPU probe lines) instead of showing it.

    Both routes are covered: file descriptor 2, and ``sys.stderr`` (where the runtime's Python bindings
    forward their log). On an error the collected text is attached to the exception's notes.
    """
    text = io.StringIO()
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (some embedded interpreters): only sys.stderr to redirect
        saved = None
    with tempfile.TemporaryFile() as scratch:
        if saved is not None:
            os.dup2(scratch.fileno(), 2)
        try:
            with contextlib.redirect_stderr(text):
                yield
        except BaseException as exc:
            scratch.seek(0)
            captured = (scratch.read().decode(errors="replace") + text.getvalue()).strip()
            if captured and hasattr(exc, "add_note"):
                exc.add_note(captured[-2000:])
            raise
        finally:
            if saved is not None:
                os.dup2(saved, 2)
                os.close(saved)


__all__ = [
    "INSTALL_HINT",
    "MIN_VERSIONS",
    "RUNTIMES",
    "quiet_native_stderr",
    "require",
    "runtime_status",
    "runtime_versions",
]
