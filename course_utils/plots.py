"""Every figure of the course, in one module: one style, one way to draw, one way to show.

Each figure function returns a :class:`~matplotlib.figure.Figure` and accepts ``ax=None``: without it the
function makes its own figure, with it it draws into the given axes (a sequence of axes for figures with
several panels), so a figure can be part of a larger one. Notebooks show a figure by calling the function
as a cell's statement and ``plt.show()``. The style (:mod:`course_utils.core.style`) is installed by ``setup()``.
Helpers: :func:`plain_log_axis` (plain-number log ticks), :func:`place_labels` (labels that never overlap),
:func:`overlay` (a heat map over an image), :func:`smooth` (a running mean), :func:`figure_png`.
"""

from __future__ import annotations

import base64
import io
import math
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox
from PIL import Image

from .core.errors import EmbeddingError, FeatureMapError, GradCAMError, PlotError
from .core.style import MIN_TICK_PT, MIN_TITLE_PT
from .data.images import load_image
from .inspect.feature_maps import one_image_maps, top_channels

Axs = Axes | Sequence[Axes] | np.ndarray | None
Maps = Mapping[str, torch.Tensor]


def _axes(ax: Axs, n: int, **subplots: object) -> tuple[Figure, list[Axes]]:
    """The figure and ``n`` axes to draw on: new ones (``plt.subplots(**subplots)``) or the ``n`` given ones."""
    if ax is None:
        fig, made = plt.subplots(squeeze=False, **subplots)
        return fig, list(made.flat)
    given = [ax] if isinstance(ax, Axes) else list(np.asarray(ax, dtype=object).flat)
    if len(given) != n or not all(isinstance(a, Axes) for a in given):
        raise PlotError(f"this figure draws on {n} axes; got {len(given)}: pass ax=None or {n} matplotlib Axes")
    return given[0].figure, given


def _finish(fig: Figure, own: bool) -> Figure:
    if own:
        fig.tight_layout()
    return fig


def figure_png(fig: Figure, dpi: int = 72) -> str:
    """The figure as base64 PNG text, as notebooks store images (the figure is closed afterwards)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def smooth(values: Sequence[float], window: int = 10) -> list[float]:
    """Running mean over the last ``window`` values (shorter at the start), for readable loss curves."""
    if not isinstance(window, int) or window < 1:
        raise PlotError(f"window={window!r}: must be a positive whole number")
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plain_log_axis(axis: Axis) -> None:
    """Ticks of a log axis as plain numbers at 1-2-5 steps (``2``, ``20``, ``50`` ms), never ``2×10¹``."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    lo, hi = sorted(axis.get_view_interval())
    lo = max(lo, 1e-12)
    ticks = [
        m * 10.0**e
        for e in range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1)
        for m in (1, 2, 5)
        if lo <= m * 10.0**e <= hi
    ]
    if len(ticks) > 8:
        ticks = [t for t in ticks if f"{t:.0e}"[0] in "15"]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def _renderer(fig: Figure):
    fig.canvas.draw()
    get = getattr(fig.canvas, "get_renderer", None)
    return get() if get is not None else fig._get_renderer()


def _overlap(a: Bbox, b: Bbox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _outside(box: Bbox, frame: Bbox) -> float:
    inside = _overlap(box, frame)
    return box.width * box.height - inside


def _distance(px: float, py: float, box: Bbox) -> float:
    dx = max(box.x0 - px, 0.0, px - box.x1)
    dy = max(box.y0 - py, 0.0, py - box.y1)
    return float(np.hypot(dx, dy))


def _candidates():
    """Label offsets (points) with their alignment, nearest first: right, left, above, below, then diagonals."""
    directions = [(1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1), (0, 1), (0, -1)]
    for radius in (7, 16, 28, 42):
        for dx, dy in directions:
            ha = {1: "left", -1: "right", 0: "center"}[dx]
            va = {1: "bottom", -1: "top", 0: "center"}[dy]
            yield (dx * radius, dy * radius * 0.8), ha, va, radius > 7


def place_labels(
    ax: Axes, labels: Sequence[str], xs: Sequence[float], ys: Sequence[float], fontsize: float | None = None
) -> list:
    """Annotate point i with ``labels[i]``, choosing for each label an offset that overlaps no other label,
    no point and no legend, and stays inside the axes (a small greedy placer); a label set further
    away gets a thin leader line to its point. Call it after the layout is final (after ``tight_layout``).
    Returns the annotations.
    """
    fig = ax.figure
    renderer = _renderer(fig)
    frame = ax.get_window_extent(renderer).padded(-2)
    pix = ax.transData.transform(np.column_stack([xs, ys])) if len(xs) else np.zeros((0, 2))
    radius = 7.0 * fig.dpi / 72
    markers = [Bbox.from_extents(px - radius, py - radius, px + radius, py + radius) for px, py in pix]
    legend = ax.get_legend()
    fixed = [legend.get_window_extent(renderer)] if legend is not None else []
    placed: list[Bbox] = []
    texts = []
    size = fontsize or matplotlib.rcParams["xtick.labelsize"]
    order = sorted(range(len(labels)), key=lambda i: (pix[i][0], -pix[i][1]))
    for i in order:
        best = None
        for offset, ha, va, leader in _candidates():
            text = ax.annotate(
                labels[i],
                (xs[i], ys[i]),
                textcoords="offset points",
                xytext=offset,
                ha=ha,
                va=va,
                fontsize=size,
                zorder=4,
            )
            box = text.get_window_extent(renderer).padded(1.5)
            others = [m for j, m in enumerate(markers) if j != i]
            score = sum(_overlap(box, b) for b in placed + others + fixed) + 10 * _outside(box, frame)
            own = _distance(*pix[i], box)
            if leader:  # the leader line must not cross another label
                cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
                steps = [
                    (pix[i][0] + t * (cx - pix[i][0]), pix[i][1] + t * (cy - pix[i][1]))
                    for t in np.linspace(0.1, 0.9, 9)
                ]
                score += 20.0 * sum(b.contains(x, y) for b in placed for x, y in steps)
            if not leader and any(_distance(*pix[j], box) < own + 3 for j in range(len(pix)) if j != i):
                score += 50.0  # next to another point: a reader would pair the label with that one
            if best is None or score < best[0]:
                if best is not None:
                    best[1].remove()
                best = (score, text, box, leader)
            else:
                text.remove()
            if score == 0:
                break
        _, text, box, leader = best
        if leader:
            text.remove()
            text = ax.annotate(
                labels[i],
                (xs[i], ys[i]),
                textcoords="offset points",
                xytext=text.get_position(),
                ha=text.get_ha(),
                va=text.get_va(),
                fontsize=size,
                zorder=4,
                arrowprops={"arrowstyle": "-", "color": "0.45", "lw": 0.7, "shrinkA": 1, "shrinkB": 5},
            )
        text.set_in_layout(False)
        placed.append(box)
        texts.append(text)
    return texts


def _as_displayable(img: Image.Image | np.ndarray | torch.Tensor) -> np.ndarray | Image.Image:
    if isinstance(img, torch.Tensor):
        arr = img.detach().cpu().float()
        if arr.ndim == 3 and arr.shape[0] in (1, 3):
            arr = arr.permute(1, 2, 0)
        arr = arr.numpy()
        lo, hi = arr.min(), arr.max()
        return (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    return img


def topk_bars(preds: Sequence[tuple[str, float]], title: str | None = None, ax: Axs = None) -> Figure:
    """Horizontal bars of ``(label, probability)`` pairs, best at the top; values stay inside the frame."""
    fig, (ax,) = _axes(ax, 1, figsize=(5, 3))
    labels = [p[0] for p in preds][::-1]
    probs = [float(p[1]) for p in preds][::-1]
    ax.barh(range(len(probs)), probs, color="#4c72b0")
    ax.set_yticks(range(len(probs)), labels)
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    for y, p in enumerate(probs):
        inside = p > 0.75  # a long bar carries its value inside, in white, so it cannot run past the frame
        ax.text(
            p - 0.02 if inside else p + 0.02,
            y,
            f"{p:.1%}",
            va="center",
            ha="right" if inside else "left",
            color="white" if inside else "black",
            fontsize=MIN_TICK_PT + 0.5,
        )
    if title:
        ax.set_title(title)
    return fig


def show_predictions(
    image: Image.Image | np.ndarray | torch.Tensor,
    preds: Sequence[tuple[str, float]],
    title: str | None = None,
    ax: Axs = None,
) -> Figure:
    """The image on the left, its top-k probabilities on the right (``ax``: two axes)."""
    fig, (left, right) = _axes(ax, 2, ncols=2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [1, 1.3]})
    left.imshow(_as_displayable(image))
    left.axis("off")
    if title:
        left.set_title(title)
    topk_bars(preds, ax=right)
    return _finish(fig, ax is None)


def image_grid(
    images: Sequence[Image.Image | np.ndarray | torch.Tensor],
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    size: float = 2.5,
    ax: Axs = None,
) -> Figure:
    """Images in a grid with optional titles (wrapped to the column width, at least 11 pt); ``ax``: one per image."""
    if not len(images):
        raise PlotError("image_grid needs at least one image")
    ncols = max(1, min(ncols, len(images)))
    nrows = -(-len(images) // ncols)
    n = len(images) if ax is not None else nrows * ncols
    fig, axes = _axes(ax, n, nrows=nrows, ncols=ncols, figsize=(size * ncols, size * nrows + 0.3))
    for i, a in enumerate(axes):
        a.axis("off")
        if i < len(images):
            a.imshow(_as_displayable(images[i]), cmap="gray" if np.ndim(images[i]) == 2 else None)
            if titles is not None and i < len(titles):
                a.set_title(textwrap.fill(str(titles[i]), width=max(12, int(size * 9))), fontsize=MIN_TITLE_PT)
    return _finish(fig, ax is None)


def similarity_heatmap(
    sim: torch.Tensor, labels: Sequence[str], title: str | None = None, annotate: bool = False, ax: Axs = None
) -> Figure:
    """A heat map of a square or rectangular similarity matrix with ``labels`` on both axes."""
    n, m = sim.shape
    if len(labels) != n:
        raise EmbeddingError(f"{len(labels)} labels for a {n}×{m} matrix: give one label per row")
    col_labels = labels if m == n else [str(j) for j in range(m)]
    fig, (ax_,) = _axes(ax, 1, figsize=(1.5 + 0.32 * m, 1.2 + 0.32 * n))
    im = ax_.imshow(sim.detach().cpu().numpy(), cmap="viridis", vmin=min(0.0, float(sim.min())), vmax=1.0)
    ax_.set_xticks(range(m), col_labels, rotation=90, fontsize=7)
    ax_.set_yticks(range(n), labels, fontsize=7)
    if annotate:
        for i in range(n):
            for j in range(m):
                ax_.text(j, i, f"{float(sim[i, j]):.2f}", ha="center", va="center", fontsize=6, color="w")
    fig.colorbar(im, ax=ax_, fraction=0.04, label="cosine similarity")
    if title:
        ax_.set_title(title)
    return _finish(fig, ax is None)


def plot_confusion_matrix(
    cm: torch.Tensor, classes: Sequence[str], title: str = "confusion matrix", ax: Axs = None
) -> Figure:
    """The confusion matrix (rows: true class, columns: predicted) as a heat map with counts in the cells."""
    fig, (ax_,) = _axes(ax, 1, figsize=(0.8 * len(classes) + 2.4, 0.8 * len(classes) + 1.8))
    ax_.imshow(cm.numpy(), cmap="Blues")
    ax_.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax_.set_yticks(range(len(classes)), classes)
    ax_.set_xlabel("predicted")
    ax_.set_ylabel("true")
    top = cm.max().item() or 1
    for i in range(len(classes)):
        for j in range(len(classes)):
            v = cm[i, j].item()
            ax_.text(j, i, str(v), ha="center", va="center", color="white" if v > top / 2 else "black")
    ax_.set_title(title)
    return _finish(fig, ax is None)


def plot_misclassified(
    samples: Sequence[tuple[object, int]],
    logits_or_preds: torch.Tensor,
    targets: torch.Tensor,
    classes: Sequence[str],
    max_images: int = 8,
    ax: Axs = None,
) -> Figure | None:
    """A grid of wrongly classified images titled ``true → predicted``; ``None`` when there are none.

    ``samples`` are the ``(path, label)`` pairs in the same order as the predictions.
    """
    preds = logits_or_preds.argmax(1) if logits_or_preds.ndim == 2 else logits_or_preds
    wrong = (preds != targets).nonzero().flatten().tolist()[:max_images]
    if not wrong:
        return None
    images = [load_image(samples[i][0]) for i in wrong]
    titles = [f"{classes[targets[i]]} → {classes[preds[i]]}" for i in wrong]
    return image_grid(images, titles, ncols=min(4, len(images)), ax=ax)


def plot_history(histories: dict[str, object] | object, title: str = "training curves", ax: Axs = None) -> Figure:
    """Loss and accuracy per epoch of one :class:`~course_utils.train.History` or a dict of them (``ax``: two).

    One colour per run: solid lines for training, dashed for validation; one legend below both plots.
    """
    if not isinstance(histories, dict):
        histories = {"": histories}
    fig, (ax_loss, ax_acc) = _axes(ax, 2, ncols=2, figsize=(10, 3.6))
    colours = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for i, (name, h) in enumerate(histories.items()):
        epochs = range(1, len(h.train_loss) + 1)
        label, colour = f"{name} " if name else "", colours[i % len(colours)]
        for a, train, val in ((ax_loss, h.train_loss, h.val_loss), (ax_acc, h.train_acc, h.val_acc)):
            a.plot(epochs, train, "o-", color=colour, label=f"{label}train")
            if val:
                a.plot(epochs, val, "s--", color=colour, label=f"{label}val")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.02))
    for a in (ax_loss, ax_acc):
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.grid(alpha=0.3)
    handles, labels = ax_loss.get_legend_handles_labels()
    if ax is None:
        fig.suptitle(title)
        fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(labels), 4), frameon=False)
    return fig


def plot_few_shot(
    curves: Mapping[str, torch.Tensor],
    shots: Sequence[int],
    chance: float | None = None,
    title: str | None = None,
    ax: Axs = None,
) -> Figure:
    """Accuracy against training images per class (log axis): one line per method, the mean over seeds, and a
    band from the worst to the best seed. ``curves``: ``{name: tensor [len(shots), seeds]}``."""
    if not curves:
        raise PlotError("plot_few_shot needs at least one curve")
    for name, acc in curves.items():
        if acc.ndim != 2 or acc.shape[0] != len(shots):
            raise PlotError(
                f"curve {name!r} has shape {tuple(acc.shape)}; expected [len(shots), seeds] = [{len(shots)}, …]"
            )
    fig, (ax_,) = _axes(ax, 1, figsize=(7.5, 4.2))
    for name, acc in curves.items():
        acc = acc.detach().float().cpu()
        (line,) = ax_.plot(list(shots), acc.mean(1).tolist(), "o-", label=f"{name} (mean of {acc.shape[1]} draws)")
        lo, hi = acc.min(1).values.tolist(), acc.max(1).values.tolist()
        ax_.fill_between(list(shots), lo, hi, color=line.get_color(), alpha=0.2)
    if chance is not None:
        ax_.axhline(chance, color="grey", ls=":", label="chance")
    ax_.set_xscale("log")
    plain_log_axis(ax_.xaxis)
    ax_.set(xlabel="training images per class", ylabel="test accuracy", ylim=(0, 1.02))
    ax_.grid(alpha=0.3)
    ax_.legend(loc="lower right")
    ax_.set_title(title or "Few-shot curve: mean and min–max over draws")
    return _finish(fig, ax is None)


def plot_seed_runs(
    rows: Mapping[str, Sequence[float]], title: str | None = None, xlabel: str = "test accuracy", ax: Axs = None
) -> Figure:
    """One row per method: every seed as a dot, the mean as a bar from zero, the min–max range as a line."""
    if not rows:
        raise PlotError("plot_seed_runs needs at least one method")
    names = list(rows)
    fig, (ax_,) = _axes(ax, 1, figsize=(9, 0.45 * len(names) + 1.4))
    for i, name in enumerate(names):
        vals = [float(v) for v in rows[name]]
        if not vals:
            raise PlotError(f"method {name!r} has no value")
        mean = sum(vals) / len(vals)
        ax_.barh(i, mean, color="#4c72b0", alpha=0.35, height=0.6)
        ax_.plot([min(vals), max(vals)], [i, i], color="#4c72b0", lw=2)
        ax_.plot(vals, [i] * len(vals), "o", color="#4c72b0", ms=5)
        ax_.text(max(vals) + 0.015, i, f"{mean:.1%}", ha="left", va="center", fontsize=MIN_TICK_PT)
    ax_.set_yticks(range(len(names)), names)
    ax_.invert_yaxis()
    ax_.set_xlim(0, 1)
    ax_.set_xlabel(xlabel)
    ax_.grid(alpha=0.3, axis="x")
    ax_.set_title(title or "Each seed (dots), the mean (bar) and the min–max range (line)")
    return _finish(fig, ax is None)


def plot_gradient_norms(
    runs: dict[str, Sequence[tuple[str, float]]], title: str | None = None, ax: Axs = None
) -> Figure:
    """Per-layer gradient norms of several models (``[(layer, norm), …]`` each), log scale, input side left."""
    fig, (ax_,) = _axes(ax, 1, figsize=(7, 3.5))
    for label, norms in runs.items():
        ax_.plot(range(len(norms)), [n for _, n in norms], marker="o", markersize=3, label=label)
    ax_.set_yscale("log")
    ax_.set_xlabel("layer (input → output)")
    ax_.set_ylabel("‖∂loss/∂W‖")
    ax_.set_title(title or "Gradient norm per layer at initialisation")
    ax_.grid(alpha=0.3, which="both")
    ax_.legend()
    return _finish(fig, ax is None)


def plot_losses(
    histories: dict[str, Sequence[float]], window: int = 10, title: str | None = None, ax: Axs = None
) -> Figure:
    """Training-loss curves (raw, faint, and smoothed over ``window`` steps with :func:`smooth`)."""
    fig, (ax_,) = _axes(ax, 1, figsize=(7, 3.5))
    for label, losses in histories.items():
        (line,) = ax_.plot(smooth(losses, window), label=label)
        ax_.plot(losses, color=line.get_color(), alpha=0.2, linewidth=0.8)
    ax_.set_xlabel("training step")
    ax_.set_ylabel("training loss")
    ax_.set_title(title or "Training loss")
    ax_.grid(alpha=0.3)
    ax_.legend()
    return _finish(fig, ax is None)


def plot_seed_bands(
    panels: Mapping[str, Mapping[str, Sequence[Sequence[float]]]],
    ylabel: str | Sequence[str] = "validation accuracy",
    title: str | None = None,
    ncols: int = 3,
    ax: Axs = None,
) -> Figure:
    """One panel per comparison, one curve per setting: the mean over seeds per epoch, with the min–max band.

    ``panels`` is ``{panel title: {setting: [per-epoch values of seed 0, of seed 1, …]}}``; ``ylabel`` is one
    label for every panel or one per panel; ``ax``: one axes per panel.
    """
    if not panels or not all(panels.values()):
        raise PlotError("plot_seed_bands needs at least one panel, each with at least one setting")
    labels = [ylabel] * len(panels) if isinstance(ylabel, str) else list(ylabel)
    if len(labels) != len(panels):
        raise PlotError(f"{len(labels)} y labels for {len(panels)} panels: give one label, or one per panel")
    n = len(panels)
    cols = max(1, min(ncols, n))
    rows = math.ceil(n / cols)
    if ax is None:
        fig, made = plt.subplots(rows, cols, squeeze=False, figsize=(4.2 * cols, 3.2 * rows))
        axes = list(made.flat)
        for extra in axes[n:]:
            extra.set_visible(False)
        axes = axes[:n]
    else:
        fig, axes = _axes(ax, n)
    for a, (name, settings), label in zip(axes, panels.items(), labels):
        for setting, seeds in settings.items():
            values = np.asarray(seeds, dtype=float)
            if values.ndim != 2 or values.shape[1] == 0:
                raise PlotError(f"{name} / {setting}: give a list of per-epoch lists, one per seed, of equal length")
            epochs = np.arange(1, values.shape[1] + 1)
            (line,) = a.plot(epochs, values.mean(0), marker="o", markersize=3, label=f"{setting} ({len(values)} seeds)")
            a.fill_between(epochs, values.min(0), values.max(0), color=line.get_color(), alpha=0.2, linewidth=0)
        a.set(title=name, xlabel="epoch", ylabel=label)
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.grid(alpha=0.3)
        a.legend()
    if ax is None:
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def _front(points: dict[str, tuple[float, float]]) -> list[str]:
    """Names no other point beats on both x (lower) and y (higher), by x."""

    def dominated(a: tuple[float, float]) -> bool:
        return any(b[0] <= a[0] and b[1] >= a[1] and b != a for b in points.values())

    return sorted((n for n, p in points.items() if not dominated(p)), key=lambda n: points[n][0])


def plot_tradeoff(
    points: dict[str, tuple[float, float]],
    xlabel: str = "latency (ms)",
    ylabel: str = "ImageNet acc@1 (%)",
    title: str | None = None,
    logx: bool = True,
    ax: Axs = None,
) -> Figure:
    """Scatter of ``{name: (x, y)}`` with the Pareto front (lower x, higher y) as a step line.

    The x axis reads in plain numbers (1, 2, 5, 10, … ms, no powers of ten) and every label is placed
    beside its point without overlapping another label, a point or the legend, inside the axes.
    """
    if not points:
        raise PlotError("plot_tradeoff needs at least one point")
    front = _front(points)
    fig, (ax_,) = _axes(ax, 1, figsize=(8, 4.8))
    for name, (x, y) in points.items():
        on = name in front
        ax_.scatter(x, y, s=60 if on else 35, color="#c44e52" if on else "#4c72b0", zorder=3)
    xs, ys = zip(*(points[n] for n in front))
    ax_.step(xs, ys, where="post", color="#c44e52", alpha=0.6, label="Pareto front")
    allx, ally = [p[0] for p in points.values()], [p[1] for p in points.values()]
    if logx:
        ax_.set_xscale("log")
        lo, hi = math.log10(min(allx)), math.log10(max(allx))
        pad = max(0.15, 0.2 * (hi - lo))
        ax_.set_xlim(10 ** (lo - pad), 10 ** (hi + 2 * pad))  # room on the right for the slowest model's label
        plain_log_axis(ax_.xaxis)
    else:
        pad = max(1e-9, 0.2 * (max(allx) - min(allx)) or abs(allx[0]) * 0.2 or 1.0)
        ax_.set_xlim(min(allx) - pad, max(allx) + pad)
    ypad = max(0.5, 0.15 * (max(ally) - min(ally)))
    ax_.set_ylim(min(ally) - 1.6 * ypad, max(ally) + ypad)
    ax_.set_xlabel(xlabel)
    ax_.set_ylabel(ylabel)
    ax_.grid(alpha=0.3, which="both")
    ax_.legend(loc="lower right")
    ax_.set_title(title or "accuracy vs latency (up and to the left is better)")
    _finish(fig, ax is None)
    place_labels(ax_, list(points), allx, ally)
    return fig


def overlay(image: np.ndarray | Image.Image, cam: torch.Tensor, alpha: float = 0.45, cmap: str = "jet") -> np.ndarray:
    """``image`` (``[H, W, 3]`` in ``[0, 1]`` or PIL) blended with a colour-mapped map (e.g. a CAM) of the same size."""
    img = np.asarray(image, dtype=np.float32)
    img = np.clip(img / 255.0 if isinstance(image, Image.Image) or img.max() > 1.5 else img, 0.0, 1.0)
    heat = cam.detach().float().cpu().numpy()
    if heat.shape != img.shape[:2]:
        raise GradCAMError(
            f"the CAM {heat.shape} and the image {img.shape[:2]} differ in size; "
            "use the preprocessed image (to_display) the CAM was computed on"
        )
    coloured = matplotlib.colormaps[cmap](heat)[..., :3]
    return np.clip((1 - alpha) * img + alpha * coloured, 0.0, 1.0)


def show_gradcam(
    images: Sequence[np.ndarray],
    cams: Sequence[torch.Tensor],
    titles: Sequence[str] | None = None,
    alpha: float = 0.45,
    size: float = 3.0,
    ax: Axs = None,
) -> Figure:
    """Each image above its Grad-CAM overlay (``ax``: 2 × N axes, the images' row first)."""
    n = len(images)
    if n == 0 or n != len(cams):
        raise GradCAMError(f"show_gradcam needs as many CAMs as images (got {n} images, {len(cams)} CAMs)")
    width = size * n * images[0].shape[1] / images[0].shape[0]
    fig, axes = _axes(ax, 2 * n, nrows=2, ncols=n, figsize=(width, 2 * size))
    for i in range(n):
        axes[i].imshow(images[i])
        axes[n + i].imshow(overlay(images[i], cams[i], alpha))
        if titles is not None and i < len(titles):
            axes[i].set_title(titles[i])
        for a in (axes[i], axes[n + i]):
            a.axis("off")
    return _finish(fig, ax is None)


def plot_top_channels(
    maps: Maps,
    k: int = 8,
    image: np.ndarray | Image.Image | None = None,
    title: str | None = None,
    size: float = 1.15,
    ax: Axs = None,
) -> Figure:
    """A grid: one row per layer, its ``k`` most activated channels (each scaled to its own range).

    ``maps`` is ``{layer: [C, h, w]}`` for one image (``[1, C, h, w]`` works too); ``image`` is drawn at the
    left of the first row. Each row is headed by its layer and shape; the figure is at most 9 inches wide so
    that its text stays readable on screen. ``ax``: one per cell, ``len(maps) × (k + 1 if image else k)``.
    """
    if not maps:
        raise FeatureMapError("plot_top_channels needs at least one layer's maps")
    extra = 1 if image is not None else 0
    cols = k + extra
    if ax is None:
        width = min(9.0, size * cols)
        fig = plt.figure(
            figsize=(width, (width / cols + 0.55) * len(maps) + (0.4 if title else 0)), layout="constrained"
        )
        rows = list(np.atleast_1d(fig.subfigures(len(maps), 1)))
        grid = [list(np.atleast_1d(row.subplots(1, cols))) for row in rows]
    else:
        fig, flat = _axes(ax, len(maps) * cols)
        rows, grid = [None] * len(maps), [flat[r * cols : (r + 1) * cols] for r in range(len(maps))]
    for r, (row, axes, (name, fmap)) in enumerate(zip(rows, grid, maps.items())):
        fmap = one_image_maps(fmap, name)
        for a in axes:
            a.axis("off")
        if extra and r == 0:
            axes[0].imshow(image)
            axes[0].set_title("input")
        header = f"{name}: {fmap.shape[0]} channels of {fmap.shape[1]}×{fmap.shape[2]}"
        if row is not None:
            row.suptitle(header, x=0.01, ha="left", fontsize=plt.rcParams["axes.labelsize"])
        for col, c in enumerate(top_channels(fmap, k)):
            axes[col + extra].imshow(fmap[c].numpy(), cmap="viridis")
            axes[col + extra].set_title(f"#{c}" if row is not None or col else f"{header}\n#{c}", loc="left")
    if title:
        fig.suptitle(title)
    return fig


def plot_channel(
    maps_by_image: Mapping[str, Maps],
    image_name: str,
    layer: str,
    channel: int,
    images: Mapping[str, np.ndarray | Image.Image] | None = None,
    ax: Axs = None,
) -> Figure:
    """One channel of one layer for one image, beside the image when ``images`` has it (``ax``: one or two)."""
    if image_name not in maps_by_image:
        raise FeatureMapError(f"no image {image_name!r}; choose one of {', '.join(maps_by_image)}")
    maps = maps_by_image[image_name]
    if layer not in maps:
        raise FeatureMapError(f"no layer {layer!r}; choose one of {', '.join(maps)}")
    fmap = one_image_maps(maps[layer], layer)
    if not 0 <= channel < fmap.shape[0]:
        raise FeatureMapError(f"{layer} has channels 0..{fmap.shape[0] - 1}, not {channel}")
    show_image = images is not None and image_name in images
    fig, axes = _axes(ax, 1 + show_image, ncols=1 + show_image, figsize=(6.4 if show_image else 3.2, 3.2))
    if show_image:
        axes[0].imshow(images[image_name])
        axes[0].set_title(image_name)
    im = axes[-1].imshow(fmap[channel].numpy(), cmap="viridis")
    axes[-1].set_title(f"{layer} · channel {channel} · mean {float(fmap[channel].mean()):.2f}")
    fig.colorbar(im, ax=axes[-1], fraction=0.046)
    for a in axes:
        a.axis("off")
    return _finish(fig, ax is None)
