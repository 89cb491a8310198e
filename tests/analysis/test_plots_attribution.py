"""The attribution grid: one colour scale for every map (or each map on its own when asked), captions that
never overlap, maps at least 128 px, and a subset of runs drawn on the scale of all of them."""
import io
from types import SimpleNamespace

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

from xaicnn import plots

rng = np.random.default_rng(0)


class FakeRun(SimpleNamespace):
    def image_record(self, i):
        return {"target": int(self.targets[i]), "prediction": int(self.predictions[i]), "probability": 0.9,
                "delta": 1e-3, "deletion_auc": 0.12, "insertion_auc": 0.87, "deletion_auc_random": 0.35,
                "insertion_auc_random": 0.52}


def comparison(runs=3, n=2, signed=True, scales=None, size=16, names=None, classes=None):
    """An AttributionComparison look-alike: run j's maps are random noise times ``scales[j]``."""
    classes = classes or [str(k) for k in range(10)]
    scales = scales or [10.0 ** -j for j in range(runs)]
    inputs = torch.from_numpy(rng.integers(0, 255, (n, 1, size, size), dtype=np.uint8))
    labels = torch.arange(n) % len(classes)
    out = []
    for j in range(runs):
        maps = torch.from_numpy(rng.normal(size=(n, size, size)) * scales[j]).float()
        preds = labels.clone()
        preds[-1] = (preds[-1] + 1) % len(classes)  # the last image is misclassified by every run
        out.append(FakeRun(name=(names or [f"run{j}" for j in range(runs)])[j], inputs=inputs,
                           maps=maps if signed else maps.abs(), targets=labels.clone(), predictions=preds,
                           probabilities=torch.full((n,), 0.9), classes=classes))
    return SimpleNamespace(method="ig" if signed else "gradcam", signed=signed, inputs=inputs, labels=labels,
                           index=list(range(n)), runs=out)


def map_images(axes):
    """The AxesImage of every map (column 0 holds the inputs)."""
    return [ax.get_images()[-1] for ax in axes[:, 1:].ravel()]


def test_every_map_shares_one_symmetric_scale_for_a_signed_method():
    c = comparison(scales=[1.0, 0.01, 0.5])
    fig, axes = plots.plot_attribution_grid(c)
    norms = {id(im.norm) for im in map_images(axes)}
    limit = plots.attribution_limit([r.maps for r in c.runs])
    assert len(norms) == 1
    im = map_images(axes)[0]
    assert im.norm.vmin == -im.norm.vmax == pytest.approx(-limit)
    pooled = np.abs(np.concatenate([r.maps.numpy().ravel() for r in c.runs]))
    assert limit == pytest.approx(np.percentile(pooled, 99))  # a high percentile, not the max
    assert limit < pooled.max()
    colorbar_ax = [ax for ax in fig.axes if ax not in axes.ravel()]
    assert len(colorbar_ax) == 1  # the colour bar, labelled with the scale
    label = colorbar_ax[0].get_xlabel() or colorbar_ax[0].get_ylabel()
    assert f"±{limit:.2g}" in label.replace("\n", " ") and "6 maps" in label
    plots.plt.close(fig)


def test_a_magnitude_method_shares_one_scale_from_zero():
    c = comparison(signed=False, scales=[1.0, 0.2, 0.05])
    fig, axes = plots.plot_attribution_grid(c)
    limit = plots.attribution_limit([r.maps for r in c.runs])
    assert {(im.norm.vmin, im.norm.vmax) for im in map_images(axes)} == {(0.0, limit)}
    plots.plt.close(fig)


def test_per_map_stretches_each_map_to_its_own_scale():
    c = comparison(scales=[1.0, 0.01, 0.5])
    fig, axes = plots.plot_attribution_grid(c, per_map=True)
    for (i, j), ax in np.ndenumerate(axes[:, 1:]):
        norm = ax.get_images()[-1].norm
        assert norm.vmax == pytest.approx(plots.attribution_limit([c.runs[j].maps[i]])) == -norm.vmin
    assert len({round(im.norm.vmax, 9) for im in map_images(axes)}) == 6
    plots.plt.close(fig)


def test_a_nearly_flat_map_looks_flat_on_the_shared_scale_and_not_per_map():
    c = comparison(runs=2, n=1, scales=[1.0, 1e-3])  # run1: a thousand times weaker

    def drawn(**kw):
        fig, axes = plots.plot_attribution_grid(c, **kw)
        buffer = io.BytesIO()
        extent = axes[0, 2].get_window_extent().transformed(fig.dpi_scale_trans.inverted())
        fig.savefig(buffer, format="png", dpi=plots.DPI, bbox_inches=extent)
        plots.plt.close(fig)
        buffer.seek(0)
        return mpimg.imread(buffer)[..., :3]

    def chroma(rgb):  # 0 for grey, up to 1 for a saturated colour
        return rgb.max(2) - rgb.min(2)

    shared, own = chroma(drawn()), chroma(drawn(per_map=True))
    assert shared.max() < 0.03  # nearly transparent on the shared scale: only the grey input shows
    assert np.percentile(own, 90) > 0.2  # stretched to its own scale it is as red and blue as a strong map


def _text_boxes(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_window_extent"))
             if t.get_visible() and t.get_text().strip()]
    return [(t.get_text(), t.get_window_extent(renderer), t.get_fontsize()) for t in texts]


@pytest.mark.parametrize("runs,details", [(6, False), (6, True), (2, True), (10, False)])
def test_captions_never_overlap_and_maps_are_at_least_128_px(runs, details):
    names = ["transformer_block_with_a_very_long_name", "vgg_block-seed1", "bottleneck_block", "x", "sppf_block",
             "lenet5-glyphs-rgb-extra-long", "a", "b", "c", "d"][:runs]
    c = comparison(runs=runs, n=3, names=names, classes=["automobile", "truck", "aeroplane", "frog"] * 3)
    fig, axes = plots.plot_attribution_grid(c, details=details)
    boxes = _text_boxes(fig)
    texts = [text for text, _, _ in boxes]  # the captions checked below are all there: one per map, details if asked
    assert sum(text.startswith("pred ") for text in texts) == 3 * runs, texts
    assert sum(text.startswith("δ ") for text in texts) == (3 * runs if details else 0), texts
    for k, (a, box_a, _) in enumerate(boxes):
        for b, box_b, _ in boxes[k + 1:]:
            overlap_x = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
            overlap_y = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
            assert min(overlap_x, overlap_y) <= 1, f"{a!r} overlaps {b!r}"
    px = plots.DPI / fig.dpi  # the PNG's pixels per display pixel
    panels = [ax.get_window_extent() for ax in axes.ravel()]
    assert min(p.width * px for p in panels) >= 128 and min(p.height * px for p in panels) >= 128
    for text, _, size in boxes:
        assert size * plots.DPI / 72 >= 10, (text, size)  # text at least 10 px
    if runs <= 6:  # up to 6 runs the figure fits the app's 940-px main column at natural size
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=plots.DPI, bbox_inches="tight", pad_inches=0.02)
        buffer.seek(0)
        assert mpimg.imread(buffer).shape[1] <= 940
    plots.plt.close(fig)


def test_drawing_some_runs_keeps_the_scale_of_all():
    c = comparison(runs=4, scales=[0.01, 0.01, 1.0, 1.0])
    fig, axes = plots.plot_attribution_grid(c, runs=["run0", 1])
    assert axes.shape == (2, 3)
    assert axes[0, 1].get_images()[-1].norm.vmax == pytest.approx(plots.attribution_limit([r.maps for r in c.runs]))
    titles = [t.get_text() for t in fig.texts]
    assert "run0" in titles and "run1" in titles and "run2" not in titles
    plots.plt.close(fig)
    assert "8 maps (4 runs x 2 images): ±" in plots.scale_statement(c)
    assert "own" in plots.scale_statement(c, per_map=True)


def test_attribution_limit_falls_back_when_most_pixels_are_exactly_zero():
    sparse = np.zeros((4, 10, 10))
    sparse[0, 0, 0] = 0.5
    assert plots.attribution_limit([sparse]) == 0.5  # the 99th percentile is 0: use the largest value
    assert plots.attribution_limit([np.zeros((2, 3, 3))]) == 1.0
