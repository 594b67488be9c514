"""Command line: ``python -m course_utils {predict,fetch,doctor}``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import CourseError

__all__ = ["build_parser", "main"]


def _predict(args: argparse.Namespace) -> int:
    from ..data.images import image_files
    from ..models import load_classifier, predict

    clf = load_classifier(args.model, quiet=True)
    if not clf.pretrained and not args.allow_random:
        print(
            f"error: {args.model} has no pretrained weights here (offline and not cached), so its "
            "predictions would be meaningless; use --model efficientnet_lite0, fetch the weights, "
            "or pass --allow-random",
            file=sys.stderr,
        )
        return 2
    path = Path(args.path)
    if path.is_dir():  # a folder: one block per image, headed by its file name
        for file, preds in zip(image_files(path), predict(clf, path, k=args.top)):
            print(f"# {file.name}")
            print("\n".join(f"{label}\t{prob:.4f}" for label, prob, _ in preds))
        return 0
    for label, prob, _ in predict(clf, path, k=args.top)[0]:
        print(f"{label}\t{prob:.4f}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from .prefetch import prefetch

    if args.all and args.names:
        print("error: give --all or names, not both", file=sys.stderr)
        return 2
    return prefetch(args.names or None, dry_run=args.dry_run, dest=args.dest)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the command line."""
    parser = argparse.ArgumentParser(prog="python -m course_utils", description="ResNet & MobileNet course helpers")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="print the top-K ImageNet labels of an image (label<TAB>probability)")
    p.add_argument("path", help="image file, or a folder of images")
    p.add_argument(
        "--model",
        default="efficientnet_lite0",
        help="classifier name (default efficientnet_lite0, which works offline; e.g. resnet50)",
    )
    p.add_argument("--top", type=int, default=5, help="how many labels (default 5)")
    p.add_argument("--allow-random", action="store_true", help="print predictions even from random weights")
    p.set_defaults(func=_predict)
    f = sub.add_parser("fetch", help="download every weight file and dataset the course uses (workshop prep)")
    f.add_argument("names", nargs="*", help="model or dataset names (default: everything, as --all)")
    f.add_argument("--all", action="store_true", help="every course model's weights and every dataset")
    f.add_argument("--dest", help="cache folder to fill (DIR/torch for TORCH_HOME, DIR/data for COURSE_DATA)")
    f.add_argument("--dry-run", action="store_true", help="list items and total size without touching the network")
    f.set_defaults(func=_fetch)
    d = sub.add_parser("doctor", help="report versions, device, cached weights, offline mode, widgets")
    d.set_defaults(func=lambda args: __import__("course_utils.cli.doctor", fromlist=["main"]).main())
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; course errors become one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    if getattr(args, "top", 1) < 1:
        print("error: --top must be at least 1", file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
