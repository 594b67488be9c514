"""Run exported files: an ONNX Runtime session or the ExecuTorch runtime, called like a model on tensors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ..core.errors import InputShapeError, ModelFileError
from .availability import quiet_native_stderr, require


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no exported model at {path}; export it first (export_onnx / export_pte)")
    if path.stat().st_size == 0:
        raise ModelFileError(f"{path} is empty (an interrupted export?); export it again")
    return path


def _check_shape(x: object, expected: list[int | None], where: str) -> torch.Tensor:
    """``x`` as a float tensor whose dimensions match ``expected`` (``None``: any size)."""
    if not isinstance(x, torch.Tensor):
        raise InputShapeError(f"{where}: expected a tensor, got {type(x).__name__}")
    shape = list(x.shape)
    if len(shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected, shape)):
        want = "[" + ", ".join("N" if e is None else str(e) for e in expected) + "]"
        raise InputShapeError(
            f"{where}: the exported model takes input of shape {want}, got {tuple(shape)}; "
            "preprocess the images as for export (a .onnx exported with dynamic_batch=True takes any batch size)"
        )
    if not x.is_floating_point():
        raise InputShapeError(f"{where}: expected float32 input, got {x.dtype}")
    return x


class OnnxModel:
    """An ONNX Runtime CPU session on ``path``; ``model(x)`` takes and returns torch tensors.

    Uses as many threads as torch does (``torch.get_num_threads()``), so side-by-side timings are fair.
    """

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        require("onnxruntime")
        import onnxruntime as ort

        self.path = _existing(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        # No busy-waiting between calls: idle threads would steal the cores from whatever runs next
        # (side-by-side timings, another runtime, the app itself) and drain a phone's battery.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelFileError(
                f"ONNX Runtime cannot load {self.path.name}: it is not a valid ONNX model "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); export it again"
            ) from None
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_shape = [d if isinstance(d, int) else None for d in inp.shape]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_shape(x, self.input_shape, f"OnnxModel({self.path.name})")
        out = self.session.run(None, {self.input_name: x.detach().float().cpu().contiguous().numpy()})[0]
        return torch.from_numpy(out)

    def __repr__(self) -> str:
        return f"OnnxModel({self.path.name!r}, input {self.input_shape})"


class PteModel:
    """The ``forward`` method of an ExecuTorch ``.pte`` program, loaded in the ExecuTorch runtime."""

    def __init__(self, path: str | Path) -> None:
        require("executorch")
        from executorch.runtime import Runtime

        self.path = _existing(path)
        try:
            with quiet_native_stderr():  # the runtime prints its CPU probe to the process's stderr
                program = Runtime.get().load_program(self.path)
                self.method = program.load_method("forward")
        except Exception as exc:
            raise ModelFileError(
                f"ExecuTorch cannot load {self.path.name}: it is not a valid .pte program "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); export it again"
            ) from None
        try:
            meta = self.method.metadata.input_tensor_meta(0)
            self.input_shape: list[int | None] = list(meta.sizes())
            with quiet_native_stderr():  # the first run initialises XNNPACK, which probes the CPU on stderr
                self.method.execute([torch.zeros(list(meta.sizes()))])
        except Exception as exc:
            raise ModelFileError(
                f"ExecuTorch cannot run {self.path.name} ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:200]}); export it again"
            ) from None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_shape(x, self.input_shape, f"PteModel({self.path.name})")
        return self.method.execute([x.detach().float().cpu().contiguous()])[0]

    def __repr__(self) -> str:
        return f"PteModel({self.path.name!r}, input {self.input_shape})"


def run_batched(run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int = 8) -> torch.Tensor:
    """``run`` (an eager model, :class:`OnnxModel` or :class:`PteModel`) on ``x`` a few images at a time.

    One pass over many images at 224 px holds all their activations at once (gigabytes for a hundred images);
    chunks of ``batch_size`` keep the peak small. A program exported for a fixed batch gets that batch.
    """
    fixed = getattr(run, "input_shape", [None])[0]
    with torch.inference_mode():
        return torch.cat([run(chunk) for chunk in x.split(fixed or batch_size)])


__all__ = ["OnnxModel", "PteModel", "run_batched"]
