"""Session-wide reliability bookkeeping: the offline socket guard and the closing summary line.

Registered from the root ``conftest.py``. Under ``COURSE_OFFLINE=1`` it guards the test
process, every xdist worker and every child Python (notebook kernels, subprocesses) with
:mod:`tests.netguard`: the children get a generated ``sitecustomize`` through
``PYTHONPATH``, so the guard is active before any of their code runs. Tests report what they
did with :func:`tally`; the session ends with one line::

    reliability: 412 inputs tried, 97 faults injected, 0 files lost, 0 network connections (offline guard on)

Files lost or a blocked connection fail the session.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

STATE_ENV = "COURSE_RELIABILITY_DIR"
NET_ENV = "COURSE_NET_GUARD"


def _offline() -> bool:
    return os.environ.get("COURSE_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def tally(inputs: int = 0, faults: int = 0, lost: int = 0) -> None:
    """Add to this process's counts (kept in the session's state folder): inputs tried, faults injected, files lost."""
    state = os.environ.get(STATE_ENV)
    if not state or not Path(state).is_dir():
        return
    path = Path(state) / f"counts-{os.getpid()}.json"
    counts = json.loads(path.read_text()) if path.is_file() else {"inputs": 0, "faults": 0, "lost": 0}
    counts["inputs"] += inputs
    counts["faults"] += faults
    counts["lost"] += lost
    path.write_text(json.dumps(counts))


def network_record() -> Path | None:
    """The file the offline guard records blocked connections in (None when the guard is off)."""
    path = os.environ.get(NET_ENV)
    return Path(path) if path else None


def _blocked() -> list[str]:
    path = network_record()
    if path is None or not path.is_file():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _totals(state: Path) -> dict[str, int]:
    total = {"inputs": 0, "faults": 0, "lost": 0}
    for f in state.glob("counts-*.json"):
        for k, v in json.loads(f.read_text()).items():
            total[k] += int(v)
    return total


def pytest_configure(config: pytest.Config) -> None:
    if STATE_ENV not in os.environ:  # the controller (or a run without xdist): workers inherit the environment
        state = Path(tempfile.mkdtemp(prefix="course-reliability-"))
        os.environ[STATE_ENV] = str(state)
        config._course_reliability_state = state  # type: ignore[attr-defined]
        if _offline() and NET_ENV not in os.environ:
            from tests import netguard

            netguard.guard_children(state / "site", state / "network.log")
    if os.environ.get(NET_ENV):
        import sys

        if not hasattr(sys, "_course_netguard"):
            from tests import netguard

            netguard.install_from_env()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = getattr(session.config, "_course_reliability_state", None)
    if state is None:
        return
    if (_totals(state)["lost"] or _blocked()) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    state = getattr(config, "_course_reliability_state", None)
    if state is None:
        return
    total, blocked = _totals(state), _blocked()
    guard = "offline guard on" if network_record() else "offline guard off: COURSE_OFFLINE is not set"
    for line in blocked[:20]:
        terminalreporter.write_line(f"blocked network access: {line}", red=True)
    bad = bool(total["lost"] or blocked)
    terminalreporter.write_sep("-", "reliability", red=bad, green=not bad)
    terminalreporter.write_line(
        f"reliability: {total['inputs']} inputs tried, {total['faults']} faults injected, {total['lost']} files lost, "
        f"{len(blocked)} network connections ({guard})",
        red=bad,
        green=not bad,
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    state = getattr(config, "_course_reliability_state", None)
    if state is not None:
        shutil.rmtree(state, ignore_errors=True)
