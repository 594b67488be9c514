"""Every notebook passes after a kernel restart and again when run a second time in the same kernel.

A learner re-runs cells and whole notebooks all the time. The second run must not fail and must
not pile up state: the same number of hooks on every model, the same parameter count (a head
replaced twice would change it), no growing lists or dicts, in the notebook's globals and in
course_utils' module-level containers. The kernels run offline with one thread, under the
socket guard when ``COURSE_OFFLINE=1`` (tests/reliability_summary.py), and the guard's record
must stay empty.

One test class per notebook, so that ``--dist loadscope`` spreads them over the workers.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from reliability_summary import network_record, tally

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

#: Runs in the kernel after each pass: a JSON summary of the state a second run could pile up.
PROBE = r"""
def _course_state_probe():
    import collections, json, os, sys
    import torch
    from torch import nn

    def hooks(m):
        return sum(len(getattr(s, a, {})) for s in m.modules() for a in (
            "_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
            "_state_dict_hooks", "_load_state_dict_pre_hooks"))

    def describe(v):
        model = v if isinstance(v, nn.Module) else getattr(v, "model", None)
        if isinstance(model, nn.Module):
            return {"params": sum(p.numel() for p in model.parameters()), "hooks": hooks(model),
                    "modules": sum(1 for _ in model.modules())}
        if isinstance(v, (list, dict, set, tuple, collections.deque)):
            return {"len": len(v)}
        return None

    ipython = {"In", "Out", "exit", "quit", "get_ipython"}  # IPython's own history
    user = {k: d for k, v in list(globals().items())
            if not k.startswith("_") and k not in ipython and (d := describe(v)) is not None}
    package = {}
    for name, mod in list(sys.modules.items()):
        if name.startswith("course_utils"):
            for k, v in list(vars(mod).items()):
                if isinstance(v, (list, dict, set, collections.deque)) and not k.isupper():
                    package[f"{name}.{k}"] = {"len": len(v)}
    g = torch.nn.modules.module
    global_hooks = sum(len(getattr(g, a, {})) for a in dir(g) if a.startswith("_global_") and a.endswith("hooks"))
    return {"user": user, "package": package, "global_hooks": global_hooks, "pid": os.getpid(),
            "guard": getattr(sys, "_course_netguard", None), "threads": torch.get_num_threads()}

print("__COURSE_STATE__" + __import__("json").dumps(_course_state_probe()))
del _course_state_probe
"""


def _kernel_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(COURSE_OFFLINE="1", COURSE_THREADS="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def _run(nb_path: Path, km: KernelManager) -> tuple[dict, float]:
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(
        nb,
        km=km,
        timeout=600,
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": str(nb_path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    line = next(s for s in text.splitlines() if s.startswith("__COURSE_STATE__"))
    return json.loads(line.removeprefix("__COURSE_STATE__")), seconds


def _growth(first: dict, second: dict) -> list[str]:
    """What changed between two runs: piled-up hooks, changed models, growing containers."""
    out = []
    if second["global_hooks"] != first["global_hooks"]:
        out.append(f"global module hooks {first['global_hooks']} → {second['global_hooks']}")
    for scope in ("user", "package"):
        for name, a in first[scope].items():
            b = second[scope].get(name)
            if b is not None and a != b:
                out.append(f"{name}: {a} → {b}")
    return out


def run_twice(nb_path: Path) -> str:
    """Restart a kernel, run the notebook, run it again in the same kernel; returns a timing line."""
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(nb_path.parent), env=_kernel_env())
    try:
        km.restart_kernel(now=True)  # the first run starts right after a kernel restart
        try:
            first, t1 = _run(nb_path, km)
        except CellExecutionError as exc:
            pytest.fail(f"{nb_path.name}: fails after a kernel restart:\n{str(exc)[-3000:]}")
        try:
            second, t2 = _run(nb_path, km)
        except CellExecutionError as exc:
            pytest.fail(f"{nb_path.name}: the second run in the same kernel fails:\n{str(exc)[-3000:]}")
    finally:
        km.shutdown_kernel(now=True)
    tally(inputs=2)
    assert first["pid"] == second["pid"], "the kernel restarted between the runs"
    assert first["threads"] == 1, f"the kernel used {first['threads']} threads"
    grown = _growth(first, second)
    assert not grown, f"{nb_path.name}: state changed on the second run:\n" + "\n".join(grown)
    record = network_record()
    if record is not None:
        assert first["guard"] == str(record), "the kernel ran without the offline socket guard"
        blocked = [
            line
            for line in (record.read_text().splitlines() if record.is_file() else [])
            if f"pid={first['pid']} " in line
        ]
        assert not blocked, f"{nb_path.name} tried to use the network:\n" + "\n".join(blocked)
    return f"{nb_path.name}: run 1 {t1:.1f} s, run 2 {t2:.1f} s"


def _make_class(nb_path: Path) -> type:
    def test_passes_after_restart_and_twice_in_one_kernel(self, record_property):
        timing = run_twice(nb_path)
        record_property("timing", timing)
        print(timing)

    return type(
        f"TestRunTwice{nb_path.stem[:2]}",
        (),
        {
            "__doc__": f"{nb_path.name}: restart, run, run again in the same kernel.",
            "test_passes_after_restart_and_twice_in_one_kernel": test_passes_after_restart_and_twice_in_one_kernel,
        },
    )


for _nb in NOTEBOOKS:
    globals()[f"TestRunTwice{_nb.stem[:2]}"] = _make_class(_nb)


def test_every_notebook_has_a_double_run_class():
    assert len(NOTEBOOKS) >= 9
    assert all(f"TestRunTwice{nb.stem[:2]}" in globals() for nb in NOTEBOOKS)


def test_probe_detects_piled_up_hooks_and_growing_lists():
    """The comparison is not blind: a hook added per run and a list appended per run are reported."""
    base = {
        "user": {"model": {"params": 10, "hooks": 0, "modules": 2}, "log": {"len": 1}},
        "package": {"course_utils.x._cache": {"len": 3}},
        "global_hooks": 0,
    }
    again = json.loads(json.dumps(base))
    assert _growth(base, again) == []
    again["user"]["model"]["hooks"] = 1
    again["user"]["log"]["len"] = 2
    again["package"]["course_utils.x._cache"]["len"] = 6
    again["global_hooks"] = 1
    assert len(_growth(base, again)) == 4
