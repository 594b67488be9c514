"""Where the course keeps its caches, and whether it may use the network."""

from __future__ import annotations

import os
from pathlib import Path

#: Seconds a network operation may stay silent before it is abandoned.
NETWORK_TIMEOUT = float(os.environ.get("COURSE_NETWORK_TIMEOUT", "10"))


def env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is ``1``, ``true``, ``yes`` or ``on`` (any case)."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def offline() -> bool:
    """True when ``COURSE_OFFLINE`` is set: nothing may touch the network."""
    return env_flag("COURSE_OFFLINE")


def repo_root() -> Path:
    """The course checkout (the folder that holds ``data/`` and ``notebooks/``)."""
    return Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The bundled data folder shipped with the course."""
    return repo_root() / "data"


def weights_dir() -> Path:
    """Where torchvision weights are cached: ``$TORCH_HOME/hub/checkpoints``."""
    import torch  # here, so that the download and cache helpers load without torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def data_cache_dir() -> Path:
    """Where downloaded datasets go: ``$COURSE_DATA`` or ``~/.cache/course_utils``."""
    env = os.environ.get("COURSE_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "course_utils"
