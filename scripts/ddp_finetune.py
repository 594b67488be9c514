"""Fine-tune a torchvision classifier on several processes with DistributedDataParallel.

Run it with torchrun, one process per GPU (or several CPU processes for a try-out)::

    torchrun --nproc_per_node=2 scripts/ddp_finetune.py --epochs 1
    torchrun --nproc_per_node=4 scripts/ddp_finetune.py --model resnet50 --data ~/my_photos

Each process sees a different shard of the data (DistributedSampler); after every backward
pass DDP averages the gradients across processes, so all replicas take the same step and
stay identical. The backend is ``nccl`` on CUDA and ``gloo`` on the CPU. BatchNorm layers
run on frozen running statistics (the usual choice for fine-tuning with small per-process
batches); on GPUs ``--sync-bn`` synchronises batch statistics across processes instead.
Rank 0 saves a course checkpoint; ``--dump-dir`` makes every rank save its weights so that
a test can compare them.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from course_utils.core.device import seed_everything
from course_utils.data.checkpoints import build_preprocess, save_checkpoint
from course_utils.data.datasets import ImageFolderDataset, course_dataset
from course_utils.models import load_classifier, reset_classifier
from course_utils.train import param_groups, run_epoch


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="resnet50", help="torchvision classifier (default resnet50)")
    p.add_argument("--data", default=None, help="folder with one subfolder per class (default: the course dataset)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=0, help="stop each epoch after this many steps (0: no limit)")
    p.add_argument("--batch-size", type=int, default=16, help="per process")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--head-lr", type=float, default=1e-3)
    p.add_argument("--backbone-lr", type=float, default=1e-5)
    p.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm across processes (CUDA only)")
    p.add_argument("--out", default="checkpoints/ddp_finetune.pt", help="checkpoint written by rank 0")
    p.add_argument("--dump-dir", default=None, help="every rank writes rank<N>.pt here (for tests)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Set up the process group, train, save, tear down."""
    args = parse_args(argv)
    use_cuda = torch.cuda.is_available()
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    seed_everything(args.seed)  # same seed everywhere; DDP also broadcasts rank 0's weights at wrap time

    clf = load_classifier(args.model, device="cpu", quiet=rank != 0)
    mean, std = clf.meta.get("mean", (0.485, 0.456, 0.406)), clf.meta.get("std", (0.229, 0.224, 0.225))
    preprocess = build_preprocess(
        {"resize_size": [args.image_size], "crop_size": [args.image_size], "mean": list(mean), "std": list(std)}
    )
    data = (
        ImageFolderDataset(args.data, preprocess)
        if args.data
        else course_dataset(transform=preprocess, quiet=rank != 0, progress=rank == 0)
    )
    model = clf.model
    head = reset_classifier(model, len(data.classes))
    groups = param_groups(model, head, args.head_lr, args.backbone_lr)
    model.to(device)
    if args.sync_bn and use_cuda:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = DDP(model, device_ids=[local_rank] if use_cuda else None)
    optimizer = torch.optim.AdamW(groups)

    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler, num_workers=0)
    if args.max_steps:
        loader = _Limited(loader, args.max_steps)
    scaler = torch.amp.GradScaler("cuda", enabled=use_cuda)
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
        ddp.train()
        if not args.sync_bn:
            for m in ddp.modules():
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                    m.eval()  # running statistics stay those of the pretrained model
        start = time.perf_counter()
        loss, acc = run_epoch(ddp, loader, device, optimizer, scaler, amp=use_cuda, progress=rank == 0)
        stats = torch.tensor([loss, acc], device=device)
        dist.all_reduce(stats)
        if rank == 0:
            print(
                f"epoch {epoch + 1}: loss {stats[0] / world:.4f}, train acc {stats[1] / world:.3f} "
                f"({time.perf_counter() - start:.1f} s, {world} process(es))",
                flush=True,
            )
    if args.dump_dir:
        Path(args.dump_dir).mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, Path(args.dump_dir) / f"rank{rank}.pt")
    if rank == 0:
        path = save_checkpoint(model, args.out, data.classes, preprocess, arch=args.model, world_size=world)
        print(f"saved {path}", flush=True)
    dist.barrier()
    dist.destroy_process_group()


class _Limited:
    """The first ``steps`` batches of a loader."""

    def __init__(self, loader: DataLoader, steps: int) -> None:
        self.loader, self.steps = loader, steps

    def __iter__(self):
        for i, batch in enumerate(self.loader):
            if i >= self.steps:
                return
            yield batch

    def __len__(self) -> int:
        return min(self.steps, len(self.loader))


if __name__ == "__main__":
    main()
