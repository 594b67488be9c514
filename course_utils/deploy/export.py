"""Capture a model as a graph: ``torch.export``, ONNX (``dynamo=True``) and ExecuTorch ``.pte`` (XNNPACK).

Every file is written to a temporary name next to ``path`` and renamed only once it exists and its
outputs match eager PyTorch, so a failed export never leaves a partial file behind.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch
from torch import nn

from ..core.errors import ExportError, WrongDeviceError
from ..core.files import atomic_path
from .availability import quiet_native_stderr, require

#: Largest batch an exported program with a dynamic batch dimension accepts.
MAX_BATCH = 64


def _check(model: nn.Module, example: torch.Tensor, where: str) -> None:
    if not isinstance(model, nn.Module):
        raise ExportError(f"{where} expects an nn.Module, got {type(model).__name__}")
    if not isinstance(example, torch.Tensor):
        raise ExportError(
            f"{where} expects one example input tensor, got {type(example).__name__}; e.g. torch.randn(1, 3, 224, 224)"
        )
    devices = {t.device for t in (*model.parameters(), *model.buffers())}
    if devices and devices != {example.device}:
        raise WrongDeviceError(
            f"{where}: the model is on {', '.join(sorted(map(str, devices)))} but the example input "
            f"is on {example.device}; export on the CPU (what a phone runs): "
            "model.cpu() and example.cpu()"
        )
    if devices - {torch.device("cpu")} or example.device.type != "cpu":
        raise WrongDeviceError(
            f"{where}: export from the CPU, got {example.device}; the exported file runs on the "
            "device's CPU anyway: use copy.deepcopy(model).cpu() and example.cpu()"
        )
    if any(m.training for m in model.modules()):
        raise ExportError(
            f"{where}: {type(model).__name__} is in training mode; call model.eval() first "
            "(an export records BatchNorm and Dropout as they behave now)"
        )


def _dynamic(dynamic_batch: bool) -> tuple[dict[str, object], ...] | None:
    return ({0: torch.export.Dim("batch", min=1, max=MAX_BATCH)},) if dynamic_batch else None


def _tracing_example(example: torch.Tensor, dynamic_batch: bool) -> torch.Tensor:
    """A batch of 2 when the batch is dynamic: the exporter treats a size of 1 as a constant."""
    return torch.cat([example, example]) if dynamic_batch and example.shape[0] == 1 else example


def export_program(
    model: nn.Module, example: torch.Tensor, dynamic_batch: bool = False
) -> torch.export.ExportedProgram:
    """``torch.export.export(model, (example,))``: a graph of ATen operations with no Python left in it.

    ``dynamic_batch`` lets the batch dimension vary (1 … ``MAX_BATCH``). A module whose control flow
    depends on tensor values raises :class:`ExportError` with the fix.
    """
    _check(model, example, "export_program")
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # a failed export prints its partial graph to stderr
            return torch.export.export(
                model, (_tracing_example(example, dynamic_batch),), dynamic_shapes=_dynamic(dynamic_batch)
            )
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        data_dependent = any(
            s in str(exc)
            for s in (
                "data-dependent",
                "data dependent",
                "GuardOnDataDependent",
                "Could not guard",
                "Dynamic control flow",
            )
        )
        fix = (
            "its Python control flow depends on tensor values (an `if` on a tensor, .item(), .tolist()): "
            "write both branches with torch.where(cond, a, b) or torch.cond, so the graph holds no Python decision"
            if data_dependent
            else "simplify the module's forward (no Python side effects, no data-dependent "
            "control flow) or export the submodule that does the tensor work"
        )
        raise ExportError(
            f"torch.export could not capture {type(model).__name__}: {fix}. ({type(exc).__name__}: {first})"
        ) from None


def _parity(reference: torch.Tensor, got: torch.Tensor, atol: float, what: str) -> None:
    diff = (reference.float() - got.float()).abs().max().item()
    if not diff <= atol:
        raise ExportError(
            f"the {what} gives different outputs from eager PyTorch (max |Δ| {diff:.2e} > {atol:g}); "
            "the file was not written: check that the model is in eval mode and has no randomness"
        )


def export_onnx(
    model: nn.Module, example: torch.Tensor, path: str | Path, dynamic_batch: bool = True, atol: float = 1e-4
) -> Path:
    """Export to one self-contained ``.onnx`` file with ``torch.onnx.export(..., dynamo=True)``, checked in ONNX Runtime.

    The outputs of ONNX Runtime on ``example`` must match eager PyTorch within ``atol``.
    """
    require("onnxruntime")
    from .sessions import OnnxModel

    _check(model, example, "export_onnx")
    with torch.inference_mode():
        reference = model(example)
    with atomic_path(path) as tmp:
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # the exporter narrates its steps on stdout
                torch.onnx.export(
                    model,
                    (_tracing_example(example, dynamic_batch),),
                    str(tmp),
                    dynamo=True,
                    external_data=False,
                    input_names=["x"],
                    output_names=["logits"],
                    dynamic_shapes=_dynamic(dynamic_batch),
                    verbose=False,
                )
        except Exception as exc:
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise ExportError(
                f"ONNX export of {type(model).__name__} failed ({type(exc).__name__}: {first}); "
                "try export_program(model, example) first: what torch.export cannot capture, "
                "ONNX cannot either"
            ) from None
        _parity(reference, OnnxModel(tmp)(example), atol, "ONNX file")
    return Path(path)


def _xnnpack_int8_pays_off(node: torch.fx.Node) -> bool:
    """Whether to quantize ``node``: not the depthwise convs, the stem conv on the raw image, multiplies (SE gates),
    average pools and paddings. On XNNPACK's x86 kernels their int8 versions run slower than fp32 (an ETDump
    profile of MobileNetV3-small: int8 depthwise 0.65 ms against 0.35 ms in fp32), so only the 1×1 convs, full
    convs, linears and adds gain from int8."""
    if node.op != "call_function":
        return True
    pad = torch.ops.aten.pad.default
    if node.target == torch.ops.aten.conv2d.default:
        source = node.args[0]
        while source.op == "call_function" and source.target == pad:
            source = source.args[0]
        return not ((len(node.args) > 6 and node.args[6] > 1) or source.op == "placeholder")
    return node.target not in (torch.ops.aten.mul.Tensor, torch.ops.aten.adaptive_avg_pool2d.default, pad)


def quantize_pt2e(
    program: torch.export.ExportedProgram,
    calibration: torch.Tensor,
    per_channel: bool = True,
    keep_slow_ops_float: bool = False,
) -> torch.export.ExportedProgram:
    """int8 post-training quantization for ExecuTorch: PT2E with the XNNPACK quantizer, calibrated on ``calibration``.

    Every op the quantizer supports becomes int8; with ``keep_slow_ops_float=True`` the ones whose int8 kernels
    are slower than fp32 on XNNPACK (depthwise convs, the stem conv, multiplies, average pools, paddings) stay
    in float. Lowering such a program can fail where XNNPACK folds a padding into an fp32 conv fed by int8
    (EfficientNet-Lite0): :func:`export_pte` then raises :class:`ExportError`.
    """
    require("executorch")
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=per_channel))
    if keep_slow_ops_float:
        quantizer.set_filter_function(_xnnpack_int8_pays_off)
    prepared = prepare_pt2e(program.module(), quantizer)
    with torch.no_grad():
        for x in calibration.split(1):
            prepared(x)
    converted = convert_pt2e(prepared)
    example = calibration[:1]
    return torch.export.export(converted, (example,))


def _lower(program: torch.export.ExportedProgram, tmp: Path, what: str) -> None:
    """``to_edge_transform_and_lower`` with the XNNPACK partitioner, ``.to_executorch()``, bytes written to ``tmp``."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    try:
        with quiet_native_stderr():
            lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch()
    except Exception as exc:
        raise ExportError(
            f"ExecuTorch lowering of {what} failed ({type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''})"
        ) from None
    tmp.write_bytes(lowered.buffer)


def lower_pte(program: torch.export.ExportedProgram, path: str | Path) -> Path:
    """Lower an ``ExportedProgram`` to an ExecuTorch ``.pte`` with the XNNPACK backend, atomically.

    ``program`` is fp32 (:func:`export_program`) or int8 (PT2E: ``prepare_pt2e``, calibration,
    ``convert_pt2e``, then ``torch.export.export`` of the result). The file is renamed into place only
    after the ExecuTorch runtime loaded and ran it once; compare its outputs with eager PyTorch yourself
    (:func:`export_pte` does that for fp32 models).
    """
    require("executorch")
    from .sessions import PteModel

    if not isinstance(program, torch.export.ExportedProgram):
        raise ExportError(
            f"lower_pte expects a torch.export.ExportedProgram, got {type(program).__name__}; "
            "capture the model first: export_program(model, example) or torch.export.export(model, (x,))"
        )
    with atomic_path(path) as tmp:
        _lower(program, tmp, Path(path).name)
        PteModel(tmp)  # loads and runs it once: a file the runtime rejects is never renamed into place
    return Path(path)


def export_pte(
    model: nn.Module,
    example: torch.Tensor,
    path: str | Path,
    calibration: torch.Tensor | None = None,
    atol: float = 1e-4,
    keep_slow_ops_float: bool = False,
) -> Path:
    """Lower to an ExecuTorch ``.pte`` with the XNNPACK backend (int8 when ``calibration`` images are given;
    ``keep_slow_ops_float``: see :func:`quantize_pt2e`).

    :func:`export_program`, then :func:`quantize_pt2e` when calibrating, then what :func:`lower_pte` does.
    fp32 files must reproduce eager PyTorch within ``atol`` in the ExecuTorch runtime; int8 files are
    only checked to run (compare their predictions with :func:`~course_utils.deploy.compare_predictions`).
    """
    require("executorch")
    from .sessions import PteModel

    program = export_program(model, example)
    if calibration is not None:
        program = quantize_pt2e(program, calibration, keep_slow_ops_float=keep_slow_ops_float)
    with torch.inference_mode():
        reference = model(example)
    with atomic_path(path) as tmp:
        _lower(program, tmp, type(model).__name__)
        got = PteModel(tmp)(example)
        if calibration is None:
            _parity(reference, got, atol, ".pte file")
    return Path(path)


def file_size_mb(path: str | Path) -> float:
    """Size of an exported file in MB (10⁶ bytes), counting an ONNX external-data file next to it."""
    path = Path(path)
    extra = path.with_name(path.name + ".data")
    return (path.stat().st_size + (extra.stat().st_size if extra.exists() else 0)) / 1e6


def state_dict_size_mb(model: nn.Module) -> float:
    """What the weights of ``model`` take in memory, in MB: parameters and buffers, at their dtype."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers())) / 1e6


__all__ = [
    "MAX_BATCH",
    "export_onnx",
    "export_program",
    "export_pte",
    "file_size_mb",
    "lower_pte",
    "quantize_pt2e",
    "state_dict_size_mb",
]
