"""Device choice, seeding, threads and the setup line."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from course_utils.core.device import configure_threads, get_device, seed_everything, setup
from course_utils.core.errors import SettingError


def test_get_device_prefers_accelerators_and_honours_override(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert get_device().type == expected
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    assert get_device("meta") == torch.device("meta")


def test_seed_everything_makes_runs_repeat():
    seed_everything(7)
    a = (random.random(), np.random.rand(), torch.rand(3))
    seed_everything(7)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def test_configure_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert configure_threads(1) == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("COURSE_THREADS", "2")
        assert configure_threads() == 2 and torch.get_num_threads() == 2
        assert configure_threads(0) == 1
    finally:
        torch.set_num_threads(before)


def test_setup_prints_one_line(capsys, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    before = torch.get_num_threads()
    try:
        device = setup(seed=3, threads=1)
    finally:
        torch.set_num_threads(before)
    out = capsys.readouterr().out.strip()
    assert isinstance(device, torch.device) and len(out.splitlines()) == 1
    assert f"torch {torch.__version__}" in out and "offline mode ON" in out and "seed 3" in out


def test_thread_precedence_argument_course_threads_omp_then_cpus():
    from course_utils.core.device import resolve_threads

    env = {"COURSE_THREADS": "3", "OMP_NUM_THREADS": "5"}
    assert resolve_threads(2, env, cpu_count=8) == 2  # an explicit argument wins
    assert resolve_threads(None, env, cpu_count=8) == 3  # then COURSE_THREADS
    assert resolve_threads(None, {"OMP_NUM_THREADS": "5"}, cpu_count=8) == 5  # then OMP_NUM_THREADS, as torch does
    assert resolve_threads(None, {"OMP_NUM_THREADS": "4,2"}, cpu_count=8) == 4  # OpenMP's nested form
    assert resolve_threads(None, {}, cpu_count=8) == 8  # then the CPU count
    assert resolve_threads(None, {"COURSE_THREADS": "", "OMP_NUM_THREADS": "6"}, cpu_count=8) == 6  # empty: unset
    for bad in ("zero", "0", "-2"):  # the course's own variable: a bad value names itself
        with pytest.raises(SettingError, match=f"COURSE_THREADS='{bad}'"):
            resolve_threads(None, {"COURSE_THREADS": bad, "OMP_NUM_THREADS": "6"}, cpu_count=8)
    for bad in ("zero", "0", "-2"):  # torch's variable: skipped, as torch skips it
        assert resolve_threads(None, {"OMP_NUM_THREADS": bad}, cpu_count=8) == 8
    assert resolve_threads(0, env, cpu_count=8) == 1


def test_bad_settings_name_the_variable(monkeypatch):
    from course_utils.core.device import get_device
    from course_utils.core.settings import env_flag, offline

    monkeypatch.setenv("COURSE_DEVICE", "banana")
    with pytest.raises(SettingError, match="COURSE_DEVICE='banana': not a device"):
        get_device()
    with pytest.raises(SettingError, match="prefer='gpu0'"):
        get_device("gpu0")
    monkeypatch.setenv("COURSE_OFFLINE", "maybe")
    with pytest.raises(SettingError, match="COURSE_OFFLINE='maybe'"):
        offline()
    for value, want in (("1", True), ("ON", True), ("0", False), ("off", False), ("", False)):
        monkeypatch.setenv("COURSE_FULL", value)
        assert env_flag("COURSE_FULL") is want


def test_setup_honours_omp_num_threads(monkeypatch):
    monkeypatch.delenv("COURSE_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    try:
        setup(seed=0, quiet=True)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_setup_applies_the_course_figure_style():
    import matplotlib

    from course_utils.core.style import MIN_TICK_PT, MIN_TITLE_PT

    matplotlib.rcdefaults()
    before = torch.get_num_threads()
    try:
        setup(seed=0, threads=1, quiet=True)
    finally:
        torch.set_num_threads(before)
    assert matplotlib.rcParams["axes.titlesize"] >= MIN_TITLE_PT
    assert (
        matplotlib.rcParams["xtick.labelsize"] >= MIN_TICK_PT and matplotlib.rcParams["ytick.labelsize"] >= MIN_TICK_PT
    )


def _run(code: str, path: str) -> str:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_HOME", "CUDA_PATH")}
    env.update(PATH=path, CUDA_VISIBLE_DEVICES="")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120).stderr


def test_no_cuda_home_warning_on_a_machine_with_nvcc_but_no_gpu(tmp_path):
    import os

    # a CUDA toolkit without a GPU: an `nvcc` on PATH, no visible device
    (tmp_path / "bin").mkdir()
    nvcc = tmp_path / "bin" / "nvcc"
    nvcc.write_text("#!/bin/sh\nexit 0\n")
    nvcc.chmod(0o755)
    path = f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    control = _run("import torch.utils.cpp_extension", path)
    assert "No CUDA runtime is found" in control, f"this machine does not reproduce torch's message: {control!r}"
    # importing the course neither imports cpp_extension (torch.utils.benchmark would) nor installs a filter
    out = _run(
        "import logging, sys, course_utils, course_utils.measure\n"
        "assert 'torch.utils.cpp_extension' not in sys.modules\n"
        "assert not logging.getLogger('torch.utils.cpp_extension').filters",
        path,
    )
    assert "No CUDA runtime" not in out and "Error" not in out, out
    # once setup() has run, the message is silenced at its logger, other messages are not
    out = _run(
        "import course_utils as cu; cu.setup(quiet=True); import sys, torch.utils.cpp_extension as c\n"
        "if not hasattr(c, 'logger'): sys.stderr.write('PRINTS'); sys.exit()\n"
        "c.logger.warning('still shown')",
        path,
    )
    if out.endswith("PRINTS"):
        return  # torch < 2.4 prints the message instead of logging it: nothing to filter, course code never imports it
    assert "No CUDA runtime is found" not in out and "still shown" in out, out
