"""Library notices a learner cannot act on, dropped at their source loggers when the course first needs them.

Nothing here runs at import: :func:`quiet_library_notices` is called by ``setup()`` (the first cell of every
notebook) and before the deployment runtimes are imported. It is idempotent, and every other message of those
loggers still shows.
"""

from __future__ import annotations

import logging
import warnings

__all__ = ["NOTICES", "quiet_library_notices"]

#: logger name -> the message beginnings dropped there.
NOTICES: dict[str, tuple[str, ...]] = {
    # torch.utils.cpp_extension (imported by torch.compile, ExecuTorch) on a machine with the CUDA toolkit, no GPU
    "torch.utils.cpp_extension": ("No CUDA runtime is found",),
    # torchao (imported by ExecuTorch) registers an Enum with torch's pytree, which logs a deprecation notice
    "torch.utils._pytree": ("is an Enum subclass",),
    # a failed torch.export logs the partial graph; export_program raises an ExportError that says why
    "torch.fx.experimental.symbolic_shapes": ("Unable to find user code",),
}


class _DropMessages(logging.Filter):
    """Drop the log records whose message contains one of ``parts``."""

    def __init__(self, *parts: str) -> None:
        super().__init__()
        self.parts = parts

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not any(p in message for p in self.parts)


def quiet_library_notices() -> None:
    """Install the :data:`NOTICES` filters (once per logger) and ExecuTorch's "experimental API" warning filter."""
    for name, parts in NOTICES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) for f in logger.filters):
            logger.addFilter(_DropMessages(*parts))
    warnings.filterwarnings("ignore", message="This API is experimental", module="executorch")
