"""Where the course keeps its caches, and whether it may use the network."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import SettingError

__all__ = ["data_cache_dir", "data_dir", "env_flag", "network_timeout", "offline", "repo_root", "weights_dir"]


def network_timeout() -> float:
    """Seconds a network operation may stay silent before it is abandoned: ``COURSE_NETWORK_TIMEOUT`` (default 10)."""
    raw = os.environ.get("COURSE_NETWORK_TIMEOUT", "").strip() or "10"
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise SettingError(f"COURSE_NETWORK_TIMEOUT={raw!r}: give a number of seconds above 0, e.g. 10")
    return value


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}


def env_flag(name: str) -> bool:
    """True for ``1``, ``true``, ``yes`` or ``on`` (any case); False when unset or ``0``, ``false``, ``no``, ``off``.

    Anything else raises :class:`SettingError` naming the variable, read when used (never at import): a typo in
    ``COURSE_OFFLINE`` must not silently mean "online".
    """
    raw = os.environ.get(name, "").strip()
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise SettingError(f"{name}={raw!r}: use 1 (on) or 0 (off), or unset it")


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
