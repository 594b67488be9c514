"""Deployment runtimes against eager PyTorch at batch 1 on the CPU: ONNX Runtime, ExecuTorch, int8.

For MobileNetV3-small and EfficientNet-Lite0 (the course's model with real weights offline), each
candidate runs ``CALLS`` single-image forward passes per round, in interleaved rounds
(``course_utils.measure.compare_functions``; ratios are the median of the per-round ratios, ``paired_ratio``):

* eager PyTorch under ``torch.inference_mode()`` versus ONNX Runtime fp32 (target ≥ 2.5×) and versus
  ExecuTorch with the XNNPACK backend (target ≥ 2.5×); their logits must equal eager's within 1e-4;
* int8 versus fp32 on the same runtime, on the better of the two (target per model, ``INT8_TARGETS``:
  EfficientNet-Lite0 ≥ 1.5×; MobileNetV3-small ≥ 1.2×, because XNNPACK's int8 depthwise kernels on this CPU cap
  it near 1.5× even with zero conversion cost — the per-op profile in benchmarks/README.md): ONNX Runtime int8
  (static QDQ, per-channel weights, min-max calibration on 15 real ``textures5`` images) against ONNX
  Runtime fp32, and ExecuTorch int8 (PT2E with the XNNPACK quantizer, same images) against ExecuTorch
  fp32 — whole graph, and with the ops whose int8 XNNPACK kernels are slower than fp32 kept in float
  (depthwise and stem convs, SE multiplies, pools; ``keep_slow_ops_float``) where that lowers — with
  top-1 agreement on 35 *other* real images (for MobileNetV3-small, whose weights are RANDOM offline,
  agreement means nothing and says so).

ONNX Runtime gets as many threads as torch; ExecuTorch's threadpool uses every core (as torch does here). Files go to a temporary folder. The last line reads
``name: value (target)``; the exit status is non-zero when a target is missed or a runtime is missing.

    COURSE_OFFLINE=1 python benchmarks/bench_deploy.py [--rounds N]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch
from benchlib import finish, fmt_ratio, header, rounds_parser

from course_utils import load_classifier, sample_images, setup
from course_utils.core.errors import ExportError
from course_utils.data.datasets import course_dataset, split
from course_utils.deploy import (
    OnnxModel,
    PteModel,
    compare_predictions,
    export_onnx,
    export_pte,
    file_size_mb,
    quantize_onnx,
    run_batched,
    runtime_status,
)
from course_utils.measure import compare_functions, paired_ratio

MODELS = ("mobilenet_v3_small", "efficientnet_lite0")
TARGETS = {"onnxruntime": 2.5, "executorch": 2.5}
#: int8 over fp32 on the better runtime, per model: (target, why this target).
INT8_TARGETS = {
    "mobilenet_v3_small": (
        1.2,
        "measured ceiling: XNNPACK's int8 depthwise and SE kernels are slower than fp32 on this CPU; with them "
        "in fp32 and zero conversion cost the whole model could reach 1.57 / 1.03 = 1.53x (per-op ETDump profile, "
        "benchmarks/README.md), and 1.2-1.5x is measured",
    ),
    "efficientnet_lite0": (
        1.5,
        "no squeeze-excitation, ReLU6: ONNX Runtime's int8 convolutions carry it; 1.48-1.57x measured on an idle "
        "machine (benchmarks/README.md)",
    ),
}
CALLS = 20  # single-image calls per round and candidate
BUDGET = 60.0  # seconds per model: more rounds until the spreads settle, at most this long (never fewer than --rounds)


def calls(run, x: torch.Tensor):
    def go() -> None:
        with torch.inference_mode():
            for _ in range(CALLS):
                run(x)

    return go


def images(clf) -> tuple[torch.Tensor, torch.Tensor]:
    """15 calibration images (training split of textures5) and 35 other real images (validation split + photos)."""
    data = course_dataset("textures5", transform=clf.preprocess, quiet=True)
    train, val = split(data, val_fraction=0.25, seed=0)
    calib = torch.stack([data[i][0] for i in train[::6]])
    held = torch.stack([data[i][0] for i in val] + [clf.preprocess(img) for img in sample_images().values()])
    return calib, held


def main() -> int:
    args = rounds_parser(__doc__, 7, "interleaved rounds at least (default 7)").parse_args()
    setup(seed=0, quiet=True)
    header(f"deployment runtimes vs eager PyTorch, batch 1, {CALLS} calls per round, >= {args.rounds} rounds", "cpu")
    missing = {k: v for k, v in runtime_status().items() if v is not None}
    if missing:
        print("runtimes missing: " + "; ".join(f"{k}: {v}" for k, v in missing.items()))
        return finish("deploy_speedup", "n/a (runtimes missing)", 'pip install -e ".[deploy]"', False)
    ok, parts = True, []
    x = torch.randn(1, 3, 224, 224)
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        for name in MODELS:
            clf = load_classifier(name, device="cpu", quiet=True)
            model, tag = clf.model, "" if clf.pretrained else " (RANDOM weights)"
            calib, held = images(clf)
            onnx_fp32 = OnnxModel(export_onnx(model, x, Path(tmp) / f"{name}.onnx"))
            onnx_int8 = OnnxModel(quantize_onnx(onnx_fp32.path, Path(tmp) / f"{name}_int8.onnx", calib))
            pte_fp32 = PteModel(export_pte(model, x, Path(tmp) / f"{name}.pte"))
            pte_int8 = PteModel(export_pte(model, x, Path(tmp) / f"{name}_int8.pte", calibration=calib))
            runs = {"eager": model, "ort": onnx_fp32, "ort_int8": onnx_int8, "et": pte_fp32, "et_int8": pte_int8}
            try:  # depthwise convs, stem, SE multiplies and pools in fp32: XNNPACK's int8 kernels for them are slower
                runs["et_int8_part"] = PteModel(
                    export_pte(model, x, Path(tmp) / f"{name}_part.pte", calibration=calib, keep_slow_ops_float=True)
                )
            except ExportError as exc:
                print(f"  (ExecuTorch int8 with slow ops in fp32: {str(exc)[:160]})")
            with torch.inference_mode():
                ref = model(x)
                diffs = {k: (runs[k](x) - ref).abs().max().item() for k in ("ort", "et")}
                ref_held = model(held)
                agree = {k: compare_predictions(ref_held, run_batched(runs[k], held)) for k in runs if "int8" in k}
            same = all(d <= 1e-4 for d in diffs.values())
            ok &= same
            s = compare_functions(
                {k: calls(r, x) for k, r in runs.items()},
                "cpu",
                warmup=1,
                min_runs=args.rounds,
                min_run_time=1.0,
                max_run_time=BUDGET,
            )
            r_ort, r_et = paired_ratio(s["eager"], s["ort"]), paired_ratio(s["eager"], s["et"])
            int8 = {"ort": paired_ratio(s["ort"], s["ort_int8"]), "et": paired_ratio(s["et"], s["et_int8"])}
            if "et_int8_part" in s:
                int8["et_part"] = paired_ratio(s["et"], s["et_int8_part"])
            best = max(int8, key=lambda k: int8[k].median)
            int8_target, why = INT8_TARGETS[name]
            ok &= r_ort.median >= TARGETS["onnxruntime"] and r_et.median >= TARGETS["executorch"]
            ok &= int8[best].median >= int8_target
            per = {k: v.median / CALLS * 1e3 for k, v in s.items()}
            print(f"{name}{tag}: eager {per['eager']:.2f} ms/image")
            print(
                f"  ONNX Runtime fp32  {per['ort']:.2f} ms  {fmt_ratio(r_ort)} vs eager, target >= {TARGETS['onnxruntime']}x, "
                f"max |Δ| {diffs['ort']:.1e}, {file_size_mb(onnx_fp32.path):.1f} MB"
            )
            print(
                f"  ExecuTorch fp32    {per['et']:.2f} ms  {fmt_ratio(r_et)} vs eager, target >= {TARGETS['executorch']}x, "
                f"max |Δ| {diffs['et']:.1e}, {file_size_mb(pte_fp32.path):.1f} MB"
            )
            print(
                f"  ONNX Runtime int8  {per['ort_int8']:.2f} ms  {fmt_ratio(int8['ort'])} vs ORT fp32, "
                f"{file_size_mb(onnx_int8.path):.1f} MB, {agree['ort_int8']}{tag}"
            )
            print(
                f"  ExecuTorch int8    {per['et_int8']:.2f} ms  {fmt_ratio(int8['et'])} vs ET fp32, "
                f"{file_size_mb(pte_int8.path):.1f} MB, {agree['et_int8']}{tag}"
            )
            if "et_int8_part" in s:
                print(
                    f"  ExecuTorch int8, slow ops fp32  {per['et_int8_part']:.2f} ms  {fmt_ratio(int8['et_part'])} vs ET fp32, "
                    f"{file_size_mb(runs['et_int8_part'].path):.1f} MB, {agree['et_int8_part']}{tag}"
                )
            met = "met" if int8[best].median >= int8_target else "MISSED"
            print(
                f"  int8 target >= {int8_target}x on the better runtime: {best} {int8[best].median:.2f}x, {met} ({why})"
            )
            if not same:
                print(f"  outputs differ from eager: {diffs}")
            short = name.replace("mobilenet_v3_small", "mnv3s").replace("efficientnet_lite0", "lite0")
            parts.append(
                f"{short} ort {r_ort.median:.1f}x et {r_et.median:.1f}x int8 {int8[best].median:.1f}x ({best})"
            )
    int8_targets = ", ".join(
        f"{name.replace('mobilenet_v3_small', 'mnv3s').replace('efficientnet_lite0', 'lite0')} {t}x"
        for name, (t, _) in INT8_TARGETS.items()
    )
    target = f"ort >= {TARGETS['onnxruntime']}x, et >= {TARGETS['executorch']}x, int8 on one runtime >= {int8_targets}"
    return finish("deploy_speedup", ", ".join(parts), target, ok)


if __name__ == "__main__":
    sys.exit(main())
