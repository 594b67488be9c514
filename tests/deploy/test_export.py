"""course_utils.deploy on real models: folding, torch.export, ONNX, ExecuTorch, int8, errors, no partial files."""

from __future__ import annotations

import importlib.metadata
import os
import re
import tomllib

import pytest
import torch
import torchvision
from torch import nn

from course_utils.core.errors import (
    BenchmarkError,
    DeployError,
    ExportError,
    InputShapeError,
    ModelFileError,
    RuntimeMissingError,
    WrongDeviceError,
)
from course_utils.deploy import (
    Agreement,
    OnnxModel,
    PteModel,
    calibration_reader,
    compare_predictions,
    compare_runs,
    export_onnx,
    export_program,
    export_pte,
    file_size_mb,
    latency,
    lower_pte,
    matmul_nodes,
    quantize_onnx,
    quantize_pt2e,
    quiet_native_stderr,
    require,
    run_batched,
    runtime_status,
    runtime_versions,
    speedup_line,
    speedup_verdict,
    state_dict_size_mb,
)
from course_utils.deploy.availability import MIN_VERSIONS
from course_utils.measure import MIN_RUNS, Ratio, Timing, paired_ratio
from course_utils.models import folded_copy
from course_utils.models.surgery import count_batchnorms, randomise_batchnorm
from tests import ROOT

needs_ort = pytest.mark.skipif(
    runtime_status()["onnxruntime"] is not None, reason="the [deploy] extra (onnxruntime) is not installed"
)
needs_et = pytest.mark.skipif(
    runtime_status()["executorch"] is not None, reason="the [deploy] extra (executorch) is not installed"
)


class Gate(nn.Module):
    """Data-dependent Python control flow: neither torch.fx nor torch.export can capture it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.mean() > 0:
            return x * 2
        return -x


def small_net(seed: int = 0) -> nn.Module:
    """A real little CNN (conv-BN-ReLU ×2, pool, linear) with non-trivial BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, 1, 1, groups=8, bias=True),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )
    return randomise_batchnorm(net, seed).eval()


@pytest.fixture(scope="module")
def mnv3() -> nn.Module:
    torch.manual_seed(0)
    return randomise_batchnorm(torchvision.models.mobilenet_v3_small(weights=None), 0).eval()


def test_runtime_status_names_every_runtime_and_the_deploy_extra_is_installed_here():
    status = runtime_status()
    assert set(status) == {"onnxruntime", "executorch"}
    assert all(v is None or "import" in v for v in status.values())
    with pytest.raises(RuntimeMissingError, match="unknown runtime"):
        require("tensorrt")


def test_runtime_versions_come_from_the_package_metadata_and_meet_the_minimums_here():
    versions = runtime_versions()
    assert list(versions) == list(MIN_VERSIONS) and versions["torch"] == importlib.metadata.version("torch")

    def key(version: str) -> tuple[int, ...]:
        return tuple(int("".join(ch for ch in part if ch.isdigit()) or 0) for part in version.split(".")[:2])

    for name, version in versions.items():  # what is installed meets the minimum of pyproject's [deploy] extra
        assert version is None or key(version) >= key(MIN_VERSIONS[name]), (name, version)
    assert versions["torch"] is not None
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = dict(
        re.match(r"([\w-]+)>=([\d.]+)", spec).groups()
        for spec in [*project["dependencies"], *project["optional-dependencies"]["deploy"]]
        if re.match(r"([\w-]+)>=", spec)
    )
    assert {name: declared[name] for name in MIN_VERSIONS} == MIN_VERSIONS, "MIN_VERSIONS drifted from pyproject.toml"


def test_folded_copy_removes_every_batchnorm_keeps_outputs_and_leaves_the_original_alone(mnv3):
    before = {k: v.clone() for k, v in mnv3.state_dict().items()}
    mnv3.train()
    folded = folded_copy(mnv3)
    assert all(m.training for m in mnv3.modules()), "the original's train/eval mode changed"
    mnv3.eval()
    assert count_batchnorms(mnv3) == 34 and count_batchnorms(folded) == 0
    x = torch.randn(1, 3, 200, 160)
    with torch.inference_mode():
        assert torch.allclose(folded(x), mnv3(x), atol=1e-4)
    assert all(torch.equal(v, mnv3.state_dict()[k]) for k, v in before.items())


def test_folded_copy_of_untraceable_module_is_a_course_error():
    with pytest.raises(ExportError, match="could not trace Gate"):
        folded_copy(Gate())
    with pytest.raises(ExportError, match="nn.Module"):
        folded_copy("resnet")  # type: ignore[arg-type]


def test_export_program_with_dynamic_batch_runs_other_batch_sizes(mnv3):
    program = export_program(mnv3, torch.randn(1, 3, 224, 224), dynamic_batch=True)
    assert isinstance(program, torch.export.ExportedProgram)
    x = torch.randn(3, 3, 224, 224)
    with torch.inference_mode():
        assert torch.allclose(program.module()(x), mnv3(x), atol=1e-4)
    fixed = export_program(small_net(), torch.randn(2, 3, 32, 48))
    # a static program rejects another batch size (torch >= 2.5 asserts; 2.3 raises a RuntimeError)
    with pytest.raises((AssertionError, RuntimeError), match=r"size|shape\[0\] to be equal to 2"):
        fixed.module()(torch.randn(3, 3, 32, 48))


def test_export_program_explains_data_dependent_control_flow(capfd):
    with pytest.raises(ExportError, match="torch.where") as info:
        export_program(Gate().eval(), torch.randn(2, 3, 8, 8))
    assert "Gate" in str(info.value)
    assert "def forward" not in capfd.readouterr().err, "the partial graph leaked to stderr"


def test_export_program_rejects_training_mode_wrong_device_and_non_tensors():
    with pytest.raises(ExportError, match="eval"):
        export_program(small_net().train(), torch.randn(1, 3, 32, 32))
    with pytest.raises(WrongDeviceError, match="meta"):
        export_program(small_net().to("meta"), torch.randn(1, 3, 32, 32))
    with pytest.raises(ExportError, match="example input tensor"):
        export_program(small_net(), [1, 3, 32, 32])  # type: ignore[arg-type]


@needs_ort
def test_export_onnx_matches_eager_takes_any_batch_and_leaves_only_the_file(tmp_path, mnv3):
    path = export_onnx(mnv3, torch.randn(1, 3, 224, 224), tmp_path / "m.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
    assert 9 < file_size_mb(path) < 12 and abs(state_dict_size_mb(mnv3) - file_size_mb(path)) < 1
    session = OnnxModel(path)
    assert session.input_shape == [None, 3, 224, 224] and "m.onnx" in repr(session)
    x = torch.randn(4, 3, 224, 224)
    with torch.inference_mode():
        assert torch.allclose(session(x), mnv3(x), atol=1e-4)
    with pytest.raises(InputShapeError, match=r"\[N, 3, 224, 224\]"):
        session(torch.randn(1, 3, 200, 224))
    with pytest.raises(InputShapeError, match="float32"):
        session(torch.zeros(1, 3, 224, 224, dtype=torch.uint8))


@needs_ort
def test_export_onnx_failure_is_a_course_error_and_leaves_no_file(tmp_path):
    with pytest.raises(ExportError):
        export_onnx(Gate().eval(), torch.randn(2, 3, 8, 8), tmp_path / "gate.onnx")
    assert list(tmp_path.iterdir()) == []


@needs_ort
@pytest.mark.parametrize("content", [b"", b"not a protobuf" * 20])
def test_corrupt_or_missing_onnx_file_is_a_course_error(tmp_path, content):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(content)
    with pytest.raises(ModelFileError, match="export it again"):
        OnnxModel(bad)
    with pytest.raises(ModelFileError, match="no exported model"):
        OnnxModel(tmp_path / "missing.onnx")


@needs_et
def test_export_pte_matches_eager_and_checks_its_input_shape(tmp_path, capfd):
    net, x = small_net(), torch.randn(1, 3, 40, 56)
    path = export_pte(net, x, tmp_path / "net.pte")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.pte"] and file_size_mb(path) > 0
    runner = PteModel(path)
    with torch.inference_mode():
        assert torch.allclose(runner(x), net(x), atol=1e-4)
    assert runner.input_shape == [1, 3, 40, 56]
    with pytest.raises(InputShapeError, match=r"\[1, 3, 40, 56\]"):
        runner(torch.randn(2, 3, 40, 56))
    assert "cpuinfo" not in capfd.readouterr().err, "the runtime's CPU probe leaked to stderr"


@needs_et
def test_int8_pte_with_pt2e_runs_and_is_smaller(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 32, 3, 1, 1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, 1, 1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, 1, 1, groups=32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    ).eval()
    x = torch.randn(1, 3, 32, 32)
    calibration = torch.randn(8, 3, 32, 32)
    program = quantize_pt2e(export_program(net, x), calibration, keep_slow_ops_float=True)
    assert any("quantize" in str(n.target) for n in program.graph.nodes)

    def int8_convs(p):  # convs whose weight comes through a dequantize node
        convs = [n for n in p.graph.nodes if n.target == torch.ops.aten.conv2d.default]
        return [n for n in convs if "dequantize" in str(n.args[1].target)]

    assert len(int8_convs(program)) == 1  # the stem conv and the depthwise conv stay fp32: only the full conv is int8
    every_conv = quantize_pt2e(export_program(net, x), calibration)
    assert len(int8_convs(every_conv)) == 3
    fp32 = export_pte(net, x, tmp_path / "fp32.pte")
    int8 = lower_pte(every_conv, tmp_path / "int8.pte")  # the program above, lowered (export_pte's own path next)
    assert file_size_mb(int8) < file_size_mb(fp32)
    partly = export_pte(net, x, tmp_path / "partly.pte", calibration=calibration, keep_slow_ops_float=True)
    assert file_size_mb(int8) < file_size_mb(partly) < file_size_mb(fp32)
    with torch.inference_mode():
        agreement = compare_predictions(net(calibration), torch.cat([PteModel(int8)(c) for c in calibration.split(1)]))
    assert agreement.n == 8 and 0 <= agreement.top1 <= 1


@needs_et
def test_lower_pte_writes_a_program_the_runtime_runs_and_refuses_what_is_not_one(tmp_path, capfd):
    net, x = small_net(), torch.randn(1, 3, 24, 24)
    int8_program = quantize_pt2e(export_program(net, x), torch.randn(4, 3, 24, 24))
    path = lower_pte(int8_program, tmp_path / "int8.pte")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["int8.pte"]
    runner = PteModel(path)
    assert runner.input_shape == [1, 3, 24, 24] and runner(x).shape == (1, 10)
    fp32 = PteModel(lower_pte(export_program(net, x), tmp_path / "fp32.pte"))
    with torch.inference_mode():
        assert torch.allclose(fp32(x), net(x), atol=1e-4)
        assert not torch.equal(runner(x), fp32(x))  # int8 arithmetic: not the fp32 values
    with pytest.raises(ExportError, match="ExportedProgram"):
        lower_pte(net, tmp_path / "module.pte")  # type: ignore[arg-type]
    assert not (tmp_path / "module.pte").exists()
    assert "cpuinfo" not in capfd.readouterr().err, "the runtime's CPU probe leaked to stderr"


@needs_et
def test_corrupt_pte_file_is_a_course_error(tmp_path):
    bad = tmp_path / "bad.pte"
    bad.write_bytes(b"garbage" * 50)
    with pytest.raises(ModelFileError, match="not a valid .pte"):
        PteModel(bad)
    (tmp_path / "empty.pte").write_bytes(b"")
    with pytest.raises(ModelFileError, match="empty"):
        PteModel(tmp_path / "empty.pte")


@needs_ort
def test_quantize_onnx_on_real_lite0_shrinks_it_and_reports_agreement(tmp_path, lite0):
    from course_utils import sample_images

    photos = torch.stack([lite0.preprocess(img) for img in sample_images().values()])
    fp32 = export_onnx(lite0.model, photos[:1], tmp_path / "lite0.onnx")
    nodes = matmul_nodes(fp32)
    assert len(nodes) == 50 and nodes[-1] == "node_linear"
    int8 = quantize_onnx(fp32, tmp_path / "lite0_int8.onnx", photos[:3], "minmax", per_channel=True)
    assert file_size_mb(fp32) / file_size_mb(int8) > 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lite0.onnx", "lite0_int8.onnx"]
    kept = quantize_onnx(fp32, tmp_path / "kept.onnx", photos[:3], "minmax", keep_float=[nodes[-1]])
    assert file_size_mb(kept) > file_size_mb(int8) + 3  # the 1280×1000 classifier stays float32
    with torch.inference_mode():
        reference = lite0.model(photos)
    agreement = compare_predictions(reference, OnnxModel(int8)(photos))
    assert isinstance(agreement, Agreement) and agreement.n == 5
    assert 0 <= agreement.top1 <= 1 and 0 <= agreement.top5_overlap <= 1 and 0 < agreement.max_prob_change <= 1
    assert "over 5 images" in str(agreement)


@needs_ort
def test_quantize_onnx_rejects_bad_arguments(tmp_path):
    path = export_onnx(small_net(), torch.randn(1, 3, 32, 32), tmp_path / "net.onnx")
    with pytest.raises(DeployError, match="calibration method"):
        quantize_onnx(path, tmp_path / "q.onnx", torch.randn(2, 3, 32, 32), method="kl")
    with pytest.raises(DeployError, match="non-empty"):
        quantize_onnx(path, tmp_path / "q.onnx", torch.randn(0, 3, 32, 32))
    assert not (tmp_path / "q.onnx").exists()


@needs_ort
def test_calibration_reader_feeds_one_image_at_a_time():
    reader = calibration_reader(torch.randn(3, 3, 8, 8), "x")
    items = [reader.get_next() for _ in range(4)]
    assert [tuple(i["x"].shape) for i in items[:3]] == [(1, 3, 8, 8)] * 3 and items[3] is None


def test_compare_predictions_counts_top1_top5_and_probability_change():
    ref = torch.tensor([[5.0, 4, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5]])
    same = compare_predictions(ref, ref.clone())
    assert (same.top1, same.top5_overlap, same.max_prob_change) == (1.0, 1.0, 0.0)
    swapped = ref.clone()
    swapped[0, [0, 1]] = swapped[0, [1, 0]]  # image 0: top-1 changes, top-5 set unchanged
    got = compare_predictions(ref, swapped)
    assert got.top1 == 0.5 and got.top5_overlap == 1.0 and got.max_prob_change > 0.1
    with pytest.raises(DeployError, match="one shape"):
        compare_predictions(ref, ref[:1])


def test_latency_times_any_callable_at_least_min_runs():
    net, x = small_net(), torch.randn(2, 3, 32, 32)
    t = latency(net, x, "net", min_run_time=0.01)
    assert isinstance(t, Timing) and len(t.times) >= MIN_RUNS and t.batch_size == 2 and t.median > 0


def test_compare_runs_times_callables_interleaved_and_names_a_failing_one():
    net, x = small_net(), torch.randn(1, 3, 32, 32)
    calls = {"net": 0, "twice": 0}

    def counted(name, fn):
        def run(t):
            calls[name] += 1
            return fn(t)

        return run

    t = compare_runs({"net": counted("net", net), "twice": counted("twice", lambda t: (net(t), net(t)))}, x, 0.05)
    assert list(t) == ["net", "twice"] and all(isinstance(v, Timing) for v in t.values())
    assert len(t["net"].times) == len(t["twice"].times) >= MIN_RUNS  # one run of each per round
    assert calls["net"] > MIN_RUNS and calls["twice"] > MIN_RUNS and t["net"].batch_size == 1
    assert paired_ratio(t["twice"], t["net"]).median > 1.3  # two forward passes take longer than one
    with pytest.raises(BenchmarkError, match="'wrong'.*shape"):
        compare_runs({"net": net, "wrong": nn.Conv2d(8, 8, 1)}, x, 0.05)


def test_speedup_verdict_and_line_claim_a_speedup_only_beyond_the_spread():
    steady = Timing(1e-3, 1e-5, (1e-3,) * 10, 1, 1, "cpu")
    noisy = Timing(1e-3, 5e-4, (1e-3,) * 10, 1, 1, "cpu")
    assert speedup_verdict(Ratio(2.0, 0.1, 10)) == "faster"
    assert speedup_verdict(Ratio(0.5, 0.05, 10)) == "slower"
    assert speedup_verdict(Ratio(1.04, 0.2, 10)) == "same"  # inside half the IQR of 1
    assert speedup_verdict(Ratio(1.01, 0.0, 10)) == "same"  # a 1 % difference is not claimed
    assert speedup_verdict(Ratio(2.0, 0.9, 10)) == "noisy"  # the ratio itself spreads 45 %
    assert speedup_verdict(Ratio(2.0, 0.1, 10), [steady, noisy]) == "noisy"  # one timing spreads 50 %
    assert speedup_line(Ratio(2.0, 0.1, 10), "eager", "ORT", [steady]).startswith("ORT runs 2.00× as fast as eager")
    assert "2.00× slower than eager" in speedup_line(Ratio(0.5, 0.05, 10), "eager", "int8")
    assert "within noise" in speedup_line(Ratio(1.04, 0.2, 10), "a", "b")
    assert "rerun on an idle machine" in speedup_line(Ratio(2.0, 0.1, 10), "a", "b", [noisy])


def test_state_dict_size_counts_parameters_and_buffers():
    net = small_net()
    n = sum(t.numel() for t in (*net.parameters(), *net.buffers()) if t.dtype == torch.float32)
    assert state_dict_size_mb(net) == pytest.approx((n * 4 + 2 * 8) / 1e6)  # + two int64 batch counters


def test_quiet_native_stderr_hides_fd2_and_python_stderr_but_keeps_them_on_errors(capfd):
    import sys

    with quiet_native_stderr():
        os.write(2, b"native noise\n")
        print("python noise", file=sys.stderr)
    assert "noise" not in capfd.readouterr().err
    with pytest.raises(ValueError) as info, quiet_native_stderr():
        os.write(2, b"why it failed\n")
        raise ValueError("boom")
    assert "why it failed" in "".join(getattr(info.value, "__notes__", []))


def test_batched_predict_uses_a_folded_copy_refreshed_when_the_model_changes(lite0):
    from course_utils import sample_images
    from course_utils.data.images import to_batch
    from course_utils.models.predict import inference_copy, predict_proba

    model = lite0.model
    batch = to_batch(list(sample_images().values()), lite0.preprocess)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    copy_1 = inference_copy(model)
    assert copy_1 is not model and count_batchnorms(copy_1) < count_batchnorms(model)
    assert inference_copy(model) is copy_1, "the copy must be reused while the model is unchanged"
    with torch.inference_mode():
        expected = model(batch).softmax(1)
    torch.testing.assert_close(predict_proba(lite0, batch), expected, atol=1e-5, rtol=1e-4)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items()), "the learner's model changed"
    assert count_batchnorms(model) == 49  # the original keeps every BatchNorm
    try:
        with torch.no_grad():
            model._fc.bias.add_(1.0)  # a training step changes a parameter in place
        copy_2 = inference_copy(model)
        assert copy_2 is not copy_1, "the folded copy was not rebuilt after the parameters changed"
        with torch.inference_mode():
            torch.testing.assert_close(predict_proba(lite0, batch), model(batch).softmax(1), atol=1e-5, rtol=1e-4)
        seen = []
        handle = model._conv_head.register_forward_hook(lambda m, i, o: seen.append(o.shape))
        try:
            assert inference_copy(model) is model, "a model with hooks must run itself, so the hooks fire"
            predict_proba(lite0, batch)
            assert seen, "the learner's forward hook did not fire"
        finally:
            handle.remove()
    finally:
        model.load_state_dict(before)


def test_run_batched_matches_one_pass_and_respects_a_fixed_batch():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    x = torch.randn(7, 3, 16, 16)
    with torch.inference_mode():
        whole = net(x)
    torch.testing.assert_close(run_batched(net, x, batch_size=3), whole)

    class FixedBatch:  # an exported program that takes one image at a time, as PteModel reports it
        input_shape = [1, 3, 16, 16]

        def __init__(self) -> None:
            self.sizes: list[int] = []

        def __call__(self, chunk: torch.Tensor) -> torch.Tensor:
            self.sizes.append(len(chunk))
            return net(chunk)

    fixed = FixedBatch()
    torch.testing.assert_close(run_batched(fixed, x, batch_size=4), whole)
    assert fixed.sizes == [1] * 7
