"""course_utils.lessons.scratch (notebook 10): recipes and schedules, evaluation, one training run on real
Fashion-MNIST, the grid over seeds, the verdict of a comparison, and the figure of seed bands."""

from __future__ import annotations

import math
import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course_utils.core.errors import ExperimentError, PlotError  # noqa: E402
from course_utils.data import fashion_mnist as fm  # noqa: E402
from course_utils.data.tensors import per_class, split_off  # noqa: E402
from course_utils.lessons import scratch  # noqa: E402
from course_utils.measure import differs  # noqa: E402
from course_utils.plots import plot_seed_bands  # noqa: E402

# CI installs the package (.ci/run), so there a missing package fails these tests instead of skipping them.
needs_data = pytest.mark.skipif(
    fm.locate() is None and not os.environ.get("CI"),
    reason=f"Fashion-MNIST is not on this machine (sudo apt-get install {fm.DEBIAN_PACKAGE})",
)


def test_recipe_validates_and_setup_routes_changes():
    with pytest.raises(ExperimentError, match="schedule"):
        scratch.Recipe(schedule="cosine-ish")
    with pytest.raises(ExperimentError, match="label_smoothing"):
        scratch.Recipe(label_smoothing=1.0)
    with pytest.raises(ExperimentError, match="padding"):
        scratch.Recipe(padding=-1)
    setup = scratch.Setup("residual", 8, 1).but(block="plain", padding=2, epochs=5)
    assert (setup.block, setup.recipe.padding, setup.recipe.epochs) == ("plain", 2, 5)
    with pytest.raises(ExperimentError, match="unknown"):
        setup.but(colour="blue")


def test_make_scheduler_one_cycle_and_constant():
    def lrs(schedule: str, total: int = 40) -> list[float]:
        opt = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=0.01)
        sched = scratch.make_scheduler(opt, scratch.Recipe(lr=0.01, schedule=schedule, warmup=0.25), total)
        out = []
        for _ in range(total):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    one = lrs("onecycle")
    assert one[0] == pytest.approx(0.01 / 25) and one[-1] < 1e-4
    assert max(one) == pytest.approx(0.01, rel=0.01) and 8 <= one.index(max(one)) <= 10  # peak after 25 % of steps
    assert lrs("constant") == [0.01] * 40
    with pytest.raises(ExperimentError, match="more steps"):
        lrs("onecycle", total=6)


def test_evaluate_restores_train_mode_and_counts_correctly():
    torch.manual_seed(0)
    net = scratch.SmallResNet("residual", 4, 1).train()
    images = torch.randint(0, 256, (30, 1, 28, 28), dtype=torch.uint8)
    labels = torch.randint(10, (30,))
    loss, acc = scratch.evaluate(net, images, labels, batch_size=7)
    assert net.training
    with torch.no_grad():
        logits = net.eval()(images.float() / 255)
    assert acc == pytest.approx((logits.argmax(1) == labels).float().mean().item())
    assert loss == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-5)


# --------------------------------------------------------------------------- training on real data


@pytest.fixture(scope="module")
def tiny():
    train, test = fm.load_fashion_mnist("train"), fm.load_fashion_mnist("test")
    return scratch.Split.make(train, test, val_per_class=10, train_per_class=30, test_per_class=10)


@needs_data
def test_split_is_stratified_and_validation_is_disjoint(tiny):
    train = fm.load_fashion_mnist("train")
    assert len(tiny.train_labels) == 300 and len(tiny.val_labels) == 100 and len(tiny.test_labels) == 100
    assert torch.bincount(tiny.train_labels).tolist() == [30] * 10
    assert torch.bincount(tiny.val_labels).tolist() == [10] * 10
    everything = scratch.Split.make(train, fm.load_fashion_mnist("test"), val_per_class=10)
    assert len(everything.train_labels) == 60_000 - 100 and len(everything.test_labels) == 10_000
    rest, val = split_off(train.labels, 10, seed=0)
    drawn = per_class(train.labels, 30, seed=1, exclude=val)
    assert torch.equal(tiny.train_images, train.images[drawn]) and torch.equal(tiny.val_images, train.images[val])
    assert not set(drawn.tolist()) & set(val.tolist()) and set(drawn.tolist()) <= set(rest.tolist())
    assert "train 300" in repr(tiny)


@needs_data
def test_train_is_deterministic_records_every_epoch_and_learns(tiny):
    setup = scratch.Setup("residual", 8, 1, scratch.Recipe(epochs=3, batch_size=25, lr=4e-3))
    probe = (tiny.train_images[:32].float() / 255, tiny.train_labels[:32])
    a = scratch.train(setup.build(0), tiny, setup.recipe, seed=0, probe=probe)
    b = scratch.train(setup.build(0), tiny, setup.recipe, seed=0)
    c = scratch.train(setup.build(1), tiny, setup.recipe, seed=1)
    assert a.train_loss == b.train_loss and a.val_acc == b.val_acc and a.test_acc == b.test_acc
    assert a.train_loss != c.train_loss
    assert len(a.train_loss) == len(a.train_acc) == len(a.val_acc) == 3 and len(a.grad_norms) == 4
    assert a.train_loss[-1] < a.train_loss[0] and 0.0 <= a.test_acc <= 1.0 and a.test_acc > 0.2  # chance is 0.1
    assert a.images == 3 * 300 and a.images_per_second > 0 and not b.grad_norms


@needs_data
def test_train_with_augmentation_smoothing_and_constant_lr_runs(tiny):
    setup = scratch.Setup(
        "preact",
        4,
        1,
        scratch.Recipe(
            epochs=1, batch_size=50, padding=2, label_smoothing=0.1, schedule="constant", channels_last=False
        ),
    )
    run = scratch.train(setup.build(0), tiny, setup.recipe, seed=0, test=False)
    assert math.isnan(run.test_acc) and len(run.val_acc) == 1
    with pytest.raises(ExperimentError, match="no batch"):
        scratch.train(setup.build(0), tiny, scratch.Recipe(batch_size=500), seed=0)


@needs_data
def test_run_grid_runs_every_setup_for_every_seed(tiny):
    base = scratch.Setup("residual", 4, 1, scratch.Recipe(epochs=1, batch_size=25))
    seen = []
    runs = scratch.run_grid({"a": base, "b": base.but(block="plain")}, tiny, seeds=(0, 1), progress=seen.append)
    assert {k: [r.seed for r in v] for k, v in runs.items()} == {"a": [0, 1], "b": [0, 1]}
    assert [s.split()[0] for s in seen] == ["a", "b", "a", "b"]
    with pytest.raises(ExperimentError):
        scratch.run_grid({}, tiny)


# --------------------------------------------------------------------------- the verdict


def _runs(values: list[float], metric: str = "test_acc") -> list[scratch.Run]:
    out = []
    for i, v in enumerate(values):
        r = scratch.Run("x", i)
        if metric == "test_acc":
            r.test_acc = v
        else:
            getattr(r, metric).extend([0.0, v])
        out.append(r)
    return out


def test_compare_claims_a_difference_only_by_the_course_rule():
    c = scratch.compare(_runs([0.80, 0.81, 0.82]), _runs([0.83, 0.84, 0.85]), names=("old", "new"))
    assert c.winner == "B" and c.verdict.startswith("new better") and c.b.mean == pytest.approx(0.84)
    c = scratch.compare(_runs([0.80, 0.81, 0.84]), _runs([0.83, 0.84, 0.85]))
    assert c.winner is None and "within noise" in c.verdict
    # the ranges do not overlap, but one seed of A spreads wider than the gap: within noise by the one rule
    c = scratch.compare(_runs([0.70, 0.80, 0.80]), _runs([0.81, 0.81, 0.81]))
    assert c.winner is None and not differs([0.70, 0.80, 0.80], [0.81, 0.81, 0.81])
    loss = scratch.compare(
        _runs([0.5, 0.6, 0.55], "train_loss"),
        _runs([0.9, 1.0, 0.95], "train_loss"),
        "train_loss",
        names=("shallow", "deep"),
        higher_is_better=False,
    )
    assert loss.winner == "A" and loss.verdict.startswith("shallow better") and loss.a.low == 0.5
    with pytest.raises(ExperimentError, match="at least 3 seeds"):
        scratch.compare(_runs([0.8, 0.9]), _runs([0.8, 0.9, 0.7]))
    with pytest.raises(ExperimentError, match="metric"):
        scratch.compare(_runs([0.8] * 3), _runs([0.8] * 3), metric="colour")
    with pytest.raises(ExperimentError, match="measured values"):
        scratch.summarise([float("nan")])


def test_summary_formats_mean_and_range():
    s = scratch.summarise([0.891, 0.9, 0.912])
    assert s.fmt() == "90.1 % (89.1–91.2)" and s.fmt(1, 3, "") == "0.901 (0.891–0.912)" and len(s) == 3


# --------------------------------------------------------------------------- the figure


def test_plot_seed_bands_draws_mean_and_band_per_setting():
    panels = {
        "first": {"a": [[0.1, 0.5, 0.7], [0.2, 0.6, 0.8]], "b": [[0.3, 0.4, 0.5]] * 2},
        "second": {"c": [[1.0, 0.5], [0.8, 0.7], [0.9, 0.6]]},
    }
    fig = plot_seed_bands(panels, ylabel=["accuracy", "loss"], title="t", ncols=3)
    assert isinstance(fig, Figure)
    visible = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in visible] == ["first", "second"] and visible[1].get_ylabel() == "loss"
    mean_line = visible[0].lines[0]
    assert mean_line.get_ydata().tolist() == pytest.approx([0.15, 0.55, 0.75])
    assert len(visible[0].collections) == 2  # one min–max band per setting
    assert "a (2 seeds)" in [t.get_text() for t in visible[0].get_legend().get_texts()]
    plt.close(fig)
    fig, axes = plt.subplots(1, 2)
    assert plot_seed_bands(panels, ax=axes) is fig
    with pytest.raises(PlotError):
        plot_seed_bands(panels, ax=axes[0])
    with pytest.raises(PlotError, match="labels"):
        plot_seed_bands(panels, ylabel=["one"])
    with pytest.raises(PlotError, match="per-epoch"):
        plot_seed_bands({"p": {"a": [0.1, 0.2]}})
    plt.close("all")
