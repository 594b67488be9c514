"""course_utils.lessons.finetune_fmnist (notebook 04's bookkeeping) and its two figures, on real models and photos."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import copy  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from course_utils.core.errors import ExperimentError, PlotError  # noqa: E402
from course_utils.data.images import SAMPLE_IMAGES, sample_image, to_batch  # noqa: E402
from course_utils.lessons import finetune_fmnist as ff  # noqa: E402
from course_utils.models import load_classifier  # noqa: E402
from course_utils.models.efficientnet_lite import transforms as lite_transforms  # noqa: E402
from course_utils.plots import plot_few_shot, plot_seed_runs  # noqa: E402


@pytest.fixture(scope="module")
def lite():
    return load_classifier("efficientnet_lite0", device="cpu", quiet=True)


@pytest.fixture(scope="module")
def photos(lite):
    """Every bundled photo, as Lite0's eval transform makes it, at 64 px: real images, real statistics."""
    return to_batch([sample_image(name) for name in SAMPLE_IMAGES], lite_transforms(crop_size=64, resize_size=72))


def test_runs_mean_range_and_text():
    runs = ff.Runs([0.60, 0.65, 0.70])
    assert len(runs) == 3 and runs.values == (0.6, 0.65, 0.7)
    assert runs.mean == pytest.approx(0.65) and runs.low == 0.6 and runs.high == 0.7
    assert runs.spread == pytest.approx(0.1)
    assert str(runs) == "65.0 % (60.0–70.0)"
    assert ff.Runs(torch.tensor([0.5, 0.25])).mean == pytest.approx(0.375)  # a tensor row, as the curve holds
    with pytest.raises(ExperimentError, match="at least one"):
        ff.Runs([])
    with pytest.raises(ExperimentError, match="finite"):
        ff.Runs([0.5, float("nan")])


def test_a_difference_needs_more_than_the_spread_and_three_seeds():
    probe, pixels = ff.Runs([0.64, 0.65, 0.66]), ff.Runs([0.69, 0.70, 0.71])
    assert ff.differs(probe, pixels) and ff.differs(pixels, probe)
    text = ff.verdict(probe, pixels, ("probe", "pixels"))
    assert text.startswith("probe is 5.0 points below pixels") and "spread over seeds, 2.0" in text
    assert "above" in ff.verdict(pixels, probe, ("pixels", "probe"))
    close = ff.Runs([0.60, 0.66, 0.70])  # its spread (10 points) is larger than the gap (about 1)
    assert not ff.differs(close, probe)
    assert "within noise" in ff.verdict(close, probe, ("a", "b"))
    with pytest.raises(ExperimentError, match="at least 3 seeds"):
        ff.differs(ff.Runs([0.1, 0.2]), probe)
    assert ff.differs([0.1, 0.2, 0.3], probe)  # plain lists of per-seed values work too
    for bad in (0.5, "0.1 0.2 0.3"):
        with pytest.raises(ExperimentError, match="sequences of numbers"):
            ff.differs(bad, probe)
    with pytest.raises(ExperimentError, match="two methods"):
        ff.verdict(probe, pixels, ("only one",))


def test_results_table_marks_what_is_within_noise():
    rows = {
        "probe": ff.Runs([0.64, 0.65, 0.66]),
        "pixels": ff.Runs([0.69, 0.70, 0.71]),
        "frozen": ff.Runs([0.60, 0.66, 0.70]),
    }
    lines = ff.results_table(rows, reference="probe").splitlines()
    assert "vs probe" in lines[0] and lines[-1] == "(3 seeds per method)"
    by_name = {line.split()[0]: line for line in lines[2:-1]}
    assert by_name["probe"].rstrip().endswith("(64.0–66.0)")  # the reference is not compared with itself
    assert "+5.0 points" in by_name["pixels"] and "within noise" not in by_name["pixels"]
    assert "within noise" in by_name["frozen"]
    assert "vs" not in ff.results_table(rows).splitlines()[0]
    with pytest.raises(ExperimentError, match="not one of the rows"):
        ff.results_table(rows, reference="scratch")
    with pytest.raises(ExperimentError, match="at least one row"):
        ff.results_table({})


def test_running_means_follow_the_moving_average_on_a_real_model(lite, photos):
    model = copy.deepcopy(lite.model)
    model.requires_grad_(False)  # frozen weights: the statistics move all the same
    before = ff.bn_statistics(model)
    assert len(before) == len(ff.bn_layers(model)) == 49
    assert {bn.momentum for bn in ff.bn_layers(model).values()} == {0.01}
    model.train()
    with ff.BatchStatsRecorder(model) as rec, torch.no_grad():
        for batch in (photos[:4], photos[4:], photos.flip(-1)):
            model(batch)
    after = ff.bn_statistics(model)
    assert all(len(means) == 3 for means in rec.means.values())
    for name, (mean, var) in before.items():
        assert not torch.equal(after[name][0], mean), f"{name}: train mode should move the running mean"
        replayed = ff.replay_running_mean(mean, rec.means[name], 0.01)
        assert torch.allclose(after[name][0], replayed, atol=1e-5), name
        assert torch.allclose(after[name][1], ff.replay_running_mean(var, rec.variances[name], 0.01), rtol=1e-4)
    # TensorFlow's convention (0.99 for the old value) is not PyTorch's: replayed that way, the means are far off
    off = max(
        (after[n][0] - ff.replay_running_mean(m, rec.means[n], 0.99)).abs().max().item() for n, (m, _) in before.items()
    )
    assert off > 0.1, off
    first = "_bn0"
    target = torch.stack(rec.means[first]).mean(0)
    assert ff.share_moved(before[first][0], after[first][0], target) == pytest.approx(1 - 0.99**3, rel=0.05)


def test_the_recorder_records_train_mode_only_and_always_removes_its_hooks(lite, photos):
    model = copy.deepcopy(lite.model).eval()
    with ff.BatchStatsRecorder(model) as rec, torch.no_grad():
        model(photos[:2])
    assert all(not means for means in rec.means.values()), "eval mode uses running statistics: nothing to record"
    with pytest.raises(RuntimeError, match="boom"), ff.BatchStatsRecorder(model):
        raise RuntimeError("boom")
    assert not any(m._forward_pre_hooks for m in ff.bn_layers(model).values())
    with pytest.raises(ExperimentError, match="no BatchNorm"):
        ff.BatchStatsRecorder(nn.Linear(3, 2))
    with pytest.raises(ExperimentError, match="no BatchNorm"):
        ff.bn_statistics(nn.Linear(3, 2))


def test_replay_and_share_moved_by_hand():
    start = torch.tensor([0.0, 10.0])
    out = ff.replay_running_mean(start, [torch.tensor([1.0, 0.0])] * 2, 0.5)
    assert torch.allclose(out, torch.tensor([0.75, 2.5]))
    assert ff.share_moved(torch.zeros(2), torch.tensor([0.5, 0.5]), torch.ones(2)) == pytest.approx(0.5)
    assert ff.share_moved(torch.zeros(2), torch.tensor([1.0, -1.0]), torch.ones(2)) == pytest.approx(0.0)
    with pytest.raises(ExperimentError, match="momentum"):
        ff.replay_running_mean(start, [], 0.0)
    with pytest.raises(ExperimentError, match="no way"):
        ff.share_moved(torch.ones(2), torch.zeros(2), torch.ones(2))


def test_plot_few_shot_draws_mean_and_band():
    shots = [1, 10, 100]
    curves = {"features": torch.tensor([[0.4, 0.5], [0.6, 0.7], [0.8, 0.8]]), "pixels": torch.rand(3, 2)}
    fig = plot_few_shot(curves, shots, chance=0.1, title="t")
    ax = fig.axes[0]
    assert ax.get_title() == "t" and ax.get_xscale() == "log"
    mean_line = ax.get_lines()[0]
    assert list(mean_line.get_ydata()) == pytest.approx([0.45, 0.65, 0.8])
    assert len(ax.collections) == 2  # one min–max band per curve
    assert any(line.get_ydata()[0] == 0.1 for line in ax.get_lines())  # the chance line
    plt.close(fig)
    fig, ax = plt.subplots()
    assert plot_few_shot(curves, shots, ax=ax) is fig
    plt.close(fig)
    with pytest.raises(PlotError, match="shape"):
        plot_few_shot({"bad": torch.rand(2, 3)}, shots)
    with pytest.raises(PlotError, match="at least one"):
        plot_few_shot({}, shots)


def test_plot_seed_runs_shows_every_seed_and_the_mean():
    rows = {"probe": [0.6, 0.65, 0.7], "scratch": [0.3, 0.35, 0.4]}
    fig = plot_seed_runs(rows)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["probe", "scratch"]
    assert [round(p.get_width(), 3) for p in ax.patches] == [0.65, 0.35]  # the means
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert [list(d.get_xdata()) for d in dots] == [rows["probe"], rows["scratch"]]
    assert {t.get_text() for t in ax.texts} == {"65.0%", "35.0%"}
    plt.close(fig)
    with pytest.raises(PlotError, match="no value"):
        plot_seed_runs({"empty": []})
