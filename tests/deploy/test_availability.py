"""Without ONNX Runtime and ExecuTorch (not installed, or failing to import) the torch-only parts still work.

A directory on ``PYTHONPATH`` holds packages ``onnxruntime`` and ``executorch`` whose ``__init__`` raises
ImportError, as a wheel built for another torch or platform does; they shadow the installed ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from tests import ROOT

NOTEBOOK = ROOT / "notebooks" / "09_deploy_mobilenet.ipynb"
MESSAGE = "simulated: this runtime has no build for this platform"


@pytest.fixture()
def broken_runtimes(tmp_path: Path) -> dict[str, str]:
    for name in ("onnxruntime", "executorch"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError({MESSAGE!r})\n")
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        COURSE_OFFLINE="1",
        COURSE_THREADS="1",
        OMP_NUM_THREADS="1",
        MPLBACKEND="Agg",
    )
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


SCRIPT = r"""
import json, torch
from course_utils.core.errors import RuntimeMissingError
from course_utils.models.surgery import count_batchnorms
from course_utils.deploy import export_onnx, export_program, runtime_status, OnnxModel
from course_utils.models import folded_copy
import torchvision
status = runtime_status()
model = torchvision.models.mobilenet_v3_small(weights=None).eval()
x = torch.randn(1, 3, 224, 224)
errors = {}
for name, call in {"export_onnx": lambda: export_onnx(model, x, "never.onnx"), "OnnxModel": lambda: OnnxModel("x.onnx")}.items():
    try:
        call()
    except RuntimeMissingError as exc:
        errors[name] = str(exc)
program = export_program(model, x)
print(json.dumps({"status": status, "errors": errors, "folded_bn": count_batchnorms(folded_copy(model)),
                  "program_nodes": len(program.graph.nodes)}))
"""


def test_torch_only_paths_work_and_runtime_errors_say_what_to_do(broken_runtimes, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=broken_runtimes, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert all(MESSAGE in why for why in result["status"].values()), result["status"]
    assert set(result["errors"]) == {"export_onnx", "OnnxModel"}
    assert all('pip install -e ".[deploy]"' in e and "ImportError" in e for e in result["errors"].values())
    assert result["folded_bn"] == 0 and result["program_nodes"] > 100
    assert not (tmp_path / "never.onnx").exists() and "Traceback" not in proc.stderr


def test_notebook_09_runs_every_other_section_and_says_which_it_skipped(broken_runtimes):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(NOTEBOOK.parent), env=broken_runtimes)
    try:
        NotebookClient(
            nb, km=km, timeout=600, allow_errors=False, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
        ).execute()
    finally:
        km.shutdown_kernel(now=True)
    streams = [
        (o.get("name"), o.get("text", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.get("output_type") == "stream"
    ]
    text = "".join(t for _, t in streams)
    for section in (5, 6, 7):  # ONNX Runtime (5, 6: its int8) and ExecuTorch (7: PT2E int8)
        assert f"Section {section} skipped" in text, f"section {section} does not say it was skipped"
    assert text.count(MESSAGE) >= 5  # the setup summary names both reasons, each skipped section its own
    assert "ONNX Runtime fp32" not in text and "ExecuTorch int8" not in text
    assert "eager fp32" in text and "folded" in text and "fp32 test accuracy" in text  # the torch-only parts ran
    assert not [t for name, t in streams if name == "stderr"], "stderr output without the runtimes"
