"""xaicnn receptive-field (--arch and --ckpt) and summary's receptive-field columns."""
import json

import matplotlib.image as mpimg
import pytest

from xaicnn.training import TrainConfig, train


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A tiny finished run: vgg_block on 200 digits, one epoch."""
    folder = tmp_path_factory.mktemp("runs")
    config = TrainConfig(arch="vgg_block", dataset="digits", batch_size=32, train_size=200, val_size=60, epochs=1,
                         precision="fp32", out=str(folder / "tiny.pt"))
    return train(config, progress=False, log=lambda *a, **k: None)


def png_ok(path):
    assert path.is_file() and path.stat().st_size > 5 * 1024
    assert mpimg.imread(path)[..., :3].std() > 0.05


def test_checkpoint_trained_vs_init_writes_figures_and_json(cli, ckpt, tmp_path):
    code, out, err = cli("receptive-field", "--ckpt", ckpt, "--n", 16, "--seeds", 2, "--out", tmp_path / "rf", "--json")
    assert code == 0, err
    doc = json.loads(out)
    (record,) = doc["runs"]
    assert doc["n"] == 16 and doc["seeds"] == 2 and record["arch"] == "vgg_block"
    assert record["receptive_field"] == {"layer": "pool", "size": [26, 26], "jump": [8, 8], "start": [3.5, 3.5]}
    trained, init = record["effective"]["trained"], record["effective"]["init"]
    assert trained["layer"] == init["layer"] == "pool" and (trained["models"], init["models"]) == (1, 2)
    assert trained["images"] == 16 and 0 < trained["radius"] <= 12.5 and 0 < init["fraction"] <= 1
    assert json.loads((tmp_path / "rf" / "receptive_field.json").read_text()) == doc
    png_ok(tmp_path / "rf" / "effective_rf.png")
    png_ok(tmp_path / "rf" / "receptive_fields.png")


def test_architecture_table_and_summary_json(cli, tmp_path):
    code, out, err = cli("receptive-field", "--arch", "vgg16", "--input-size", "3,224,224", "--out", tmp_path / "a")
    assert code == 0, err
    assert "features.28" in out and "196" in out and "212 pixels with jump 32" in out
    png_ok(tmp_path / "a" / "receptive_fields.png")
    code, out, err = cli("summary", "--arch", "vgg16", "--input-size", "3,224,224", "--num-classes", "1000", "--json")
    assert code == 0, err
    doc = json.loads(out)
    convs = [row for row in doc["layers"] if row["type"] == "Conv2d"]
    assert len(convs) == 13 and all(row["receptive_field"] and row["jump"] for row in convs)
    assert convs[-1]["receptive_field"] == [196, 196]
    assert doc["receptive_field"] == {"layer": "features", "size": [212, 212], "jump": [32, 32], "start": [15.5, 15.5]}


@pytest.mark.parametrize("argv,sentence", [
    ([], "Give either --arch NAME"),
    (["--arch", "vgg16", "--ckpt", "x.pt"], "Give either --arch NAME"),
    (["--arch", "fc20", "--out", "{tmp}/fc"], None),  # no spatial layer: said, not an error
])
def test_one_sentence_errors(cli, tmp_path, argv, sentence):
    code, out, err = cli("receptive-field", *[a.format(tmp=tmp_path) for a in argv])
    if sentence is None:
        assert code == 0 and "no spatial layer" in out
    else:
        assert code == 2 and sentence in err and "Traceback" not in err
