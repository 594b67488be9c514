"""Files the course writes or verifies: SHA-256 of a file, and the one way to write without leaving half a file.

:func:`atomic_path` is the only place that renames a finished file or folder into place; :func:`save_atomic`
(``torch.save``), the downloads, the dataset cache, checkpoints, embeddings and the exported model files all
go through it.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "save_atomic", "sha256_file"]


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | Path, *, folder: bool = False, part: str | Path | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds it replaces ``path`` in one rename.

    When the block raises, the temporary file or folder (and any sibling a writer added to its name, such as
    ONNX's ``.data`` file) is deleted and ``path`` is left as it was: a reader never sees half a file.
    ``folder=True`` yields an empty folder and replaces an existing folder at ``path`` whole. ``part`` names
    the temporary file instead of a unique one (a download resumes into the same ``.part`` file); the caller
    then holds a lock.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if folder:
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part"))
    elif part is not None:
        tmp = Path(part)
    else:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        if folder and path.is_dir():
            _remove(path)
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, *tmp.parent.glob(glob.escape(tmp.name) + ".*")):
            if leftover.exists() or leftover.is_symlink():
                _remove(leftover)


def save_atomic(obj: object, path: str | Path) -> Path:
    """``torch.save(obj, path)`` through :func:`atomic_path`: never a half-written file."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)
