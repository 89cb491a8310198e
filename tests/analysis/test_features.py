"""Inside the network: filters drawn as set, dead/alive layers, streaming statistics, feature maps by activity."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from xaicnn import plots
from xaicnn.analysis.features import (feature_map_scales, feature_maps, filter_grid, find_layer, first_conv_filters,
                                      unit_health)
from xaicnn.errors import UserError
from xaicnn.models import create


class Tiny(nn.Module):
    """conv(3->4) ReLU | 'dead': conv weights 0, bias -1, ReLU | 'alive': conv weights 0, bias +1, ReLU | head."""

    def __init__(self, in_channels=3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 4, 3, padding=1), nn.ReLU())
        self.dead = nn.Sequential(nn.Conv2d(4, 5, 3, padding=1), nn.ReLU())
        self.alive = nn.Sequential(nn.Conv2d(5, 6, 1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(6, 2)
        with torch.no_grad():
            for conv, bias in ((self.dead[0], -1.0), (self.alive[0], 1.0)):
                conv.weight.zero_()
                conv.bias.fill_(bias)

    def forward(self, x):
        return self.head(self.pool(self.alive(self.dead(self.stem(x)))).flatten(1))


def images(n=30, channels=3, size=8, seed=0):
    return torch.randint(0, 256, (n, channels, size, size), generator=torch.Generator().manual_seed(seed),
                         dtype=torch.uint8)


# --- filters ---------------------------------------------------------------------------------------------

def test_filter_grid_shows_hand_set_rgb_weights():
    torch.manual_seed(0)
    model = Tiny()
    w = torch.zeros(4, 3, 3, 3)
    w[0, 0] = 0.5  # filter 0: pure red at the full scale
    w[1, 2, 1, 1] = -0.5  # filter 1: the centre pixel with no blue
    w[2, 1, 0, 2] = 0.25  # filter 2: half green at the top right
    with torch.no_grad():
        model.stem[0].weight.copy_(w)
    filters = first_conv_filters(model, input_size=(3, 8, 8))
    assert filters.module == "stem.0" and filters.shape == (4, 3, 3, 3) and filters.display == "rgb"
    assert filters.scale == pytest.approx(0.5) and "scale ±0.5, 0 = grey" in filters.caption()
    grid = filters.grid()  # 2 x 2 kernels of 3 x 3 with a 1-pixel white line between them
    assert grid.shape == (7, 7, 3)
    np.testing.assert_allclose(grid[0:3, 0:3], np.broadcast_to([1.0, 0.5, 0.5], (3, 3, 3)))  # red up, rest grey
    np.testing.assert_allclose(grid[1, 5], [0.5, 0.5, 0.0])  # filter 1 (row 0, column 1): centre has no blue
    np.testing.assert_allclose(grid[0, 4], [0.5, 0.5, 0.5])
    np.testing.assert_allclose(grid[4, 2], [0.5, 0.75, 0.5])  # filter 2 (row 1, column 0): top right, half green
    np.testing.assert_allclose(grid[4:7, 4:7], 0.5)  # filter 3, all zero: grey
    np.testing.assert_allclose(grid[3, :], 1.0)  # the separating line


def test_grey_and_many_channel_filters():
    w = torch.linspace(-1, 1, 2 * 1 * 2 * 2).reshape(2, 1, 2, 2)
    grid = filter_grid(w.numpy(), columns=2)
    assert grid.shape == (2, 5, 3) and (grid[:, 2] == 1).all()  # a white line between the kernels
    np.testing.assert_allclose(grid[..., 0], grid[..., 2])  # grey: the same value in R, G and B
    np.testing.assert_allclose(grid[0, 0], 0.0) and np.testing.assert_allclose(grid[1, 4], 1.0)  # -1 black, +1 white
    model = Tiny(in_channels=5)
    filters = first_conv_filters(model)  # no input size: definition order
    assert filters.display == "channel mean" and filters.shown().shape == (4, 1, 3, 3)
    np.testing.assert_allclose(filters.shown()[:, 0], model.stem[0].weight.detach().mean(1).numpy(), rtol=1e-6)
    assert "mean of 5 input channels" in filters.caption()


def test_a_net_without_convolutions_has_no_filters():
    model = create("fc20", in_channels=1, num_classes=10, image_size=(8, 8), width=16)
    with pytest.raises(UserError, match="no 2-D convolution"):
        first_conv_filters(model, input_size=(1, 8, 8))


def test_plot_filters_runs_side_by_side():
    fig, axes = plots.plot_filters([first_conv_filters(Tiny()), first_conv_filters(Tiny(1))], ["rgb", "grey"])
    assert len(axes) == 2 and "scale ±" in axes[0].get_xlabel() and "grey" in axes[1].get_xlabel()
    plots.plt.close(fig)


# --- unit health -----------------------------------------------------------------------------------------

def test_forced_dead_layer_reports_one_and_forced_alive_zero():
    health = unit_health(Tiny(), images=images(), layers=["stem", "dead", "alive", "head"], batch_size=7)
    rows = {r.layer: r for r in health.rows}
    assert rows["dead"].dead_share == 1 and rows["dead"].units == 5 and rows["dead"].mean == 0
    assert rows["alive"].dead_share == 0 and rows["alive"].mean == pytest.approx(1) and rows["alive"].std == 0
    assert health.excluded == ["head"] and "head" not in rows  # the logits are no units that can die
    doc = health.to_json()
    assert doc["images"] == 30 and [r["layer"] for r in doc["rows"]] == ["stem", "dead", "alive"]
    assert set(doc["rows"][1]) == {"layer", "units", "dead", "dead_share", "mean", "std"}


def test_streaming_mean_and_std_equal_the_full_batch_values():
    torch.manual_seed(1)
    model = create("vgg_block", in_channels=1, num_classes=10, image_size=(16, 16)).eval()
    data = images(23, channels=1, size=16)
    health = unit_health(model, images=data, batch_size=5)  # 5 batches, the last one short
    assert health.layer_kind == "blocks" and health.excluded == ["classifier.1"]
    outputs = {}
    hooks = [find_layer(model, r.layer).register_forward_hook(
        lambda m, i, o, name=r.layer: outputs.__setitem__(name, o.detach().clone())) for r in health.rows]
    with torch.no_grad():
        model(data.float())
    for h in hooks:
        h.remove()
    for row in health.rows:
        full = outputs[row.layer].double()
        assert row.mean == pytest.approx(float(full.mean()), rel=1e-9, abs=1e-12)
        assert row.std == pytest.approx(float(full.std(unbiased=False)), rel=1e-9)
        per_unit_max = full.transpose(0, 1).flatten(1).amax(1)
        assert row.units == full.shape[1] and row.dead == int((per_unit_max <= 0).sum())
        np.testing.assert_allclose(row.unit_max, per_unit_max.float().numpy())


def test_linear_units_count_features():
    model = create("fc20", in_channels=1, num_classes=10, image_size=(8, 8), width=16)
    health = unit_health(model, images=images(12, channels=1, size=8), batch_size=4)
    assert health.rows and all(r.units == 16 for r in health.rows)


def test_unit_health_refuses_bad_input():
    with pytest.raises(UserError, match="needs the images"):
        unit_health(Tiny())
    with pytest.raises(UserError, match="Unknown layer kind"):
        unit_health(Tiny(), images=images(), layers="blox")
    with pytest.raises(UserError, match="did you mean dead"):
        unit_health(Tiny(), images=images(), layers=["deed"])


def test_plot_unit_health_one_line_per_run():
    a = unit_health(Tiny(), images=images(), layers=["stem", "dead", "alive"], label="a")
    b = unit_health(Tiny(), images=images(), layers=["stem", "alive"], label="b")
    fig, ax = plots.plot_unit_health([a, b])
    assert [list(line.get_ydata()) for line in ax.get_lines()][0][1] == 1.0 and len(ax.get_lines()) == 2
    plots.plt.close(fig)


# --- feature maps ----------------------------------------------------------------------------------------

def test_feature_maps_are_sorted_by_activity():
    model = Tiny()
    with torch.no_grad():  # stem channel c outputs the constant c' = [2, 0, 3, 1][c]: known order
        model.stem[0].weight.zero_()
        model.stem[0].bias.copy_(torch.tensor([2.0, 0.0, 3.0, 1.0]))
    maps = feature_maps(model, images(1)[0], layer="stem", top=3)
    assert maps.channels == [2, 0, 3] and maps.means == [3.0, 2.0, 1.0] and maps.layer_channels == 4
    assert maps.maps.shape == (3, 8, 8) and (maps.maps[0] == 3).all()
    assert feature_maps(model, images(1)[0], layer="stem", top=99).channels == [2, 0, 3, 1]


def test_feature_maps_of_a_real_net_descend_and_default_to_a_middle_block():
    torch.manual_seed(0)
    model = create("vgg_block", in_channels=1, num_classes=10, image_size=(16, 16)).eval()
    maps = feature_maps(model, images(1, channels=1, size=16)[0], top=5)
    assert maps.layer == "features.2"  # spatial blocks: features.0, features.2, features.3 -> the middle one
    assert maps.means == sorted(maps.means, reverse=True) and len(maps.channels) == 5
    np.testing.assert_allclose(maps.maps.mean((1, 2)), maps.means, rtol=1e-5)


def test_unknown_layer_is_one_sentence_with_close_names():
    with pytest.raises(UserError, match=r"No layer 'stm' in Tiny; did you mean stem"):
        feature_maps(Tiny(), images(1)[0], layer="stm")
    with pytest.raises(UserError, match="not a stack of maps"):
        feature_maps(Tiny(), images(1)[0], layer="head")
    with pytest.raises(UserError, match="one image"):
        feature_maps(Tiny(), images(2), layer="stem")


def test_feature_map_scale_is_shared_per_layer_and_plotted():
    model = Tiny()
    a = feature_maps(model, images(1)[0], layer="stem", label="a")
    b = feature_maps(model, images(1, seed=1)[0], layer="stem", label="b")
    (lo, hi), = feature_map_scales([a, b]).values()
    assert lo == min(0, a.maps.min(), b.maps.min()) and hi == max(a.maps.max(), b.maps.max())
    fig, panels = plots.plot_feature_maps([a, b])
    assert len(panels) == 2
    plots.plt.close(fig)
