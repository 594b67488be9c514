"""int8 post-training quantization with ONNX Runtime (static, QDQ) and how much it changes the predictions."""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..core.errors import DeployError
from ..core.files import atomic_path
from .availability import require

#: Calibration methods of ONNX Runtime, by the names the course uses.
METHODS = ("minmax", "percentile", "entropy")


def calibration_reader(images: torch.Tensor, input_name: str = "x"):
    """An ONNX Runtime ``CalibrationDataReader`` that feeds a preprocessed batch one image at a time."""
    require("onnxruntime")
    from onnxruntime.quantization import CalibrationDataReader

    class TensorReader(CalibrationDataReader):
        def __init__(self) -> None:
            self._items = iter(images.detach().cpu().float().split(1))

        def get_next(self) -> dict | None:
            item = next(self._items, None)
            return None if item is None else {input_name: item.numpy()}

    return TensorReader()


def matmul_nodes(path: str | Path) -> list[str]:
    """Names of the Conv/Gemm/MatMul nodes of an ONNX model in graph order (the layers int8 quantizes)."""
    require("onnxruntime")
    import onnx

    return [n.name for n in onnx.load(str(path)).graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]


def quantize_onnx(
    src: str | Path,
    dst: str | Path,
    calibration: torch.Tensor,
    method: str = "minmax",
    per_channel: bool = True,
    keep_float: Sequence[str] = (),
) -> Path:
    """Static int8 quantization (QDQ: uint8 activations, int8 weights) of the fp32 ONNX file ``src`` into ``dst``.

    ``calibration`` is a preprocessed batch of real images whose activation ranges set the scales
    (``method``: min–max, a percentile of the histogram, or entropy); ``per_channel`` gives every
    output channel of a weight its own scale; ``keep_float`` names nodes left in float (see :func:`matmul_nodes`).
    """
    require("onnxruntime")
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if method not in METHODS:
        raise DeployError(f"unknown calibration method {method!r}; choose one of {', '.join(METHODS)}")
    if not isinstance(calibration, torch.Tensor) or calibration.ndim != 4 or len(calibration) == 0:
        raise DeployError(
            "calibration must be a non-empty preprocessed image batch [N, 3, H, W] "
            "(real images: the ranges are only as good as the data)"
        )
    methods = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }
    from .sessions import OnnxModel

    name = OnnxModel(src).input_name
    dst = Path(dst)
    with (
        tempfile.TemporaryDirectory() as scratch,
        atomic_path(dst) as tmp,
        contextlib.redirect_stdout(io.StringIO()),
    ):  # the calibrators print progress
        pre = Path(scratch) / "preprocessed.onnx"
        quant_pre_process(str(src), str(pre))  # shape inference and graph clean-up, as ONNX Runtime recommends
        try:
            quantize_static(
                str(pre),
                str(tmp),
                calibration_reader(calibration, name),
                quant_format=QuantFormat.QDQ,
                per_channel=per_channel,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=methods[method],
                nodes_to_exclude=list(keep_float) or None,
            )
        except Exception as exc:
            raise DeployError(
                f"int8 quantization of {Path(src).name} with {method} calibration failed "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); a histogram method needs "
                "varied activations: try method='minmax' or more (real) calibration images"
            ) from None
    return Path(dst)


@dataclass(frozen=True)
class Agreement:
    """How closely a model's predictions follow a reference (fp32) on the same images."""

    top1: float  #: fraction of images with the same top-1 class
    top5_overlap: float  #: mean fraction of the reference's top-5 classes also in the model's top 5
    max_prob_change: float  #: largest change of any class probability
    n: int  #: number of images

    def __str__(self) -> str:
        return (
            f"top-1 agreement {self.top1:.1%}, top-5 overlap {self.top5_overlap:.1%}, "
            f"max |Δp| {self.max_prob_change:.3f} over {self.n} images"
        )


def compare_predictions(reference: torch.Tensor, logits: torch.Tensor, k: int = 5) -> Agreement:
    """Compare logits ``[N, C]`` of a model with ``reference`` logits of the same images."""
    if reference.shape != logits.shape or reference.ndim != 2:
        raise DeployError(
            f"compare_predictions needs two logit matrices of one shape [N, C], got "
            f"{tuple(reference.shape)} and {tuple(logits.shape)}"
        )
    p, q = reference.float().softmax(1), logits.float().softmax(1)
    top1 = (p.argmax(1) == q.argmax(1)).float().mean().item()
    a, b = p.topk(k).indices, q.topk(k).indices
    overlap = (a.unsqueeze(2) == b.unsqueeze(1)).any(2).float().mean().item()
    return Agreement(top1, overlap, (p - q).abs().max().item(), len(p))


__all__ = ["Agreement", "METHODS", "calibration_reader", "compare_predictions", "matmul_nodes", "quantize_onnx"]
