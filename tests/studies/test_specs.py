"""Every registered study is a consistent spec: its conditions build, its claims name real conditions and
metrics, its presets say how they depart from the original, and its exact claims hold."""
import pytest
import torch

from xaicnn import data, models, studies
from xaicnn.errors import UserError
from xaicnn.studies import verdicts
from xaicnn.studies.figures import FIGURES
from xaicnn.studies.results import METRICS, exact_values

NAMES = list(studies.available())
TRAINED = [n for n in NAMES if studies.get(n).compute is None]
EXPECTED = {"augmentation", "vgg_kernel", "inception_1x1", "depth50", "resnet_depth", "plain_vs_residual",
            "mnist_blocks", "alpha_bottleneck", "lecture_shapes"}


def test_registry_holds_the_nine_experiments():
    assert set(NAMES) == EXPECTED
    assert all(studies.available()[n] and "\n" not in studies.available()[n] for n in NAMES)


def test_unknown_study_is_one_sentence():
    with pytest.raises(UserError, match="did you mean vgg_kernel"):
        studies.get("vgg_kernels")


@pytest.mark.parametrize("name", TRAINED)
@pytest.mark.parametrize("preset", ["smoke", "quick", "full"])
def test_every_condition_builds_under_every_preset(name, preset):
    spec = studies.get(name)
    info = data.info(spec.dataset)
    size = spec.image_size or info.image_size[0]
    for c in spec.conditions:
        config, options = spec.settings(c, preset)
        with torch.device("meta"):  # shapes only: a 99M-parameter net costs nothing here
            models.create(c.arch, in_channels=info.in_channels, num_classes=info.num_classes,
                          image_size=config.get("image_size") or size, **options)
        assert config["epochs"] == spec.presets[preset].epochs and config["augment"] == c.augment


@pytest.mark.parametrize("name", TRAINED)
def test_claims_figures_and_reductions_are_declared(name):
    spec = studies.get(name)
    labels = {c.label for c in spec.conditions}
    assert spec.claims and len(labels) >= 2
    for claim in spec.claims:
        assert claim.metric in METRICS and claim.a in labels and claim.direction in (">", "<", "~") and claim.original
        assert claim.b is None or claim.b in labels or claim.b == "chance" or isinstance(claim.b, (int, float))
        assert claim.source.startswith(("000_", "001_", "002_", "003_", "004_"))  # a file of the original reports
        assert claim.direction != "~" or claim.margin > 0  # "about the same" states its margin
        if claim.values and claim.kind == "runs" and isinstance(claim.b, str) and claim.b != "chance":
            assert len(claim.values) == 2  # the source's (a, b): its effect is what our interval is checked for
    assert "curves" in spec.figures and all(kind in FIGURES for kind in spec.figures)
    quick, full = spec.presets["quick"], spec.presets["full"]
    assert full.seeds >= 3 and quick.seeds >= 5 and full.train_size is None  # full: the original's whole data
    assert quick.minutes and quick.minutes <= 15  # each quick study fits 15 minutes on 2 cores
    reductions = spec.reductions("quick")
    assert any(r.startswith("epochs") for r in reductions) == (quick.epochs != full.epochs)
    assert any(r.startswith("training images") for r in reductions)
    assert spec.reductions("full") == []


def test_reductions_name_every_change():
    spec = studies.get("plain_vs_residual")
    reductions = spec.reductions("quick")
    assert not any("seeds per condition" in r for r in reductions)  # 5, as the full preset
    assert "epochs 30 -> 10" in reductions
    assert any("model option width 4,096 -> 256 (fc20, fc56)" == r for r in reductions)
    assert any(r.startswith("model option width 1.0 -> ") and r.endswith("(resnet18)") for r in reductions)


def test_preset_wide_width_never_reaches_an_int_width():
    spec = studies.get("plain_vs_residual")
    _, options = spec.settings(spec.condition("fc56"), "smoke")
    assert options["width"] == 32  # the preset's float multiplier is not applied to FC layer sizes


@pytest.mark.parametrize("name", [n for n in TRAINED if any(c.kind == "exact" for c in studies.get(n).claims)])
def test_exact_claims_hold_at_the_original_settings(name):
    spec = studies.get(name)
    values = exact_values(spec)
    mismatches = {"the 1x1 reductions halve the parameters (about 320K vs 661K)",  # ours: 12.6x, the original's 2.07x
                  "the transformer block costs more computation than the VGG block"}  # ours is 7x cheaper
    for claim in (c for c in spec.claims if c.kind == "exact"):
        result = verdicts.evaluate_exact(claim, values[claim.metric])
        assert result["verdict"] == (verdicts.MISMATCH if claim.text in mismatches else verdicts.EXACT_MATCH), result


def test_exact_values_are_the_known_counts():
    assert exact_values(studies.get("vgg_kernel"))["params"] == {"k3": 33_638_218, "k7": 99_018_058, "rf": 40_007_818}
    assert exact_values(studies.get("alpha_bottleneck"))["params"] == {"bottleneck": 366_792, "plain": 582_824}


def test_an_exact_claim_can_fail():
    spec = studies.get("vgg_kernel")
    claim = spec.claims[0]
    wrong = verdicts.evaluate_exact(claim, {"k3": 33_638_218, "k7": 99_018_057})
    assert wrong["verdict"] == verdicts.MISMATCH
    flipped = verdicts.evaluate_exact(claim, {"k3": 99_018_058, "k7": 33_638_218})
    assert flipped["verdict"] == verdicts.MISMATCH


@pytest.mark.parametrize("name", NAMES)
def test_claims_are_not_restated(name):
    claims = studies.get(name).claims
    keys = [(c.metric, c.a, c.direction, c.b, c.values) for c in claims]
    assert len(set(keys)) == len(keys)
