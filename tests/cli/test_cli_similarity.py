"""xaicnn similarity: PNG + JSON written, --json parses, self-similarity by default, bad input in one sentence."""
import json

import matplotlib.image as mpimg
import pytest

from xaicnn.training import TrainConfig, train


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """Two tiny finished runs on digits: vgg_block (1 epoch) and bottleneck_block (1 epoch)."""
    folder = tmp_path_factory.mktemp("runs")
    quiet = lambda *a, **k: None  # noqa: E731
    base = dict(dataset="digits", batch_size=32, train_size=100, val_size=40, precision="fp32", epochs=1)
    train(TrainConfig(arch="vgg_block", **base, out=str(folder / "a.pt")), progress=False, log=quiet)
    train(TrainConfig(arch="bottleneck_block", **base, out=str(folder / "b.pt")), progress=False, log=quiet)
    return folder


def test_similarity_of_two_runs_writes_heatmap_and_json(cli, ckpts, tmp_path):
    code, out, err = cli("similarity", "--ckpt", ckpts / "a.pt", "--ckpt", ckpts / "b.pt", "--n", "40",
                         "--batch-size", "20", "--out", tmp_path / "cka", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["runs"] == ["a", "b"] and doc["archs"] == ["vgg_block", "bottleneck_block"] and doc["images"] == 40
    assert len(doc["cka"]) == len(doc["layers_a"]) == 4 and all(len(row) == len(doc["layers_b"]) for row in doc["cka"])
    assert doc["batches"] == 2 and not doc["self_similarity"] and "unbiased" in doc["estimator"]
    assert json.loads((tmp_path / "cka" / "similarity.json").read_text()) == doc
    png = tmp_path / "cka" / "similarity.png"
    assert png.stat().st_size > 5 * 1024 and mpimg.imread(png)[..., :3].std() > 0.05


def test_one_checkpoint_is_self_similarity_with_text_output(cli, ckpts, tmp_path):
    code, out, err = cli("similarity", "--ckpt", ckpts / "a.pt", "--layers", "convs", "--out", tmp_path / "self")
    assert code == 0, err
    assert "a with itself" in out and "most similar layer" in out and "similarity.png" in out
    doc = json.loads((tmp_path / "self" / "similarity.json").read_text())
    assert doc["self_similarity"] and doc["layers_a"] == doc["layers_b"] and doc["layer_kind"] == "convs"
    assert all(doc["cka"][i][i] == pytest.approx(1) for i in range(len(doc["cka"])))


@pytest.mark.parametrize("argv, message", [
    (["--layers", "blox"], "Unknown layer kind 'blox'; did you mean blocks"),
    (["--n", "2"], "at least 4"),
    (["--ckpt", "a.pt", "--ckpt", "a.pt"], "one run with itself or two runs"),
])
def test_bad_input_is_one_sentence(cli, ckpts, tmp_path, argv, message):
    code, out, err = cli("similarity", "--ckpt", ckpts / "a.pt", "--out", tmp_path / "x", *argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_default_folder_names_both_runs_of_a_comparison(cli, ckpts):
    code, out, err = cli("similarity", "--ckpt", ckpts / "a.pt", "--ckpt", ckpts / "b.pt", "--n", "8")
    assert code == 0, err
    assert (ckpts / "a_vs_b_similarity" / "similarity.json").is_file() and not (ckpts / "a_similarity").exists()
