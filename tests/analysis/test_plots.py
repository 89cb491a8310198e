"""Training figures: the right data is drawn (checked on the artists) and the PNG is a real picture."""
from types import SimpleNamespace

import matplotlib.image as mpimg
import numpy as np
import pytest

from xaicnn import plots
from xaicnn.analysis.gradient_flow import GradientFlow
from xaicnn.analysis.metrics import evaluation_from_predictions

rng = np.random.default_rng(0)


def assert_png_picture(fig, path, min_kb=5):
    """Saved, a few KB at least, and not blank: many distinct colours, not one flat field."""
    plots.save_figure(fig, path)
    assert path.stat().st_size > min_kb * 1024
    pixels = mpimg.imread(path)[..., :3]
    assert pixels.std() > 0.05 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20
    h, w = pixels.shape[:2]
    assert min(h, w) >= 300  # readable, not a thumbnail


def flow(n_layers=6, n_epochs=4, name="deep"):
    layers = [f"features.{i}.weight" for i in range(n_layers - 1)] + ["classifier.weight"]
    matrix = np.exp(rng.normal(size=(n_layers, n_epochs))) * np.logspace(-5, 0, n_layers)[:, None]
    return GradientFlow(name, "vgg50", "norm", layers, list(range(1, n_epochs + 1)), matrix)


def evaluation(k):
    classes = [f"c{i}" for i in range(k)]
    y = np.repeat(np.arange(k), 8)
    p = np.where(rng.random(len(y)) < 0.7, y, rng.integers(0, k, len(y)))
    return evaluation_from_predictions(y, p, classes, name=f"{k} classes")


def fake_run(name, epochs, acc):
    history = [{"epoch": e, "train_loss": 2 / e, "val_loss": 2.2 / e, "train_acc": acc * e / epochs,
                "val_acc": acc * e / epochs - 0.05} for e in range(1, epochs + 1)]
    return SimpleNamespace(name=name, history=history)


def test_curves_two_panels_train_dashed_val_solid(tmp_path):
    runs = [fake_run("fc20", 3, 0.2), fake_run("resnet18", 5, 0.8)]
    fig, axes = plots.plot_curves(runs, labels=["FC20", "ResNet-18"])
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]
    for ax, key in zip(axes, ("loss", "acc")):
        lines = ax.get_lines()
        assert len(lines) == 4 and [ln.get_linestyle() for ln in lines] == ["--", "-", "--", "-"]
        assert lines[3].get_ydata().tolist() == [h[f"val_{key}"] for h in runs[1].history]
        assert lines[2].get_color() == lines[3].get_color() != lines[0].get_color()
    legend = [t.get_text() for t in axes[1].get_legend().get_texts()]
    assert legend == ["FC20", "ResNet-18", "train", "val"]
    assert_png_picture(fig, tmp_path / "curves.png")


def test_gradient_bars_log_scale_network_order(tmp_path):
    f = flow()
    fig, ax = plots.plot_gradient_bars(f, [1, 2, 4])
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == f.layers
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 3 * len(f.layers) and np.allclose(heights[-len(f.layers):], f.at(4))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["epoch 1", "epoch 2", "epoch 4"]
    fig2, ax2 = plots.plot_gradient_bars(f)  # default: first and last epoch
    assert [t.get_text() for t in ax2.get_legend().get_texts()] == ["epoch 1", "epoch 4"]
    assert_png_picture(fig, tmp_path / "bars.png")
    plots.plt.close(fig2)


def test_gradient_heatmap_log_colours_first_layer_on_top(tmp_path):
    from matplotlib.colors import LogNorm

    f = flow(n_layers=40, n_epochs=12)
    f.matrix[3, 2] = 0.0  # a zero must not break the log scale
    fig, ax = plots.plot_gradient_heatmap(f)
    image = ax.get_images()[0]
    assert isinstance(image.norm, LogNorm) and image.norm.vmin > 0
    data = np.ma.filled(image.get_array().astype(float), np.nan)
    assert np.allclose(data[f.matrix > 0], f.matrix[f.matrix > 0]) and np.isnan(data[3, 2])
    assert [t.get_text() for t in ax.get_yticklabels()] == f.layers
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # row 0 (first layer) at the top
    assert_png_picture(fig, tmp_path / "heatmap.png")


def test_gradient_lines_first_middle_last(tmp_path):
    f = flow(n_layers=7)
    fig, ax = plots.plot_gradient_lines(f)
    assert ax.get_yscale() == "log"
    assert [ln.get_label() for ln in ax.get_lines()] == [f.layers[0], f.layers[3], f.layers[6]]
    assert np.allclose(ax.get_lines()[1].get_ydata(), f.matrix[3])
    assert_png_picture(fig, tmp_path / "lines.png")


def test_gradient_stages_one_panel_per_run_shared_log_axis(tmp_path):
    a = flow(name="vgg16")
    b = GradientFlow("resnet18", "resnet18", "norm", ["conv1.weight", "layer1.0.conv1.weight", "layer1.0.conv2.weight",
                                                      "fc.weight"], [1, 2], np.array([[1, 2], [3, 4], [5, 6], [7, 8.0]]))
    fig, axes = plots.plot_gradient_stages([a, b])
    assert len(axes) == 2 and all(ax.get_yscale() == "log" for ax in axes)
    assert axes[0].get_shared_y_axes().joined(axes[0], axes[1])
    assert [ln.get_label() for ln in axes[1].get_lines()] == ["conv1", "layer1", "fc"]
    assert axes[1].get_lines()[1].get_ydata().tolist() == [4.0, 5.0]
    assert axes[0].get_title().startswith("vgg16")
    assert_png_picture(fig, tmp_path / "stages.png")


@pytest.mark.parametrize("k,normalized", [(5, True), (5, False), (52, True)])
def test_confusion_readable_for_few_and_many_classes(tmp_path, k, normalized):
    ev = evaluation(k)
    fig, ax = plots.plot_confusion(ev, normalized=normalized)
    shown = ax.get_images()[0].get_array()
    assert np.allclose(shown, ev.confusion_normalized if normalized else ev.confusion)
    assert [t.get_text() for t in ax.get_xticklabels()] == ev.classes == [t.get_text() for t in ax.get_yticklabels()]
    texts = ax.texts
    if k <= 20:
        assert len(texts) == np.count_nonzero(ev.confusion)  # every non-empty cell labelled
    else:
        assert len(texts) == 0 and ax.get_xticklabels()[0].get_fontsize() < 8  # colours only, small labels
    assert_png_picture(fig, tmp_path / f"confusion{k}{normalized}.png")


def test_per_class_f1_bars(tmp_path):
    ev = evaluation(12)
    fig, ax = plots.plot_per_class(ev)
    assert [p.get_height() for p in ax.patches] == [c.f1 for c in ev.per_class]
    assert ax.get_lines()[0].get_ydata()[0] == pytest.approx(ev.macro["f1"])
    assert_png_picture(fig, tmp_path / "per_class.png")
