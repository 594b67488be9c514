"""Every notebook passes a second run in the same kernel, without piling up state: checked in nbval's own kernel.

Registered from the root ``conftest.py``. nbval runs each notebook once in a fresh kernel (run 1: a learner who
restarts the kernel and runs everything). After its last cell this plugin adds one item per notebook,
``notebooks/NN_x.ipynb::run again in the same kernel``, which:

1. reads the state a second run could pile up (:data:`PROBE`): hooks and parameter counts of every model in the
   notebook's globals, the length of every list or dict there and in course_utils' module-level containers, the
   global module hooks, the kernel's pid, torch threads and offline socket guard;
2. runs every code cell again in that kernel (run 2: a learner who re-runs the whole notebook);
3. reads the state again and fails on any change, on a cell that fails the second time, on a kernel that used more
   torch threads than ``COURSE_THREADS``, or on a connection the offline guard blocked from that kernel.

The item belongs to the notebook's scope (``--dist loadscope`` keeps it on the notebook's worker, after its cells)
and is skipped when a cell of run 1 failed: that failure is already reported. So each notebook is executed in one
kernel per ``make test``: nbval's run and this check's second pass.

``--second-run`` says which notebooks get it: ``quick`` (the default, ``make test``) every notebook whose run-time
budget (``benchmarks/bench_notebooks.py``) is at most :data:`QUICK_BUDGET` seconds; ``all`` (``make test-full``)
every notebook, including 04, 09 and 10, which train over 3 seeds and whose second runs add 250–360 s of worker
time; ``none`` no notebook. A notebook left out is executed once (nbval's run); its item still checks
that kernel's torch threads and offline guard, then is skipped, saying why and how to run it again.
"""

from __future__ import annotations

import ast
import os
import time
from pathlib import Path
from queue import Empty

import pytest

from tests import ROOT
from tests.output_checks import FAILED_KEY, is_nbval_cell, kernel_eval
from tests.reliability_summary import network_record, tally

ITEM_NAME = "run again in the same kernel"
#: Notebooks with a budget up to this many seconds get their second run in every ``make test``.
QUICK_BUDGET = 90
SECOND_RUN_CHOICES = ("quick", "all", "none")

#: Defined silently in the kernel; ``_course_state_probe()`` returns the state as a JSON string.
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
    user = {k: d for k, v in list(get_ipython().user_ns.items())
            if not k.startswith("_") and k not in ipython and (d := describe(v)) is not None}
    package = {}
    for name, mod in list(sys.modules.items()):
        if name.startswith("course_utils"):
            for k, v in list(vars(mod).items()):
                if isinstance(v, (list, dict, set, collections.deque)) and not k.isupper():
                    package[f"{name}.{k}"] = {"len": len(v)}
    g = torch.nn.modules.module
    global_hooks = sum(len(getattr(g, a, {})) for a in dir(g) if a.startswith("_global_") and a.endswith("hooks"))
    return json.dumps({"user": user, "package": package, "global_hooks": global_hooks, "pid": os.getpid(),
                       "guard": getattr(sys, "_course_netguard", None), "threads": torch.get_num_threads()})
"""


def growth(first: dict, second: dict) -> list[str]:
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


def notebook_budgets() -> dict[str, float]:
    """Each notebook's run-time budget in seconds by its number (``benchmarks/bench_notebooks.py``'s ``BUDGETS``,
    read without importing it)."""
    tree = ast.parse((ROOT / "benchmarks" / "bench_notebooks.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "BUDGETS":
            return ast.literal_eval(node.value)
    return {}


def second_run_wanted(name: str, mode: str, budgets: dict[str, float]) -> bool:
    """Whether notebook ``name`` (``NN_x.ipynb``) gets its second run under ``--second-run=mode``; a notebook
    without a budget counts as quick."""
    if mode not in SECOND_RUN_CHOICES:
        raise ValueError(f"--second-run={mode!r}: choose one of {', '.join(SECOND_RUN_CHOICES)}")
    return mode == "all" or (mode == "quick" and budgets.get(name[:2], 0) <= QUICK_BUDGET)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--second-run",
        choices=SECOND_RUN_CHOICES,
        default="quick",
        help=f"which notebooks are run again in nbval's kernel: quick (budget <= {QUICK_BUDGET} s, the default), "
        "all (make test-full) or none",
    )


class RunAgain(pytest.Item):
    """The second run of one notebook in nbval's kernel, with the state compared before and after."""

    def runtest(self) -> None:
        nbfile = self.parent
        if nbfile.path in self.config.stash.get(FAILED_KEY, set()):
            pytest.skip("a cell of the first run failed (reported there): no second run")
        kernel = nbfile.kernel
        if kernel is None or not kernel.is_alive():
            pytest.fail(f"{nbfile.path.name}: the kernel of the first run is gone")
        first = self._state()
        mode, budgets = self.config.getoption("second_run"), notebook_budgets()
        if not second_run_wanted(nbfile.path.name, mode, budgets):
            self._check_kernel(first)  # every kernel, run twice or not: its threads and the offline guard
            budget = budgets.get(nbfile.path.name[:2])
            pytest.skip(
                f"--second-run={mode}: {nbfile.path.name} ran once"
                + (f" (its budget is {budget:g} s, over {QUICK_BUDGET} s)" if mode == "quick" else "")
                + "; its kernel's threads and offline guard were checked; `make test-full` (--second-run=all) runs "
                "it again in the same kernel"
            )
        start = time.perf_counter()
        for number, cell in enumerate(c for c in nbfile.nb.cells if c.cell_type == "code"):
            error = _execute(kernel, cell.source)
            expected = "raises-exception" in cell.get("metadata", {}).get("tags", [])
            if error and not expected:
                pytest.fail(f"{nbfile.path.name}: cell {number} fails on the second run in the same kernel:\n{error}")
        seconds = time.perf_counter() - start
        second = self._state()
        tally(inputs=1)
        assert first["pid"] == second["pid"], "the kernel restarted during the second run"
        self._check_kernel(first)
        grown = growth(first, second)
        assert not grown, f"{nbfile.path.name}: state changed on the second run:\n" + "\n".join(grown)
        timing = f"{nbfile.path.name}: run 2 in the same kernel {seconds:.1f} s"
        self.user_properties.append(("timing", timing))
        print(timing)

    def _check_kernel(self, state: dict) -> None:
        """The kernel used ``COURSE_THREADS`` torch threads, ran under the offline socket guard of this run, and
        tried no connection that the guard blocked."""
        name = self.parent.path.name
        threads = int(os.environ.get("COURSE_THREADS") or 0)
        if threads:
            assert state["threads"] == threads, f"{name}: the kernel used {state['threads']} threads, not {threads}"
        record = network_record()
        if record is not None:
            assert state["guard"] == str(record), f"{name}: the kernel ran without the offline socket guard"
            lines = record.read_text().splitlines() if record.is_file() else []
            blocked = [line for line in lines if f"pid={state['pid']} " in line]
            assert not blocked, f"{name} tried to use the network:\n" + "\n".join(blocked)

    def _state(self) -> dict:
        state = kernel_eval(self.parent.kernel.kc, PROBE, "_course_state_probe()")
        if state is None:
            pytest.fail(f"{self.parent.path.name}: the state probe failed in the kernel")
        return state

    def reportinfo(self):
        return self.path, None, f"{self.path.name}::{ITEM_NAME}"


def _execute(kernel, source: str, timeout: float = 600) -> str | None:
    """Run one cell's source in the kernel; the error it raised (``ename: evalue``), or None."""
    msg_id = kernel.kc.execute(source, store_history=False, allow_stdin=False, stop_on_error=False)
    while True:
        reply = kernel.kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    while True:  # what the cell displayed is not checked here (nbval checked run 1): drop it
        try:
            kernel.kc.get_iopub_msg(timeout=0.01)
        except Empty:
            break
    content = reply["content"]
    if content.get("status") == "error":
        return f"{content.get('ename')}: {content.get('evalue')}"[:3000]
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """After the last cell of each notebook, its second run."""
    out: list[pytest.Item] = []
    for i, item in enumerate(items):
        out.append(item)
        last = i + 1 == len(items) or items[i + 1].parent is not item.parent
        if is_nbval_cell(item) and last:
            again = RunAgain.from_parent(item.parent, name=ITEM_NAME)
            again.add_marker(pytest.mark.notebook)
            out.append(again)
    items[:] = out


def notebooks_with_a_second_run(items: list[pytest.Item]) -> set[Path]:
    """The notebooks whose second run is collected (for tests that check every notebook has one)."""
    return {item.path for item in items if isinstance(item, RunAgain)}


__all__ = [
    "ITEM_NAME",
    "PROBE",
    "QUICK_BUDGET",
    "RunAgain",
    "growth",
    "notebook_budgets",
    "notebooks_with_a_second_run",
    "second_run_wanted",
]
