"""Which optional deployment runtimes import here, and why not (the ``[deploy]`` extra)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import io
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator

from ..core.errors import RuntimeMissingError

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


class _DropMessages(logging.Filter):
    """Drop a library's log records that start with one of ``prefixes`` (notices, not problems)."""

    def __init__(self, *prefixes: str) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not any(p in message for p in self.prefixes)


# torchao (imported by ExecuTorch) registers an Enum with torch's pytree, which logs a deprecation notice;
# torch.compile logs that a CPU-only machine has no CUDA runtime. Neither is something a learner can act on.
logging.getLogger("torch.utils._pytree").addFilter(_DropMessages("is an Enum subclass"))
logging.getLogger("torch.utils.cpp_extension").addFilter(_DropMessages("No CUDA runtime is found"))
# A failed torch.export logs the partial graph as a warning; export_program raises an ExportError that says why.
warnings.filterwarnings("ignore", message="This API is experimental", module="executorch")
logging.getLogger("torch.fx.experimental.symbolic_shapes").addFilter(_DropMessages("Unable to find user code"))


def _reason(module: str) -> str | None:
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
