"""Take a model out of eager PyTorch: export (torch.export, ONNX, ExecuTorch), quantize, run, measure.

Folding BatchNorm is :func:`course_utils.models.surgery.folded_copy`; the errors are in :mod:`course_utils.core.errors`.

ONNX Runtime and ExecuTorch come with the optional ``[deploy]`` extra; :func:`runtime_status` says
which import here. Everything torch-only (folding, ``torch.export``) works without them.
"""

from .availability import quiet_native_stderr, require, runtime_status, runtime_versions
from .export import (
    MAX_BATCH,
    export_onnx,
    export_program,
    export_pte,
    file_size_mb,
    lower_pte,
    quantize_pt2e,
    state_dict_size_mb,
)
from .latency import compare_runs, latency, speedup_line, speedup_verdict
from .quantize import METHODS, Agreement, calibration_reader, compare_predictions, matmul_nodes, quantize_onnx
from .sessions import OnnxModel, PteModel, run_batched

__all__ = [
    "Agreement",
    "MAX_BATCH",
    "METHODS",
    "OnnxModel",
    "PteModel",
    "calibration_reader",
    "compare_predictions",
    "compare_runs",
    "export_onnx",
    "export_program",
    "export_pte",
    "file_size_mb",
    "latency",
    "lower_pte",
    "matmul_nodes",
    "quantize_onnx",
    "quantize_pt2e",
    "quiet_native_stderr",
    "require",
    "run_batched",
    "runtime_status",
    "runtime_versions",
    "speedup_line",
    "speedup_verdict",
    "state_dict_size_mb",
]
