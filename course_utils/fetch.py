"""``python -m course_utils fetch``: pre-download the course's pretrained weights into the cache."""

from __future__ import annotations

from .errors import CourseError
from .models import COURSE_MODELS, get_weights
from .weights import download, is_cached, weights_file


def fetch(names: list[str] | None = None, dry_run: bool = False) -> int:
    """Download (or with ``dry_run`` list) the weights of ``names``; returns an exit status."""
    names = list(names or [n for n in COURSE_MODELS if n != "efficientnet_lite0"])
    todo = [get_weights(n) for n in names if n != "efficientnet_lite0"]
    total = sum(float(w.meta.get("_file_size", 0)) for w in todo if not is_cached(w))
    failed = 0
    for w in todo:
        dest = weights_file(w)
        size = f"{float(w.meta.get('_file_size', 0)):.1f} MB"
        if is_cached(w):
            print(f"cached     {w}  {dest}")
        elif dry_run:
            print(f"would get  {w}  {size}  {w.url}")
        else:
            print(f"fetching   {w}  {size}")
            try:
                download(w.url, dest)
            except CourseError as exc:
                failed += 1
                print(f"FAILED     {w}: {exc}")
    print(f"{'to download' if dry_run else 'downloaded or cached'}: {total:.1f} MB into {weights_file(todo[0]).parent}"
          if todo else "nothing to fetch (efficientnet_lite0 ships with its package)")
    return 1 if failed else 0
