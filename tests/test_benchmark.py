"""Benchmark helper: warm-up, median and spread, thread control, real models; timings never asserted exactly."""

from __future__ import annotations

import time

import pytest
import torch
import torchvision
from torch import nn

from course_utils.benchmark import (
    format_table,
    matmul_gflops,
    measure_latency,
    pareto_front,
    plot_tradeoff,
    profile_models,
    spread,
    time_function,
)
from course_utils.errors import CourseError


def test_time_function_measures_real_time_and_warms_up():
    calls = []

    def work():
        calls.append(1)
        time.sleep(0.004)

    t = time_function(work, warmup=2, min_run_time=0.05)
    assert 0.003 < t.median < 0.05  # sleep(4 ms) takes at least 4 ms
    assert len(calls) >= 2 + len(t.times)
    assert t.iqr >= 0 and t.throughput == pytest.approx(1 / t.median)
    assert "ms median" in str(t)


def test_threads_are_fixed_during_the_run_and_restored():
    before = torch.get_num_threads()
    seen = []
    t = time_function(lambda: seen.append(torch.get_num_threads()), threads=1, warmup=1, min_run_time=0.01)
    assert set(seen) == {1} and t.threads == 1
    assert torch.get_num_threads() == before


def test_measure_latency_real_model_restores_nothing_broken():
    model = torchvision.models.mobilenet_v3_small()
    t = measure_latency(model, input_size=96, batch_size=2, min_run_time=0.05, label="v3s")
    assert t.batch_size == 2 and t.label == "v3s" and t.device == "cpu"
    assert t.median > 0 and t.throughput == pytest.approx(2 / t.median)
    assert not model.training


def test_bigger_input_is_slower():
    conv = nn.Conv2d(32, 32, 3, padding=1)
    small = measure_latency(conv, torch.randn(1, 32, 8, 8), min_run_time=0.05)
    big = measure_latency(conv, torch.randn(1, 32, 96, 96), min_run_time=0.05)
    assert big.median > small.median  # 144× the work


def test_slow_functions_get_min_runs():
    t = time_function(lambda: time.sleep(0.03), warmup=0, min_run_time=0.01, min_runs=4)
    assert len(t.times) >= 4 and t.median >= 0.03


def test_matmul_gflops_positive():
    assert matmul_gflops(256, min_run_time=0.05) > 0.1


def test_profile_models_rows_and_table():
    rows = profile_models({"v3s": torchvision.models.mobilenet_v3_small()}, input_size=64, min_run_time=0.05,
                          extra={"v3s": {"acc@1": 67.7}})
    row = rows[0]
    assert row["name"] == "v3s" and row["acc@1"] == 67.7
    assert row["params_M"] == pytest.approx(2.542856) and row["GFLOPs"] > 0 and row["latency_ms"] > 0
    text = format_table(rows, ["name", "params_M", "latency_ms"])
    assert text.splitlines()[0].split() == ["name", "params_M", "latency_ms"] and "2.54" in text


def test_pareto_front():
    pts = {"a": (1.0, 60.0), "b": (2.0, 70.0), "c": (3.0, 65.0), "d": (4.0, 80.0), "e": (2.0, 69.0)}
    assert pareto_front(pts) == ["a", "b", "d"]
    fig = plot_tradeoff(pts)
    assert len(fig.axes) == 1


def test_spread():
    assert spread([5.0]) == (5.0, 0.0)
    assert spread([1.0, 2.0, 3.0]) == (2.0, 1.0)
    med, iqr = spread([1.0, 2.0, 3.0, 4.0, 100.0])
    assert med == 3.0 and iqr == 2.0  # the outlier moves neither


def test_bad_arguments():
    with pytest.raises(CourseError, match="callable"):
        time_function(42)
    with pytest.raises(CourseError, match="min_run_time"):
        time_function(lambda: None, min_run_time=0)
    with pytest.raises(CourseError, match="nn.Module"):
        measure_latency("resnet18")
    with pytest.raises(CourseError):
        spread([])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_timing_is_synchronised():
    a = torch.randn(2048, 2048, device="cuda")
    t = time_function(lambda: a @ a, device="cuda", min_run_time=0.05)
    # without synchronisation the launch alone (~10 µs) would be timed; 17 GFLOP takes longer
    assert t.median > 2 * 2048**3 / 1e15
