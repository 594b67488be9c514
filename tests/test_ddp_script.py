"""scripts/ddp_finetune.py under torchrun: 2 CPU processes (gloo) on the bundled data end with identical weights."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from course_utils.core.device import seed_everything
from course_utils.data.checkpoints import load_checkpoint
from course_utils.models import load_classifier, reset_classifier
from tests import ROOT


def test_two_ranks_end_with_identical_weights(tmp_path):
    env = {
        **os.environ,
        "COURSE_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "COURSE_THREADS": "1",
        "COURSE_DATA": str(tmp_path / "cache"),
        "CUDA_VISIBLE_DEVICES": "",
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(ROOT / "scripts" / "ddp_finetune.py"),
        "--model",
        "resnet18",
        "--image-size",
        "64",
        "--batch-size",
        "4",
        "--max-steps",
        "2",
        "--head-lr",
        "1e-2",
        "--backbone-lr",
        "1e-3",
        "--out",
        str(tmp_path / "ddp.pt"),
        "--dump-dir",
        str(tmp_path),
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 process(es)" in result.stdout
    r0 = torch.load(tmp_path / "rank0.pt", map_location="cpu", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", map_location="cpu", weights_only=True)
    assert r0.keys() == r1.keys()
    different = [k for k in r0 if not torch.equal(r0[k], r1[k])]
    assert not different, f"ranks diverged in {different[:5]}"
    # the ranks did train: the weights moved away from the common starting point
    seed_everything(0)
    start = load_classifier("resnet18", device="cpu", quiet=True).model
    reset_classifier(start, 5)
    assert not torch.equal(start.fc.weight, r0["fc.weight"])
    assert not torch.equal(start.conv1.weight, r0["conv1.weight"])
    ckpt = load_checkpoint(tmp_path / "ddp.pt")
    assert ckpt["classes"] == ["brick", "galaxies", "grass", "gravel", "tissue"] and ckpt["extra"]["world_size"] == 2
    assert torch.equal(ckpt["state_dict"]["fc.weight"], r0["fc.weight"])
