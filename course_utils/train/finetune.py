"""Transfer learning: freezing, parameter groups, linear probes on fixed features, a fit loop.

The notebook writes each step by hand first; these helpers package the same steps:

* :func:`freeze_all_but`, :func:`count_trainable`, :func:`decay_groups`, :func:`param_groups` (new heads:
  :func:`course_utils.models.reset_classifier`)
* :func:`freeze_bn_stats` — the fix for the frozen-BatchNorm pitfall
* :func:`train_linear_probe` — on embeddings computed once (``course_utils.inspect.CACHE.embed_dataset``)
* :func:`fit` — full fine-tuning with optional head warm-up, AMP on CUDA, tqdm, history
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..core.device import model_device
from ..core.errors import TrainingError
from ..measure.flops import count_params

__all__ = [
    "History",
    "count_trainable",
    "decay_groups",
    "fit",
    "freeze_all_but",
    "freeze_bn_stats",
    "param_groups",
    "run_epoch",
    "train_linear_probe",
]

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def count_trainable(model: nn.Module) -> int:
    """Number of parameter values with ``requires_grad=True``."""
    return count_params(model, trainable_only=True)


def freeze_all_but(model: nn.Module, *keep: nn.Module) -> int:
    """Freeze every parameter except those of ``keep`` (e.g. the head); returns the trainable count."""
    kept = {id(p) for m in keep for p in m.parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in kept)
    return count_trainable(model)


def decay_groups(params: nn.Module | Iterable[nn.Parameter], weight_decay: float, **options: object) -> list[dict]:
    """The course's weight-decay rule as AdamW groups: decay tensors with ``ndim >= 2``, not the 1-D ones.

    Conv kernels and weight matrices get ``weight_decay``; biases and normalisation scales and shifts get 0
    (decay would pull BatchNorm's γ and the biases towards zero without regularising anything: torchvision's
    reference recipes set ``norm_weight_decay=0``, timm's ``param_groups_weight_decay`` skips 1-D tensors).
    Only trainable parameters are kept; ``options`` (e.g. ``lr``) are copied into both groups, and an empty
    group is left out.
    """
    items = list(params.parameters()) if isinstance(params, nn.Module) else list(params)
    trainable = [p for p in items if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if p.ndim >= 2], "weight_decay": weight_decay, **options},
        {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0, **options},
    ]
    return [g for g in groups if g["params"]]


def param_groups(
    model: nn.Module, head: nn.Module, head_lr: float = 1e-3, backbone_lr: float = 1e-5, weight_decay: float = 1e-4
) -> list[dict]:
    """AdamW groups for full fine-tuning: the head at ``head_lr``, everything else at ``backbone_lr``.

    Every parameter lands in exactly one group (all are made trainable), and each part follows
    :func:`decay_groups`: ``weight_decay`` on tensors with ``ndim >= 2``, none on biases and norms.
    """
    head_ids = {id(p) for p in head.parameters()}
    for p in model.parameters():
        p.requires_grad_(True)
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    return [
        *decay_groups(head.parameters(), weight_decay, lr=head_lr, name="head"),
        *decay_groups(backbone, weight_decay, lr=backbone_lr, name="backbone"),
    ]


def freeze_bn_stats(model: nn.Module, include_trainable: bool = False) -> int:
    """Put every BatchNorm whose parameters are all frozen into eval mode (running stats stop updating).

    Call it after ``model.train()``: ``requires_grad=False`` alone does not stop BN from
    updating ``running_mean``/``running_var`` in train mode. ``include_trainable=True`` puts
    every BatchNorm in eval mode (its affine parameters still train on the pretrained statistics),
    the usual choice for fine-tuning with small batches. Returns how many layers it froze.
    """
    n = 0
    for m in model.modules():
        if isinstance(m, _BN) and (include_trainable or not any(p.requires_grad for p in m.parameters(recurse=False))):
            m.eval()
            n += 1
    return n


@dataclass
class History:
    """Per-epoch loss, accuracy and time of a training run."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[float]]:
        """The history as a plain dict (safe to save in a checkpoint)."""
        return asdict(self)

    @property
    def total_seconds(self) -> float:
        """Wall time of all epochs together."""
        return float(sum(self.seconds))


# ---------------------------------------------------------------- training loops


def train_linear_probe(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 32,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> tuple[nn.Linear, History]:
    """Train ``nn.Linear(D, num_classes)`` on fixed features with AdamW; returns the head and its history.

    Deterministic for a given ``seed`` (its own generator for init and shuffling).
    """
    g = torch.Generator().manual_seed(seed)
    head = nn.Linear(x.shape[1], num_classes)
    with torch.no_grad():
        bound = 1 / x.shape[1] ** 0.5
        head.weight.uniform_(-bound, bound, generator=g)
        head.bias.uniform_(-bound, bound, generator=g)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn, hist = nn.CrossEntropyLoss(), History()
    for _ in range(epochs):
        start, total, correct, loss_sum = time.perf_counter(), 0, 0, 0.0
        for idx in torch.randperm(len(x), generator=g).split(batch_size):
            logits = head(x[idx])
            loss = loss_fn(logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y[idx]).sum().item()
            total += len(idx)
        hist.train_loss.append(loss_sum / total)
        hist.train_acc.append(correct / total)
        if x_val is not None and y_val is not None:
            with torch.no_grad():
                logits = head(x_val)
                hist.val_loss.append(loss_fn(logits, y_val).item())
                hist.val_acc.append((logits.argmax(1) == y_val).float().mean().item())
        hist.seconds.append(time.perf_counter() - start)
    return head, hist


def _set_trainable(params: Iterable[nn.Parameter], flag: bool) -> None:
    for p in params:
        p.requires_grad_(flag)


def run_epoch(
    model: nn.Module,
    loader: DataLoader,
    device: torch.device,
    optimizer: torch.optim.Optimizer | None = None,
    scaler: torch.amp.GradScaler | None = None,
    amp: bool = False,
    desc: str = "",
    progress: bool = True,
) -> tuple[float, float]:
    """One pass over ``loader``: trains when ``optimizer`` is given, else evaluates. Returns (loss, accuracy)."""
    loss_fn = nn.CrossEntropyLoss()
    total, correct, loss_sum = 0, 0, 0.0
    use_amp = amp and device.type == "cuda"
    with torch.set_grad_enabled(optimizer is not None):
        for xb, yb in tqdm(loader, desc=desc, leave=False, disable=not progress):
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                logits = model(xb)
                loss = loss_fn(logits.float(), yb)
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None and scaler.is_enabled():
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    optimizer.step()
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
            total += len(yb)
    return loss_sum / max(total, 1), correct / max(total, 1)


def fit(
    model: nn.Module,
    train_loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    val_loader: DataLoader | None = None,
    device: torch.device | str | None = None,
    head: nn.Module | None = None,
    warmup_epochs: int = 0,
    amp: bool = True,
    freeze_bn: bool | str = True,
    progress: bool = True,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> History:
    """Train ``model`` for ``epochs`` and return its per-epoch :class:`History`.

    * ``warmup_epochs`` > 0 (needs ``head``): train only the head first, so the random head
      does not send large gradients into the pretrained backbone.
    * ``amp``: mixed precision (float16 autocast + GradScaler) on CUDA; ignored elsewhere.
    * ``freeze_bn``: BatchNorm layers whose parameters are frozen stay in eval mode; ``"all"``:
      every BatchNorm does (:func:`freeze_bn_stats` with ``include_trainable=True``); ``False``: none.
    """
    device = torch.device(device) if device is not None else model_device(model)
    if warmup_epochs and head is None:
        raise TrainingError("warmup_epochs needs head= (the module to train alone first)")
    if freeze_bn not in (True, False, "all"):
        raise TrainingError(f"freeze_bn={freeze_bn!r}: use True (frozen BatchNorm layers), 'all' or False")
    model.to(device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp and device.type == "cuda")
    head_ids = {id(p) for p in head.parameters()} if head is not None else set()
    others = [p for p in model.parameters() if id(p) not in head_ids]
    was_trainable = [p.requires_grad for p in others]
    hist = History()
    bar = tqdm(range(epochs), desc="epochs", disable=not progress)
    for epoch in bar:
        warm = epoch < warmup_epochs
        if warm:
            _set_trainable(others, False)
        else:
            for p, flag in zip(others, was_trainable):
                p.requires_grad_(flag)
        start = time.perf_counter()
        model.train()
        if freeze_bn:
            freeze_bn_stats(model, include_trainable=freeze_bn == "all")
        loss, acc = run_epoch(
            model, train_loader, device, optimizer, scaler, amp, desc="warm-up" if warm else "train", progress=progress
        )
        hist.train_loss.append(loss)
        hist.train_acc.append(acc)
        if scheduler is not None:
            scheduler.step()
        if val_loader is not None:
            model.eval()
            vloss, vacc = run_epoch(model, val_loader, device, amp=amp, desc="val", progress=progress)
            hist.val_loss.append(vloss)
            hist.val_acc.append(vacc)
        hist.seconds.append(time.perf_counter() - start)
        bar.set_postfix(loss=f"{loss:.3f}", val_acc=f"{hist.val_acc[-1]:.3f}" if hist.val_acc else "-")
    for p, flag in zip(others, was_trainable):
        p.requires_grad_(flag)
    model.eval()
    return hist
