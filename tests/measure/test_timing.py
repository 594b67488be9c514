"""course_utils.measure: warm-up, median and spread, thread control, real models; timings never asserted exactly."""

from __future__ import annotations

import time

import pytest
import torch
import torchvision
from torch import nn

from course_utils.core.errors import CourseError
from course_utils.measure import (
    MIN_RUNS,
    NOISY_SPREAD,
    Timing,
    compare_functions,
    compare_latency,
    format_share,
    format_table,
    interleave_order,
    is_noisy,
    matmul_gflops,
    noise_note,
    paired_ratio,
    profile_models,
    spread,
    time_function,
)
from course_utils.plots import plot_tradeoff


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


def test_latency_of_one_real_model_restores_nothing_broken():
    model = torchvision.models.mobilenet_v3_small()  # in train mode, as built
    strides = [p.stride() for p in model.parameters()]
    t = compare_latency({"v3s": model}, input_size=96, batch_size=2, min_run_time=0.05)["v3s"]
    assert t.batch_size == 2 and t.label == "v3s" and t.device == "cpu"
    assert t.median > 0 and t.throughput == pytest.approx(2 / t.median)
    # timed in eval mode and channels-last, then given back as it was: train mode, its own memory format
    assert all(m.training for m in model.modules()) and [p.stride() for p in model.parameters()] == strides


def test_bigger_input_is_slower():
    conv = nn.Conv2d(32, 32, 3, padding=1)
    inputs = {"small": torch.randn(1, 32, 8, 8), "big": torch.randn(1, 32, 96, 96)}
    t = compare_latency({"small": conv, "big": conv}, inputs, min_run_time=0.05)
    small, big = t["small"], t["big"]
    assert big.median > small.median  # 144× the work


def test_slow_functions_get_min_runs():
    t = time_function(lambda: time.sleep(0.03), warmup=0, min_run_time=0.01, min_runs=4)
    assert len(t.times) >= MIN_RUNS and t.median >= 0.03  # never fewer than MIN_RUNS, whatever is asked
    assert f"over {len(t.times)} runs" in str(t)


def test_interleave_order_rotates_every_round():
    assert [interleave_order(2, r) for r in range(4)] == [[0, 1], [1, 0], [0, 1], [1, 0]]
    assert [interleave_order(3, r) for r in range(3)] == [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    assert interleave_order(1, 5) == [0] and interleave_order(0, 2) == []
    for r in range(6):  # every candidate runs exactly once per round
        assert sorted(interleave_order(4, r)) == [0, 1, 2, 3]
    with pytest.raises(CourseError):
        interleave_order(-1, 0)


def test_compare_functions_alternates_candidates_round_by_round():
    log = []

    def make(name):
        def fn():
            log.append(name)
            time.sleep(0.003)  # > 2 ms: one call per run, so the log shows the rounds

        return fn

    timings = compare_functions({"A": make("A"), "B": make("B")}, warmup=1, min_run_time=0.02)
    assert list(timings) == ["A", "B"]
    n = len(timings["A"].times)
    assert n == len(timings["B"].times) >= MIN_RUNS
    rounds = log[4:]  # after warm-up and one calibration call each: A A B B; then 3 blocks per run
    assert log[:4] == ["A", "A", "B", "B"]
    assert rounds == [x for r in range(n) for x in ("AAABBB" if r % 2 == 0 else "BBBAAA")]
    ratio = paired_ratio(timings["A"], timings["B"])
    assert ratio.rounds == n and ratio.median > 0


def test_noisy_spread_detection():
    assert not is_noisy(0.05) and not is_noisy(NOISY_SPREAD) and is_noisy(NOISY_SPREAD + 0.01)
    assert is_noisy(float("nan")) and is_noisy(float("inf"))
    steady = Timing(*spread([1.0, 1.01, 0.99, 1.0, 1.02]), (1.0, 1.01, 0.99, 1.0, 1.02), 1, 1, "cpu", "steady")
    shaky = Timing(*spread([1.0, 2.5, 0.6, 1.9, 1.0]), (1.0, 2.5, 0.6, 1.9, 1.0), 1, 1, "cpu", "shaky")
    assert not steady.noisy and shaky.noisy
    assert noise_note([steady]) == "" and noise_note(steady) == ""
    note = noise_note([steady, shaky])
    assert note.startswith("timings were noisy (spread ") and "rerun on an idle machine" in note
    assert f"{round(100 * shaky.spread)} %" in note
    wild = Timing(*spread([1.0, 9.0, 0.1, 7.0, 1.0]), (1.0, 9.0, 0.1, 7.0, 1.0), 1, 1, "cpu")
    assert "over 100 %" in noise_note(wild) and "over 100 %" in str(wild)  # never prints a percentage > 100


def test_paired_ratio_needs_one_comparison():
    a = Timing(1.0, 0.0, (1.0, 2.0, 1.0, 2.0, 1.0), 1, 1, "cpu")
    b = Timing(0.5, 0.0, (0.5, 1.0, 0.5, 1.0, 0.5), 1, 1, "cpu")
    r = paired_ratio(a, b)
    assert r.median == 2.0 and r.iqr == 0.0 and not r.noisy  # the load doubled both: the ratio did not move
    with pytest.raises(CourseError, match="interleaved"):
        paired_ratio(a, Timing(1.0, 0.0, (1.0,), 1, 1, "cpu"))


def test_format_share_never_exceeds_100_percent():
    assert format_share(50, 200) == "25 % of the ceiling"
    assert format_share(200, 200) == "100 % of the ceiling"
    text = format_share(417.2, 187.0)
    assert "above the matmul ceiling" in text and "%" not in text
    with pytest.raises(CourseError):
        format_share(1, 0)


def test_compare_latency_real_models_interleaved():
    conv_small = nn.Conv2d(16, 16, 3, padding=1)
    conv_big = nn.Conv2d(16, 64, 3, padding=1)
    x = torch.randn(1, 16, 32, 32)
    t = compare_latency({"small": conv_small, "big": conv_big}, x, min_run_time=0.05)
    assert list(t) == ["small", "big"] and all(len(v.times) >= MIN_RUNS for v in t.values())
    assert len(t["small"].times) == len(t["big"].times)
    with pytest.raises(CourseError, match="could not run"):
        compare_latency({"bad": conv_small}, torch.randn(1, 3, 8, 8))


def test_matmul_gflops_positive():
    assert matmul_gflops(256, min_run_time=0.05) > 0.1
    assert matmul_gflops((64, 128), min_run_time=0.05) > 0.1
    with pytest.raises(CourseError, match="at least 16"):
        matmul_gflops((8, 64))


def test_profile_models_rows_and_table():
    rows = profile_models(
        {"v3s": torchvision.models.mobilenet_v3_small()},
        input_size=64,
        min_run_time=0.05,
        extra={"v3s": {"acc@1": 67.7}},
    )
    row = rows[0]
    assert row["name"] == "v3s" and row["acc@1"] == 67.7
    assert row["params_M"] == pytest.approx(2.542856) and row["GFLOPs"] > 0 and row["latency_ms"] > 0
    assert row["runs"] >= MIN_RUNS and 0 <= row["spread_%"] <= 100
    text = format_table(rows, ["name", "params_M", "latency_ms"])
    assert text.splitlines()[0].split() == ["name", "params_M", "latency_ms"] and "2.54" in text


def test_plot_tradeoff_draws_the_pareto_front():
    pts = {"a": (1.0, 60.0), "b": (2.0, 70.0), "c": (3.0, 65.0), "d": (4.0, 80.0), "e": (2.0, 69.0)}
    fig = plot_tradeoff(pts)
    (front,) = [line for line in fig.axes[0].lines if line.get_label() == "Pareto front"]
    assert list(front.get_xdata()) == [1.0, 2.0, 4.0] and list(front.get_ydata()) == [60.0, 70.0, 80.0]


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
    with pytest.raises(CourseError, match="max_run_time"):
        time_function(lambda: None, min_run_time=0.2, max_run_time=0.1)
    with pytest.raises(CourseError, match="callables"):
        compare_functions({"a": lambda: None, "b": 3})
    with pytest.raises(CourseError, match="callables"):
        compare_functions({})
    with pytest.raises(CourseError, match="nn.Module"):
        compare_latency({"r18": "resnet18"})
    with pytest.raises(CourseError):
        spread([])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_timing_is_synchronised():
    a = torch.randn(2048, 2048, device="cuda")
    t = time_function(lambda: a @ a, device="cuda", min_run_time=0.05)
    # without synchronisation the launch alone (~10 µs) would be timed; 17 GFLOP takes longer
    assert t.median > 2 * 2048**3 / 1e15
