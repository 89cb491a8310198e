"""Attribution methods, faithfulness (deletion/insertion) and the model-randomisation sanity check, on
really trained tiny models (vgg_block ~90% and lenet5 on digits)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from xaicnn.analysis.attribution import METHODS, AttributionMethod, attribute, find_last_conv, make_baseline
from xaicnn.analysis.faithfulness import deletion_insertion
from xaicnn.analysis.sanity import sanity_check
from xaicnn.errors import UserError
from xaicnn.training import TrainConfig, load_checkpoint, train

DIGITS = dict(dataset="digits", train_size=400, val_size=200, precision="fp32", batch_size=32)


def quiet(*args, **kwargs):
    pass


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """Checkpoints: vgg_block and lenet5 on digits, lenet5 on glyphs (another dataset) - trained for real."""
    folder = tmp_path_factory.mktemp("attr-ckpts")
    paths = {
        "vgg_block": train(TrainConfig(arch="vgg_block", epochs=3, out=str(folder / "vgg_block.pt"), **DIGITS),
                           progress=False, log=quiet),
        "lenet5": train(TrainConfig(arch="lenet5", epochs=2, out=str(folder / "lenet5.pt"), **DIGITS),
                        progress=False, log=quiet),
        "glyphs": train(TrainConfig(arch="lenet5", dataset="glyphs", epochs=1, train_size=52, val_size=52, image_size=32,
                                    out=str(folder / "glyph_lenet.pt")), progress=False, log=quiet),
    }
    return paths


@pytest.fixture(scope="module")
def vgg(ckpts):
    run = load_checkpoint(ckpts["vgg_block"])
    assert run.best("val_acc") >= 0.8, "the fixture model should be trained (about 90% accurate)"
    val = run.val_data()
    return run, val, {"mean": run.meta["mean"], "std": run.meta["std"]}


class EdgeDetector(AttributionMethod):
    """Sobel edge magnitude of the input: ignores the model's weights entirely (must fail the sanity check)."""

    name = "edges"
    signed = False

    def _attribute(self, inputs, targets, options, pass_size):
        kx = torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]]).view(1, 1, 3, 3)
        grey = inputs.sum(1, keepdim=True)
        gx, gy = F.conv2d(grey, kx, padding=1), F.conv2d(grey, kx.transpose(2, 3), padding=1)
        return (gx ** 2 + gy ** 2).sqrt(), {}


# --- every method ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS.names())
def test_every_method_gives_maps_of_the_input_size_and_leaves_the_model_as_it_was(vgg, method):
    run, val, stats = vgg
    model = run.model.train()  # attribute() must switch to eval and restore train mode afterwards
    x, t = run.normalize(val.images[:3]), val.labels[:3]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    options = {"steps": 8} if method == "ig" else {"samples": 4} if method in ("smoothgrad", "gradient_shap") else {}
    result = attribute(model, x, t, method, **options, **stats)
    assert result.maps.shape == (3, 32, 32) and result.raw.shape[0] == 3 and result.raw.shape[-2:] == (32, 32)
    assert torch.isfinite(result.maps).all() and result.maps.abs().sum() > 0
    assert torch.equal(result.maps, result.raw.sum(1)) and torch.equal(result.targets, t)
    if result.signed:  # a signed method's maps carry both signs, in every image (IG, GradientSHAP, occlusion)
        assert (result.maps.amin((1, 2)) < 0).all() and (result.maps.amax((1, 2)) > 0).all(), result.maps.aminmax()
    else:  # magnitudes (saliency, SmoothGrad, Grad-CAM) never go negative
        assert result.raw.min() >= 0, result.raw.min()
    assert model.training and all(p.requires_grad and p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # eval mode: BN stats untouched
    model.eval()


def test_maps_depend_on_the_target(vgg):
    run, val, stats = vgg
    x = run.normalize(val.images[:2])
    a = attribute(run.model, x, torch.tensor([0, 0]), "saliency", **stats).maps
    b = attribute(run.model, x, torch.tensor([5, 5]), "saliency", **stats).maps
    assert not torch.allclose(a, b)


def test_internal_batching_does_not_change_the_result(vgg):
    run, val, stats = vgg
    x, t = run.normalize(val.images[:5]), val.labels[:5]
    whole = attribute(run.model, x, t, "ig", steps=12, internal_batch_size=5 * 12, **stats)
    chunked = attribute(run.model, x, t, "ig", steps=12, internal_batch_size=7, **stats)  # 7 image-steps per pass
    torch.testing.assert_close(whole.raw, chunked.raw, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(whole.extras["delta"], chunked.extras["delta"], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", ["black", "blurred", "noise"])
def test_ig_completeness_within_the_reported_delta(vgg, kind):
    """Sum of attributions = f(x) - f(baseline) for the target logit, up to the delta captum reports;
    the delta is small with Gauss-Legendre and smaller than a trapezoid rule with as many steps."""
    run, val, stats = vgg
    x, t = run.normalize(val.images[:8]), val.labels[:8]
    result = attribute(run.model, x, t, "ig", baseline=kind, steps=50, **stats)
    baseline = make_baseline(kind, x, **stats)
    with torch.no_grad():
        gap = (run.model(x) - run.model(baseline)).gather(1, t[:, None]).squeeze(1)
    total = result.raw.sum((1, 2, 3))
    torch.testing.assert_close(total - gap, result.extras["delta"], atol=1e-4, rtol=1e-3)
    assert (result.extras["delta"].abs() <= 0.02 * gap.abs() + 0.02).all(), (result.extras["delta"], gap)
    if kind == "black":
        trapezoid = attribute(run.model, x, t, "ig", baseline=kind, steps=50, integration="riemann_trapezoid", **stats)
        assert result.extras["delta"].abs().mean() < trapezoid.extras["delta"].abs().mean()


def test_black_baseline_is_a_zero_pixel_after_normalisation(vgg):
    run, val, stats = vgg
    x = run.normalize(val.images[:2])
    torch.testing.assert_close(make_baseline("black", x, **stats), run.normalize(torch.zeros_like(val.images[:2])))


def test_gradcam_finds_the_last_conv_that_runs():
    class Reversed(nn.Module):  # registered b, a; run a then b
        def __init__(self):
            super().__init__()
            self.b = nn.Conv2d(4, 4, 3, padding=1)
            self.a = nn.Conv2d(1, 4, 3, padding=1)
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))

        def forward(self, x):
            return self.head(self.b(F.relu(self.a(x))))

    assert find_last_conv(Reversed(), (1, 8, 8))[0] == "b"
    from xaicnn import models

    vgg = models.create("vgg_block", in_channels=1, num_classes=10, image_size=(32, 32))
    assert find_last_conv(vgg, (1, 32, 32))[0] == "features.3.0"
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    with pytest.raises(UserError, match="no Conv2d layer"):
        attribute(mlp, torch.randn(2, 1, 8, 8), torch.tensor([0, 1]), "gradcam")


def test_bad_method_and_options_are_one_sentence(vgg):
    run, val, _ = vgg
    x, t = run.normalize(val.images[:1]), val.labels[:1]
    with pytest.raises(UserError, match="did you mean ig"):
        attribute(run.model, x, t, "igg")
    with pytest.raises(UserError, match="ig has no option 'stpes'"):
        attribute(run.model, x, t, "ig", stpes=3)
    with pytest.raises(UserError, match="Unknown baseline 'white'"):
        attribute(run.model, x, t, "ig", baseline="white")


# --- faithfulness -----------------------------------------------------------------------------------------


def test_ig_deletes_faster_than_a_random_order_and_curves_start_and_end_where_they_must(vgg):
    run, val, stats = vgg
    x, t = run.normalize(val.images[:16]), val.labels[:16]
    maps = attribute(run.model, x, t, "ig", steps=16, **stats).maps
    f = deletion_insertion(run.model, x, t, maps, steps=16, **stats)
    assert f.deletion.shape == (16, 17) and f.fractions[0] == 0 and f.fractions[-1] == 1
    assert f.deletion_auc.mean() < f.deletion_auc_random.mean() - 0.05, f.summary()
    with torch.no_grad():
        p_full = run.model(x).softmax(1).gather(1, t[:, None]).squeeze(1)
        p_black = run.model(make_baseline("black", x, **stats)).softmax(1).gather(1, t[:, None]).squeeze(1)
        p_blur = run.model(make_baseline("blurred", x)).softmax(1).gather(1, t[:, None]).squeeze(1)
    for curve in (f.deletion, f.deletion_random):  # nothing removed = the image; everything removed = the baseline
        torch.testing.assert_close(curve[:, 0], p_full, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(curve[:, -1], p_black, atol=1e-5, rtol=1e-4)
    for curve in (f.insertion, f.insertion_random):
        torch.testing.assert_close(curve[:, 0], p_blur, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(curve[:, -1], p_full, atol=1e-5, rtol=1e-4)
    # a map that ranks the pixels backwards must delete slower than the real one
    backwards = deletion_insertion(run.model, x, t, -maps, steps=16, **stats)
    assert backwards.deletion_auc.mean() > f.deletion_auc.mean() + 0.1


# --- sanity check ------------------------------------------------------------------------------------------


def test_randomisation_flags_a_method_that_ignores_the_weights(vgg):
    run, val, stats = vgg
    x, t = run.normalize(val.images[:6]), val.labels[:6]
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    edges = sanity_check(run.model, x, t, EdgeDetector)
    assert edges.verdict == "fails" and min(edges.correlations) > 0.99
    assert edges.layers[0] == "classifier.1" and edges.layers[-1] == "features.0.0"  # output first, input last
    saliency = sanity_check(run.model, x, t, "saliency", **stats)
    assert saliency.verdict == "passes" and saliency.final < 0.5
    assert saliency.layers == edges.layers and len(saliency.per_image[0]) == 6
    assert all(torch.equal(before[k], v) for k, v in run.model.state_dict().items())  # worked on a copy


# --- compare_attributions and the CLI -------------------------------------------------------------------

RUN_KEYS = {"target", "prediction", "probability", "delta", "deletion_auc", "insertion_auc", "deletion_auc_random",
            "insertion_auc_random"}


def test_cli_writes_png_npz_and_json_with_the_exact_keys(ckpts, cli):
    import json

    import numpy as np

    code, out, err = cli("attribute", "--ckpt", ckpts["vgg_block"], "--index", "3,17,42", "--steps", "16", "--quiet")
    assert code == 0, err
    folder = ckpts["vgg_block"].parent / "vgg_block_attributions"  # default: next to the checkpoint
    doc = json.loads((folder / "attributions.json").read_text())
    assert set(doc) == {"method", "images"} and doc["method"] == "ig"
    assert [im["index"] for im in doc["images"]] == [3, 17, 42]
    run = load_checkpoint(ckpts["vgg_block"])
    labels = run.val_data().labels
    for im in doc["images"]:
        assert set(im) == {"index", "label", "runs"} and im["label"] == int(labels[im["index"]])
        assert list(im["runs"]) == ["vgg_block"] and set(im["runs"]["vgg_block"]) == RUN_KEYS
        rec = im["runs"]["vgg_block"]
        assert rec["target"] == rec["prediction"] and 0 < rec["probability"] <= 1 and abs(rec["delta"]) < 0.5
        assert all(0 <= rec[k] <= 1 for k in RUN_KEYS if "auc" in k)
    arrays = np.load(folder / "attributions.npz")
    assert set(arrays.files) == {"inputs", "targets", "vgg_block"}
    assert arrays["inputs"].shape == (3, 1, 32, 32) and arrays["inputs"].dtype == np.uint8
    assert arrays["vgg_block"].shape == (3, 32, 32) and arrays["targets"].shape == (1, 3)
    assert (folder / "attributions.png").stat().st_size > 10_000
    assert "deletion AUC" in out and "attributions.png" in out


def test_cli_two_checkpoints_side_by_side_and_json_stdout(ckpts, cli, tmp_path):
    import json

    import numpy as np
    from PIL import Image

    code, out, err = cli("attribute", "--ckpt", ckpts["vgg_block"], "--ckpt", ckpts["lenet5"], "--n", "2", "--steps", "8",
                         "--out", tmp_path, "--json")
    assert code == 0, err
    doc = json.loads(out)  # stdout holds the JSON only; messages go to stderr
    assert [list(im["runs"]) for im in doc["images"]] == [["vgg_block", "lenet5"]] * 2
    assert doc == json.loads((tmp_path / "attributions.json").read_text())
    assert set(np.load(tmp_path / "attributions.npz").files) == {"inputs", "targets", "vgg_block", "lenet5"}
    width, height = Image.open(tmp_path / "attributions.png").size
    assert width > 1.1 * height  # 2 rows x 3 columns (input + one per checkpoint); with one checkpoint it is taller than wide


def test_cli_comparison_default_folder_leaves_each_runs_own_files_alone(ckpts, cli):
    import json

    own = ckpts["vgg_block"].parent / "vgg_block_attributions"
    code, _, err = cli("attribute", "--ckpt", ckpts["vgg_block"], "--n", "1", "--steps", "4", "--quiet")
    assert code == 0, err
    before = (own / "attributions.json").read_text()
    code, _, err = cli("attribute", "--ckpt", ckpts["vgg_block"], "--ckpt", ckpts["lenet5"], "--n", "2", "--steps", "4",
                       "--quiet")
    assert code == 0, err
    pair = ckpts["vgg_block"].parent / "vgg_block_vs_lenet5_attributions"
    assert (own / "attributions.json").read_text() == before
    assert set(json.loads((pair / "attributions.json").read_text())["images"][0]["runs"]) == {"vgg_block", "lenet5"}


def test_compare_misclassified_random_and_file_images(ckpts, tmp_path):
    from PIL import Image

    from xaicnn.analysis.compare_attributions import compare_attributions
    from xaicnn.plots import plot_attribution_grid

    runs = [load_checkpoint(ckpts["vgg_block"]), load_checkpoint(ckpts["lenet5"])]
    val = runs[0].val_data()
    wrong = compare_attributions(runs, method="saliency", n=3, select="misclassified")
    images = wrong.to_json()["images"]
    assert len(images) == 3  # a ~90% model misclassifies ~20 of the 200 validation images
    for i, rec in enumerate(images):
        assert any(r["prediction"] != rec["label"] for r in rec["runs"].values())
        assert torch.equal(wrong.inputs[i], val.images[rec["index"]])
    picked = compare_attributions(runs[:1], method="saliency", n=4, select="random", seed=3)
    again = compare_attributions(runs[:1], method="saliency", n=4, indices="random", seed=3)
    assert picked.index == again.index and picked.index != list(range(4))
    # a file: converted to each checkpoint's channels and size; RGB 50x40 in, grey 32x32 out
    rgb = val.images[5, 0].numpy().repeat(3).reshape(32, 32, 3)
    Image.fromarray(rgb).resize((40, 50)).save(tmp_path / "digit.png")
    files = compare_attributions(runs, method="ig", images=[tmp_path / "digit.png"], target=4, steps=8)
    assert files.labels is None and files.inputs.shape == (1, 1, 32, 32) and files.index == [str(tmp_path / "digit.png")]
    assert all(int(r.targets[0]) == 4 for r in files.runs) and files.to_json()["images"][0]["label"] is None
    fig, axes = plot_attribution_grid(files)
    assert axes.shape == (1, 3)
    with pytest.raises(UserError, match="no label"):
        compare_attributions(runs, method="saliency", images=[tmp_path / "digit.png"], target="label")


def test_cli_bare_checkpoint_name_and_sanity(ckpts, cli, monkeypatch, tmp_path):
    import json

    monkeypatch.setenv("XAICNN_CHECKPOINT_DIR", str(ckpts["vgg_block"].parent))
    monkeypatch.chdir(tmp_path)  # the name is found in the checkpoint folder, not the working directory
    code, out, err = cli("attribute", "--ckpt", "vgg_block.pt", "--method", "saliency", "--n", "3", "--sanity",
                         "--out", "here", "--quiet")
    assert code == 0, err
    sanity = json.loads((tmp_path / "here" / "sanity.json").read_text())
    assert sanity["verdict"] == "passes" and sanity["steps"][0]["layer"] == "classifier.1"
    assert (tmp_path / "here" / "sanity.png").is_file() and "sanity check (saliency)" in out


@pytest.mark.parametrize("argv,needle", [
    (["--ckpt", "{glyphs}"], "trained on different data (dataset glyphs vs digits)"),
    (["--image", "{notes}"], "is not an image file"),
    (["--image", "{missing}"], "No image file at"),
    (["--method", "igg"], "did you mean ig"),
    (["--index", "3,9999"], "between 0 and 199"),
    (["--index", "3,x"], "comma-separated"),
    (["--target", "42"], "Target class 42 does not exist"),
    (["--target", "cat"], "--target must be pred, label or a class number"),
    (["--method", "saliency", "--steps", "5"], "--steps applies to ig, smoothgrad, gradient_shap, not saliency"),
    (["--image", "{notes}", "--index", "3"], "not allowed with argument"),
])
def test_cli_bad_input_is_one_sentence(ckpts, cli, tmp_path, argv, needle):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    fill = {"glyphs": ckpts["glyphs"], "notes": notes, "missing": tmp_path / "absent.png"}
    argv = [a.format(**fill) for a in argv]
    code, out, err = cli("attribute", "--ckpt", ckpts["vgg_block"], "--quiet", "--out", tmp_path / "out", *argv)
    assert code == 2 and needle in err and "Traceback" not in err
    lines = err.strip().splitlines()
    if lines[0].startswith("usage:"):  # argparse's own refusals: the usage, then one error line
        assert lines[-1].startswith("xaicnn attribute: error:") and needle in lines[-1], err
    else:
        assert len(lines) == 1, err


def test_cli_method_list_matches_the_registry():
    from xaicnn.cli import attribute as command

    assert set(command.METHODS) == set(METHODS.names())
