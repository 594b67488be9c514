"""Test-wide settings (tests and notebooks): one torch thread per xdist worker, a headless plot backend."""

from __future__ import annotations

import os

# The offline socket guard with the closing reliability line, the checks on what each notebook cell shows, and
# each notebook's second run in nbval's kernel.
pytest_plugins = ["tests.reliability_summary", "tests.output_checks", "tests.run_twice"]
os.environ.setdefault("MPLBACKEND", "Agg")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Workers and the notebook kernels they start (which inherit this) use one thread each.
    os.environ["COURSE_THREADS"] = "1"
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _torch_threads() -> None:
    """``COURSE_THREADS`` torch threads in the test process; imported here, so that a run of notebooks only (their
    kernels are other processes) does not load torch into pytest."""
    if os.environ.get("COURSE_THREADS"):
        import torch

        torch.set_num_threads(int(os.environ["COURSE_THREADS"]))


@pytest.fixture(scope="session")
def lite0():
    """The real EfficientNet-Lite0 classifier on the CPU (loaded once per worker)."""
    from course_utils.models import load_classifier

    return load_classifier("efficientnet_lite0", device="cpu")
