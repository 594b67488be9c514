"""The benchmark plumbing (benchmarks/): interleaved timing, ratios, the result line, process-tree memory,
and the channels-last / batch-size choices of course_utils.models.predict that the benchmarks hold to their targets."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import torch
import torchvision

from course_utils import load_classifier, sample_images
from course_utils.models.predict import default_batch_size, predict_proba, to_channels_last  # noqa: E402
from tests import ROOT

BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_notebooks  # noqa: E402
import benchlib  # noqa: E402
import run_all  # noqa: E402

RESULT_LINE = re.compile(r"^[a-z0-9_]+: .+ \(.+\)$")


def test_benchmarks_time_through_measure_and_print_its_median_of_ratios():
    """benchlib has no timer of its own: the benchmarks time with course_utils.measure (interleaved, rotating
    order) and benchlib only formats its Timing and its Ratio (the median of the per-round ratios)."""
    from course_utils.measure import MIN_RUNS, compare_functions, paired_ratio

    assert not hasattr(benchlib, "interleaved") and not hasattr(benchlib, "ratio")
    calls = []
    t = compare_functions(
        {"slow": lambda: (calls.append("s"), time.sleep(0.02)), "fast": lambda: (calls.append("f"), time.sleep(0.005))},
        warmup=1,
        min_run_time=0.1,
        max_run_time=0.5,
    )
    assert len(t["slow"].times) == len(t["fast"].times) >= MIN_RUNS and set(calls) == {
        "s",
        "f",
    }  # every round runs both
    r = paired_ratio(t["slow"], t["fast"])
    assert 1.5 < r.median < 8 and r.rounds == len(t["slow"].times)
    assert benchlib.fmt(t["fast"]).endswith(f"{len(t['fast'].times)} runs)") and "rounds" in benchlib.fmt_ratio(r)


def test_finish_prints_the_result_line_and_fails_when_missed(capsys):
    assert benchlib.finish("thing_speedup", "3.0x", ">= 2.5x", True) == 0
    assert benchlib.finish("thing_speedup", "1.0x", ">= 2.5x", False) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "thing_speedup: 1.0x (>= 2.5x)" and RESULT_LINE.match(lines[-1])
    assert lines[-2].startswith("TARGET MISSED")
    assert "cores" in benchlib.machine() and benchlib.cpu_name()


def test_wrapper_reports_the_peak_rss_of_a_grandchild(tmp_path):
    # The Jupyter kernel is a grandchild of the benchmark (wrapper → pytest → kernel): its memory must count.
    grandchild = "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])"
    child = f"import subprocess, sys; sys.exit(subprocess.call([sys.executable, '-c', {grandchild!r}]))"
    out = tmp_path / "rusage.json"
    subprocess.run(
        [sys.executable, "-c", bench_notebooks.WRAPPER, sys.executable, "-c", child],
        env=dict(os.environ, OUT_JSON=str(out)),
        check=True,
    )
    result = json.loads(out.read_text())
    assert result["rc"] == 0
    assert result["maxrss"] >= 300 * 2**20


def test_notebook_budgets_cover_the_course():
    for nb in sorted((BENCH.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert nb.name[:2] in bench_notebooks.BUDGETS, f"{nb.name} has no runtime budget"
    assert all(0 < b <= bench_notebooks.TOTAL_BUDGET for b in bench_notebooks.BUDGETS.values())


def test_record_replaces_only_the_results_section(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Benchmarks\n\nintro\n\n{run_all.START}\nold\n{run_all.END}\n\nafter\n")
    monkeypatch.setattr(run_all, "README", readme)
    run_all.record([("bench_x.py", 0, "x_ratio: 2.0x (>= 1.5x)", 3.0), ("bench_y.py", 1, "y: 1 (2)", 4.0)], "l0", "l1")
    text = readme.read_text()
    assert "old" not in text and text.startswith("# Benchmarks\n\nintro") and text.rstrip().endswith("after")
    assert "| bench_x.py | `x_ratio: 2.0x (>= 1.5x)` | pass | 3 |" in text and "| FAIL |" in text


def test_a_benchmark_script_runs_and_ends_with_its_result_line():
    env = dict(os.environ, COURSE_OFFLINE="1", COURSE_THREADS="1")
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_image_pipeline.py"), "--rounds", "2"],
        cwd=BENCH.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    last = proc.stdout.strip().splitlines()[-1]
    assert RESULT_LINE.match(last) and last.startswith("image_pipeline_ratio: "), proc.stdout + proc.stderr
    assert "max |Δ| 0.0e+00" in last  # the course loader and PIL + weights.transforms() give the same batch


def test_to_channels_last_matches_module_to_and_keeps_parameters():
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    reference = torchvision.models.resnet18().eval()
    reference.load_state_dict(model.state_dict())
    params = list(model.parameters())
    x = torch.randn(2, 3, 64, 64)
    assert to_channels_last(model) is model
    assert all(a is b for a, b in zip(params, model.parameters()))  # an optimizer's references stay valid
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert not model.conv1.weight.is_contiguous()
    with torch.no_grad():
        torch.testing.assert_close(
            model(x.contiguous(memory_format=torch.channels_last)), reference(x), atol=1e-4, rtol=1e-4
        )
    to_channels_last(model)  # idempotent
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)


def test_default_batch_size_and_predict_proba_agrees_across_batch_sizes():
    assert default_batch_size("cpu") == 16 and default_batch_size(torch.device("cuda")) == 32
    clf = load_classifier("efficientnet_lite0", device="cpu")
    photos = list(sample_images().values())[:3]
    torch.testing.assert_close(
        predict_proba(clf, photos), predict_proba(clf, photos, batch_size=1), atol=1e-5, rtol=1e-4
    )
    expected = predict_proba(clf, photos[:1])
    block = next(m for m in clf.model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    block.train()  # one submodule left in training mode: predict_proba must still evaluate the whole model
    torch.testing.assert_close(predict_proba(clf, photos[:1]), expected)
    assert [m for m in clf.model.modules() if m.training] == [block]  # and leave every flag as it found it
