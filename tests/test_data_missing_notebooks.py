"""Without Fashion-MNIST (no Debian package, an empty cache) and offline, notebooks 04, 09 and 10 stop at their data
cell with the one-line fix: no traceback wall, nothing run after it, nothing written to the cache."""

from __future__ import annotations

import os

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests import ROOT

NOTEBOOKS = ["04_fine_tuning.ipynb", "09_deploy_mobilenet.ipynb", "10_resnet_from_scratch.ipynb"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stops_at_the_data_cell_with_the_fix(name, tmp_path):
    path = ROOT / "notebooks" / name
    if not path.exists():
        pytest.fail(f"{name} is missing")
    nb = nbformat.read(path, as_version=4)
    env = dict(
        os.environ,
        COURSE_OFFLINE="1",
        COURSE_THREADS="1",
        OMP_NUM_THREADS="1",
        MPLBACKEND="Agg",
        FASHION_MNIST_DIR=str(tmp_path / "no-package"),
        COURSE_DATA=str(tmp_path / "cache"),
    )
    env.pop("PYTEST_CURRENT_TEST", None)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(path.parent), env=env)
    try:
        client = NotebookClient(nb, km=km, timeout=600, allow_errors=False)
        with pytest.raises(CellExecutionError):
            client.execute()
    finally:
        km.shutdown_kernel(now=True)
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [(i, o) for i, c in enumerate(code) for o in c.get("outputs", []) if o.output_type == "error"]
    assert len(errors) == 1, errors
    index, error = errors[0]
    assert error.ename == "DataUnavailableError", error
    assert len(error.traceback) == 1, error.traceback  # the message alone, not a wall of frames
    for fix in ("sudo apt-get install dataset-fashion-mnist", "python -m course_utils fetch fashion_mnist"):
        assert fix in error.traceback[0]
    assert "load_fashion_mnist" in code[index].source, "the first cell that needs the data is the one that stops"
    assert not any(c.get("outputs") or c.get("execution_count") for c in code[index + 1 :])
    assert not (tmp_path / "cache").exists()
