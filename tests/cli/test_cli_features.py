"""xaicnn features: filters, feature maps, unit health, top images written and in features.json (1- and 3-channel runs)."""
import json

import matplotlib.image as mpimg
import numpy as np
import pytest
from PIL import Image

from xaicnn.training import TrainConfig, train


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """Tiny 1-epoch runs: vgg_block on digits (1 channel), vgg_block on a generated RGB image folder (3 channels,
    two colour classes: no download needed) and fc20 (no convolution) on digits."""
    folder = tmp_path_factory.mktemp("runs")
    rgb = folder / "rgb"
    rng = np.random.default_rng(0)
    for split, count in (("train", 24), ("val", 8)):
        for c, name in enumerate(("reddish", "bluish")):
            (rgb / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 120, (16, 16, 3), dtype=np.uint8)
                pixels[..., 2 * c] += 120  # red (class 0) or blue (class 1) dominates
                Image.fromarray(pixels).save(rgb / split / name / f"{i}.png")
    quiet = lambda *a, **k: None  # noqa: E731
    base = dict(batch_size=16, precision="fp32", epochs=1)
    train(TrainConfig(arch="vgg_block", dataset="digits", train_size=100, val_size=40, **base,
                      out=str(folder / "digits.pt")), progress=False, log=quiet)
    train(TrainConfig(arch="vgg_block", dataset=f"imagefolder:{rgb}", **base, out=str(folder / "rgb.pt")),
          progress=False, log=quiet)
    train(TrainConfig(arch="fc20", dataset="digits", train_size=100, val_size=40, image_size=8,
                      model_options={"width": 16}, **base, out=str(folder / "fc.pt")), progress=False, log=quiet)
    return folder


def png_ok(path):
    assert path.is_file() and path.stat().st_size > 5 * 1024
    assert mpimg.imread(path)[..., :3].std() > 0.05


def test_features_of_a_digits_run_writes_figures_and_dead_share_per_layer(cli, ckpts, tmp_path):
    code, out, err = cli("features", "--ckpt", ckpts / "digits.pt", "--top", "8", "--image", "3", "--k", "4",
                         "--channels", "3", "--batch-size", "16", "--out", tmp_path / "f", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert json.loads((tmp_path / "f" / "features.json").read_text()) == doc
    (run,) = doc["runs"]
    assert run["filters"]["module"] == "features.0.0" and run["filters"]["display"] == "grey"
    assert run["filters"]["shape"] == [32, 1, 3, 3] and "0 = grey" in run["filters"]["caption"]
    maps = run["feature_maps"]
    assert maps["layer"] == "features.2" and len(maps["channels"]) == 8 and maps["image_index"] == 3
    assert maps["means"] == sorted(maps["means"], reverse=True)
    health = run["unit_health"]
    assert health["images"] == 40 and health["excluded"] == ["classifier.1"]
    assert [r["layer"] for r in health["rows"]] == ["features.0", "features.2", "features.3"]
    for row in health["rows"]:
        assert 0 <= row["dead_share"] <= 1 and row["dead_share"] == pytest.approx(row["dead"] / row["units"], abs=1e-6)
    top = run["top_images"]
    assert top["layer"] == "features.2" and top["k"] == 4 and top["images"] == 40 and len(top["channels"]) == 3
    for name in ("filters.png", "feature_maps.png", "unit_health.png", "top_images.png"):
        png_ok(tmp_path / "f" / name)


def test_features_of_a_3_channel_run_draws_rgb_filters_in_the_default_folder(cli, ckpts):
    code, out, err = cli("features", "--ckpt", ckpts / "rgb.pt", "--layer", "features.3", "--n", "10")
    assert code == 0, err
    assert "filters 3x3 (RGB); scale ±" in out and "unit health over 10 images" in out
    doc = json.loads((ckpts / "rgb_features" / "features.json").read_text())
    (run,) = doc["runs"]
    assert run["input_size"][0] == 3 and run["filters"]["display"] == "rgb"
    assert run["filters"]["shape"] == [32, 3, 3, 3] and run["feature_maps"]["layer"] == "features.3"
    assert run["feature_maps"]["image_class"] in ("bluish", "reddish")
    png_ok(ckpts / "rgb_features" / "filters.png")


def test_two_runs_and_a_net_without_convolutions(cli, ckpts):
    code, out, err = cli("features", "--ckpt", ckpts / "digits.pt", "--ckpt", ckpts / "fc.pt", "--n", "20")
    assert code == 0, err
    assert "fc: no filters" in out and "fc: no feature maps" in out
    doc = json.loads((ckpts / "digits_vs_fc_features" / "features.json").read_text())
    digits, fc = doc["runs"]
    assert "skipped" in fc["filters"] and "skipped" in fc["feature_maps"] and "skipped" in fc["top_images"]
    assert digits["top_images"]["images"] == 20 and "top_images_digits" in doc["files"]
    png_ok(ckpts / "digits_vs_fc_features" / "top_images_digits.png")
    assert len(fc["unit_health"]["rows"]) >= 19 and all(r["units"] == 16 for r in fc["unit_health"]["rows"])
    assert digits["unit_health"]["images"] == fc["unit_health"]["images"] == 20
    png_ok(ckpts / "digits_vs_fc_features" / "unit_health.png")


@pytest.mark.parametrize("argv, message", [
    (["--layer", "feature.3"], "No layer 'feature.3' in BlockNet; did you mean features.3"),
    (["--layers", "blox"], "Unknown layer kind 'blox'; did you mean blocks"),
    (["--top", "0"], "must be at least 1"),
    (["--k", "0"], "must be at least 1"),
    (["--image", "40"], "--image must be below 40"),
])
def test_bad_input_is_one_sentence(cli, ckpts, tmp_path, argv, message):
    code, out, err = cli("features", "--ckpt", ckpts / "digits.pt", "--out", tmp_path / "x", *argv)
    assert code == 2 and message in err and "Traceback" not in err
