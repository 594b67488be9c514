"""``python -m course_utils fetch``: pre-download every weight file and dataset into one cache.

An instructor runs it once where there is network, optionally into ``--dest DIR`` (a shared,
possibly read-only folder or a USB stick); learners then point ``TORCH_HOME`` and
``COURSE_DATA`` at it. Downloads are verified, atomic, locked and resumable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..core import settings
from ..core.errors import CourseError, UnknownModelError
from ..data import fashion_mnist
from ..data.datasets import REGISTRY, dataset_dir, dataset_info
from ..models import COURSE_MODELS, get_weights

__all__ = ["Item", "plan", "prefetch", "use_dest"]


@dataclass(frozen=True)
class Item:
    """One thing to fetch: its name, kind, size in MB, whether the cache already has it and where it comes from."""

    name: str
    kind: Literal["weights", "dataset"]
    mb: float
    cached: bool
    source: str


def _weights_item(name: str) -> Item | None:
    w = get_weights(name)
    return Item(name, "weights", w.size_mb, w.cached(), w.url) if w.url else None  # no URL: ships in a package


def _dataset_item(name: str) -> Item:
    info = dataset_info(name)
    cached = bool(info.bundled) or (settings.data_cache_dir() / "datasets" / info.name).is_dir()
    return Item(name, "dataset", (info.size or 0) / 2**20, cached, info.url or "bundled in data/")


def _fashion_mnist_item() -> Item:
    return Item(
        fashion_mnist.NAME,
        "dataset",
        fashion_mnist.DOWNLOAD_SIZE / 2**20,
        fashion_mnist.locate() is not None,
        f"torchvision's download (or apt-get install {fashion_mnist.DEBIAN_PACKAGE})",
    )


def plan(names: list[str] | None = None) -> list[Item]:
    """What ``fetch`` would handle: every course model's weights and every downloadable dataset by default."""
    if not names:
        names = list(COURSE_MODELS) + [n for n, info in REGISTRY.items() if not info.bundled] + [fashion_mnist.NAME]
    items = []
    for name in names:
        if name == fashion_mnist.NAME:
            items.append(_fashion_mnist_item())
            continue
        if name in REGISTRY:
            items.append(_dataset_item(name))
            continue
        try:
            item = _weights_item(name)
        except UnknownModelError:
            raise UnknownModelError(
                f"{name!r} is neither a model nor a dataset; datasets: {', '.join([*REGISTRY, fashion_mnist.NAME])}"
            ) from None
        if item is not None:
            items.append(item)
    return items


def use_dest(dest: str | Path) -> tuple[Path, Path]:
    """Point this process's caches into ``dest`` (``dest/torch`` and ``dest/data``); returns both."""
    import torch

    dest = Path(dest).expanduser().resolve()
    torch_home, data = dest / "torch", dest / "data"
    os.environ["TORCH_HOME"], os.environ["COURSE_DATA"] = str(torch_home), str(data)
    torch.hub.set_dir(str(torch_home / "hub"))
    return torch_home, data


def prefetch(names: list[str] | None = None, dry_run: bool = False, dest: str | Path | None = None) -> int:
    """Download (or with ``dry_run`` only list) ``names``; returns an exit status (1 when anything failed)."""
    if dest is not None:
        torch_home, data = use_dest(dest)
    items = plan(names)
    missing = [i for i in items if not i.cached]
    failed, got_mb = 0, 0.0
    for item in items:
        label = f"{item.kind:<8} {item.name:<20} {item.mb:8.1f} MB"
        if item.cached:
            print(f"cached     {label}")
        elif dry_run:
            print(f"would get  {label}  {item.source}")
        else:
            print(f"fetching   {label}", flush=True)
            try:
                if item.kind == "weights":
                    get_weights(item.name).download()
                elif item.name == fashion_mnist.NAME:
                    fashion_mnist.fetch()
                else:
                    dataset_dir(item.name)
                got_mb += item.mb
            except CourseError as exc:
                failed += 1
                print(f"FAILED     {item.name}: {exc}")
    if dry_run:
        summary = f"would download {sum(i.mb for i in missing):.1f} MB ({len(missing)} item(s))"
    else:
        summary = f"downloaded {got_mb:.1f} MB; {failed} item(s) failed" if failed else f"downloaded {got_mb:.1f} MB"
    print(f"{summary}; weights cache {settings.weights_dir()}, datasets {settings.data_cache_dir() / 'datasets'}")
    if dest is not None:
        print(f"learners use it with: TORCH_HOME={torch_home} COURSE_DATA={data}")
    return 1 if failed else 0
