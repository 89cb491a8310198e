"""Effective receptive fields (Luo et al. 2016): normalised maps, radius vs depth and vs the theoretical field."""
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from xaicnn.analysis.effective_rf import effective_receptive_field, effective_receptive_field_at_init, trained_vs_init
from xaicnn.errors import UserError
from xaicnn.training.checkpoint import Run, build_model


def stack(depth: int, seed: int = 0) -> nn.Module:
    """``depth`` 3x3 convs (padding 1) with dense random weights and no activation: no gradient dies."""
    torch.manual_seed(seed)
    layers = [nn.Conv2d(1 if i == 0 else 4, 4, 3, padding=1) for i in range(depth)]
    for conv in layers:
        nn.init.normal_(conv.weight, std=1 / 6)
    return nn.Sequential(*layers).double()


def images(n=16, size=48, seed=1):
    return torch.randn(n, 1, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_map_sums_to_one_and_radius_grows_with_depth():
    radii = []
    for depth in (2, 4, 8, 12):
        erf = effective_receptive_field(stack(depth), images(), batch_size=5)  # batches of 5: 16 = 5+5+5+1
        assert erf.map.shape == (48, 48) and erf.map.sum().item() == pytest.approx(1.0, abs=1e-6)
        assert erf.theoretical_size == (2 * depth + 1,) * 2 and erf.images == 16 and erf.models == 1
        radii.append(erf.radius)
    assert radii == sorted(radii) and radii[0] < radii[-1]


def test_full_share_radius_fits_the_theoretical_window():
    for depth in (1, 3, 6):
        erf = effective_receptive_field(stack(depth), images(), share=1.0)
        assert erf.window_inside_input and erf.radius == (erf.theoretical_size[0] - 1) / 2  # dense: reaches its edge
        assert erf.radius <= erf.theoretical_size[0] / 2 and erf.fraction <= 1
        assert erf.mass_within[-1][1] == pytest.approx(1.0)
        smaller = effective_receptive_field(stack(depth), images(), share=0.5)
        assert smaller.radius <= erf.radius


def test_batching_does_not_change_the_map():
    a = effective_receptive_field(stack(3), images(), batch_size=16)
    b = effective_receptive_field(stack(3), images(), batch_size=3)
    assert torch.allclose(a.map, b.map, atol=1e-6) and a.radius == b.radius


def test_layer_choice_and_one_sentence_errors():
    model = stack(4)
    erf = effective_receptive_field(model, images(), layer="1")
    assert erf.layer == "1" and erf.theoretical_size == (5, 5)
    with pytest.raises(UserError, match="No layer 'nope'"):
        effective_receptive_field(model, images(), layer="nope")
    with pytest.raises(UserError, match="share must be in"):
        effective_receptive_field(model, images(), share=0)
    flat = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 46 * 46, 3)).double()
    with pytest.raises(UserError, match="not spatial"):
        effective_receptive_field(flat, images(), layer="2")


@pytest.fixture
def run():
    """A Run built in memory (no training): vgg_block on 1x32x32 with a non-trivial normalisation."""
    meta = {"arch": "vgg_block", "in_channels": 1, "num_classes": 10, "image_size": [32, 32], "model_options": {},
            "mean": [0.3], "std": [0.2]}
    torch.manual_seed(5)
    model = build_model(meta).eval()
    return Run(Path("tiny.pt"), meta, [], model)


def uint8_images(n=12):
    return torch.randint(0, 256, (n, 1, 32, 32), generator=torch.Generator().manual_seed(3), dtype=torch.uint8)


def test_a_run_sees_its_images_normalised_as_in_training(run):
    pixels = uint8_images()
    via_run = effective_receptive_field(run, pixels)
    direct = effective_receptive_field(run.model, run.normalize(pixels))
    assert torch.allclose(via_run.map, direct.map) and via_run.layer == "pool" and via_run.label == "tiny (trained)"
    assert via_run.theoretical_size == (26, 26) and not run.model.training


def test_at_init_averages_seeded_models_and_leaves_the_rng_alone(run):
    pixels = uint8_images()
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = effective_receptive_field_at_init(run, pixels, seeds=(0, 1))
    assert torch.equal(torch.random.get_rng_state(), before)
    b = effective_receptive_field_at_init(run, pixels, seeds=(0, 1))
    assert a.models == 2 and torch.equal(a.map, b.map) and a.map.sum().item() == pytest.approx(1.0, abs=1e-5)
    comparison = trained_vs_init(run, pixels, seeds=(0, 1))
    doc = comparison.to_json()
    assert set(doc) == {"trained", "init", "growth"} and doc["init"]["models"] == 2 and doc["trained"]["models"] == 1
    assert doc["trained"]["layer"] == doc["init"]["layer"] == "pool" and "map" not in doc["trained"]
    assert comparison.growth == pytest.approx(comparison.trained.radius / comparison.init.radius)


def test_figures_share_one_colour_scale(run):
    from xaicnn import plots
    from xaicnn.models.receptive_field import receptive_fields

    pixels = uint8_images(6)
    comparison = trained_vs_init(run, pixels, seeds=(0,))
    fig, axes = plots.plot_effective_rf([comparison.trained, comparison.init])
    norms = [ax.images[0].norm for ax in axes.flat]
    assert norms[0] is norms[1] and norms[0].vmax == max(float(comparison.trained.map.max()), float(comparison.init.map.max()))
    assert "95% of |grad|" in axes.flat[0].get_xlabel() and len(axes.flat[0].patches) == 2  # theoretical + effective
    plots.plt.close(fig)
    fig, ax = plots.plot_receptive_fields([receptive_fields(run.model, (1, 32, 32))], ["vgg_block"])
    assert "26 px at features.4" in ax.get_legend().get_texts()[0].get_text()
    plots.plt.close(fig)
