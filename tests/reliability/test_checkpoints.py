"""Checkpoints: every torch.load in code and notebooks is weights_only=True, and malicious pickles are refused.

The scan parses Python (notebook cells after IPython's own transformation), so aliases such as
``from torch import load as L`` or ``torch.serialization.load`` cannot slip past it.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path

import pytest
import torch
from IPython.core.inputtransformer2 import TransformerManager
from torch import nn
from torchvision.models import ResNet18_Weights

from course_utils.core.errors import CheckpointError, WeightsUnavailableError
from course_utils.data.checkpoints import load_checkpoint, load_into, save_checkpoint
from course_utils.models.weights import torchvision_weights
from tests import ROOT
from tests.reliability_summary import tally

#: Calls that unpickle: (module, function). ``torch.hub.load_state_dict_from_url`` defaults to weights_only=False.
UNPICKLERS = {("torch", "load"), ("torch.serialization", "load"), ("torch.hub", "load_state_dict_from_url")}
RAW_PICKLE = {("pickle", "load"), ("pickle", "loads"), ("dill", "load"), ("dill", "loads")}
#: Deliberate demonstrations, by file and exact line: notebook 07 unpickles an object it has just made in memory
#: to show why torch.load needs weights_only=True.
ALLOWED = {("notebooks/07_faq_pitfalls.ipynb", "pickle.loads(pickle.dumps(Payload()))")}


def unsafe_loads(source: str, where: str) -> list[str]:
    """Calls in ``source`` that unpickle without ``weights_only=True`` (or use pickle directly)."""
    tree = ast.parse(source)
    modules: dict[str, str] = {}  # local name → module it stands for
    functions: dict[str, tuple[str, str]] = {}  # local name → (module, function)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                modules[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if full in {f"{m}.{f}" for m, f in UNPICKLERS | RAW_PICKLE}:
                    functions[a.asname or a.name] = (node.module, a.name)
                else:
                    modules[a.asname or a.name] = full

    def dotted(expr: ast.expr) -> str | None:
        if isinstance(expr, ast.Name):
            return modules.get(expr.id, expr.id)
        if isinstance(expr, ast.Attribute):
            base = dotted(expr.value)
            return f"{base}.{expr.attr}" if base else None
        return None

    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id in functions:
            target = functions[node.func.id]
        else:
            name = dotted(node.func)
            if not name or "." not in name:
                continue
            target = tuple(name.rsplit(".", 1))
        if target in RAW_PICKLE:
            found.append(f"{where}:{node.lineno}: {'.'.join(target)} unpickles without any restriction")
        elif target in UNPICKLERS:
            kw = {k.arg: k.value for k in node.keywords}
            safe = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
            if not safe:
                found.append(f"{where}:{node.lineno}: {'.'.join(target)}(...) without weights_only=True")
    return found


def _sources() -> list[tuple[str, str]]:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py", "*.ipynb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    out = []
    for name in files:
        path = ROOT / name
        if not path.is_file():
            continue
        if name.endswith(".py"):
            out.append((name, path.read_text(encoding="utf-8")))
        else:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            for i, cell in enumerate(cells):
                if cell["cell_type"] == "code":
                    src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                    out.append((f"{name}[cell {i}]", TransformerManager().transform_cell(src)))
    return out


def test_scanner_catches_every_unsafe_form():
    # (written with an alias: the hygiene test's plain-text scan would read these strings as real calls)
    bad = [
        "import torch as t\nt.load(p)",
        "import torch as t\nt.load(p, weights_only=False)",
        "import torch as T\nT.serialization.load(p)",
        "from torch import load as L\nL(p)",
        "import torch as t\nt.load(p, **kw)",
        "from torch import serialization\nserialization.load(p)",
        "import torch\ntorch.hub.load_state_dict_from_url(u)",
        "import pickle\npickle.loads(b)",
        "from pickle import load\nload(f)",
        "import torch as t\nt.load(p, weights_only=flag)",
    ]
    good = [
        "import torch as t\nt.load(p, map_location='cpu', weights_only=True)",
        "import torch\ntorch.hub.load_state_dict_from_url(u, weights_only=True)",
        "import json\njson.load(f)",
        "model.load_state_dict(sd)",
        "import torch\ntorch.save(x, p)",
    ]
    for src in bad:
        assert unsafe_loads(src, "x"), f"missed: {src!r}"
    for src in good:
        assert not unsafe_loads(src, "x"), f"false alarm: {src!r}"


def test_every_torch_load_in_code_and_notebooks_is_weights_only():
    sources = _sources()
    assert len(sources) > 50 and any("notebooks/" in name for name, _ in sources)
    offenders = []
    for name, src in sources:
        lines = src.splitlines()
        for hit in unsafe_loads(src, name):
            line = lines[int(hit.split(": ", 1)[0].rsplit(":", 1)[1]) - 1].split("#")[0].strip()
            if (name.split("[")[0], line) not in ALLOWED:
                offenders.append(f"{hit}: {line}")
    calls = sum(len(re.findall(r"torch\.load\(", src)) for _, src in sources)
    tally(inputs=len(sources))
    assert calls >= 5, "the scan found suspiciously few torch.load calls"
    assert not offenders, "\n".join(offenders)


class _Exploit:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('code from a checkpoint ran')",)


def _malicious(path: Path, marker: Path, wrap: bool) -> Path:
    obj = _Exploit(marker)
    if wrap:  # a real-looking course checkpoint with the payload hidden in an extra field
        obj = {
            "format": "course-checkpoint-1",
            "arch": "x",
            "classes": ["a", "b"],
            "state_dict": {},
            "preprocess": {},
            "extra": {"note": obj},
        }
    torch.save(obj, path)
    return path


@pytest.mark.parametrize("wrap", [False, True], ids=["bare", "hidden-in-checkpoint"])
def test_malicious_checkpoint_is_refused(tmp_path, wrap):
    marker = tmp_path / "pwned.txt"
    path = _malicious(tmp_path / "model.pt", marker, wrap)
    with pytest.raises(CheckpointError, match=str(path)) as info:
        load_checkpoint(path)
    assert not marker.exists(), "code inside the checkpoint ran"
    assert "weights_only" in str(info.value) or "Unpickl" in str(info.value) or "unsupported" in str(info.value).lower()
    with pytest.raises(CheckpointError):
        load_into(nn.Linear(2, 2), path)
    assert not marker.exists()
    tally(inputs=2, faults=2)


def test_malicious_cached_weights_are_refused(tmp_path, monkeypatch):
    """A poisoned file in the torch.hub cache under a real weights name: refused with the fix, no code runs."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    w = ResNet18_Weights.IMAGENET1K_V1
    target = torchvision_weights(w).file
    assert str(tmp_path) in str(target)
    target.parent.mkdir(parents=True)
    marker = tmp_path / "pwned.txt"
    _malicious(target, marker, wrap=False)
    with pytest.raises(WeightsUnavailableError, match="delete the file"):
        torchvision_weights(w).load()
    assert not marker.exists(), "code inside the cached weights ran"
    tally(inputs=1, faults=1)


def test_malicious_embedding_cache_is_replaced_not_run(tmp_path):
    """A poisoned embeddings cache file is ignored (weights_only refuses it) and recomputed."""
    from course_utils.data.datasets import ImageFolderDataset
    from course_utils.inspect import CACHE
    from course_utils.models import load_classifier

    for cls in ("a", "b"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for i in range(2):
            src = ROOT / "data" / "images" / ("chelsea.jpg" if cls == "a" else "coffee.jpg")
            (tmp_path / "data" / cls / f"{i}.jpg").write_bytes(src.read_bytes())
    data = ImageFolderDataset(tmp_path / "data")
    clf = load_classifier("efficientnet_lite0", device="cpu")
    cache = tmp_path / "cache"
    cache.mkdir()
    marker = tmp_path / "pwned.txt"
    poisoned = cache / f"{clf.name}-{CACHE.dataset_key(clf, data, clf.preprocess)}.pt"
    _malicious(poisoned, marker, wrap=False)
    x, y = CACHE.embed_dataset(clf, data, cache_dir=cache, progress=False)
    assert not marker.exists() and x.shape == (4, 1280) and y.tolist() == [0, 0, 1, 1]
    assert torch.equal(torch.load(poisoned, map_location="cpu", weights_only=True)["x"], x)  # replaced
    tally(inputs=1, faults=1)


def test_a_real_checkpoint_still_loads(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(2))
    model(torch.zeros(1, 3, 8, 8))
    path = save_checkpoint(model, tmp_path / "ok.pt", ["cat", "dog"])
    fresh = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(2))
    fresh(torch.zeros(1, 3, 8, 8))
    assert load_into(fresh, path) == ["cat", "dog"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
    tally(inputs=1)
