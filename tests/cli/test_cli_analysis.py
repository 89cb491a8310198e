"""xaicnn evaluate / gradflow / curves: files written, --json parses, bad input gives one sentence and exit 2."""
import json
import shutil

import matplotlib.image as mpimg
import pytest

from xaicnn.training import TrainConfig, read_checkpoint, train
from xaicnn.training.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """Two tiny finished runs (2 and 3 epochs), a copy without gradient flow, one with no finished epoch, junk."""
    folder = tmp_path_factory.mktemp("runs")
    quiet = lambda *a, **k: None  # noqa: E731
    base = dict(arch="vgg_block", dataset="digits", batch_size=32, train_size=200, val_size=60, precision="fp32")
    a = train(TrainConfig(**base, epochs=2, out=str(folder / "a.pt")), progress=False, log=quiet)
    b = train(TrainConfig(**base, epochs=3, seed=1, out=str(folder / "b.pt")), progress=False, log=quiet)
    state = read_checkpoint(a)
    save_checkpoint(folder / "no_grad.pt", {**state, "gradient_flow": {}})  # what --no-grad-flow leaves
    save_checkpoint(folder / "empty.pt", {**state, "history": [], "gradient_flow": {}})
    (folder / "junk.pt").write_bytes(b"not a checkpoint at all")
    return folder


def png_ok(path):
    assert path.is_file() and path.stat().st_size > 5 * 1024
    assert mpimg.imread(path)[..., :3].std() > 0.05


def test_evaluate_writes_figures_and_json(cli, ckpts, tmp_path):
    code, out, err = cli("evaluate", "--ckpt", ckpts / "a.pt", "--out", tmp_path / "ev", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["arch"] == "vgg_block" and doc["size"] == 60 and len(doc["per_class"]) == 10
    assert sum(map(sum, doc["confusion"])) == 60
    assert doc["accuracy"] == pytest.approx(read_checkpoint(ckpts / "a.pt")["history"][-1]["val_acc"], abs=1e-6)
    assert json.loads((tmp_path / "ev" / "evaluation.json").read_text()) == doc
    for name in ("confusion.png", "confusion_normalized.png", "per_class.png"):
        png_ok(tmp_path / "ev" / name)


def test_evaluate_text_and_default_out(cli, ckpts, monkeypatch):
    monkeypatch.setenv("XAICNN_CHECKPOINT_DIR", str(ckpts))
    code, out, err = cli("evaluate", "--ckpt", "b", "--val-size", "30")  # a bare name, resolved in the checkpoint dir
    assert code == 0, err
    assert "accuracy" in out and "macro" in out and "weighted" in out and "most confused pairs" in out
    assert "class     precision" in out
    default = ckpts / "b_evaluation"
    assert json.loads((default / "evaluation.json").read_text())["size"] == 30
    png_ok(default / "confusion.png")


def test_gradflow_per_run_figures_and_json(cli, ckpts, tmp_path):
    code, out, err = cli("gradflow", "--ckpt", ckpts / "a.pt", "--ckpt", ckpts / "b.pt", "--epochs", "1,2",
                         "--out", tmp_path / "gf", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert [r["label"] for r in doc["runs"]] == ["a", "b"] and doc["stat"] == "norm" and doc["weights_only"]
    a, b = doc["runs"]
    assert a["epochs"] == [1, 2] and b["epochs"] == [1, 2, 3]
    assert a["layers"][0] == "features.0.0.weight" and len(a["matrix"]) == len(a["layers"]) == 5
    recorded = read_checkpoint(ckpts / "b.pt")["gradient_flow"]
    col = recorded["names"].index("classifier.1.weight")
    assert b["matrix"][-1] == pytest.approx([epoch[0][col] for epoch in recorded["epochs"]])
    assert b["stages"]["names"] == ["features", "classifier"]
    assert json.loads((tmp_path / "gf" / "gradflow.json").read_text()) == doc
    for label in ("a", "b"):
        for kind in ("bars", "heatmap", "lines"):
            png_ok(tmp_path / "gf" / f"{label}_{kind}.png")
    png_ok(tmp_path / "gf" / "stages.png")


def test_gradflow_all_params_other_stat_default_out(cli, ckpts):
    code, out, err = cli("gradflow", "--ckpt", ckpts / "a.pt", "--stat", "max_abs", "--all-params")
    assert code == 0, err
    assert "max |gradient|" in out and "14 parameter rows" in out
    doc = json.loads((ckpts / "a_gradflow" / "gradflow.json").read_text())
    assert doc["stat"] == "max_abs" and len(doc["runs"][0]["layers"]) == 14


def test_curves_overlay_runs(cli, ckpts, tmp_path):
    code, out, err = cli("curves", "--ckpt", ckpts / "a.pt", "--ckpt", ckpts / "b.pt", "--out", tmp_path / "c", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert [len(r["history"]) for r in doc["runs"]] == [2, 3]
    assert doc["runs"][1]["history"][2]["val_acc"] == read_checkpoint(ckpts / "b.pt")["history"][2]["val_acc"]
    assert json.loads((tmp_path / "c" / "curves.json").read_text()) == doc
    png_ok(tmp_path / "c" / "curves.png")
    code, out, _ = cli("curves", "--ckpt", ckpts / "a.pt")
    assert code == 0 and "best val acc" in out and (ckpts / "a_curves" / "curves.png").is_file()


def test_same_stem_runs_get_distinct_files(cli, ckpts, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    shutil.copy(ckpts / "a.pt", tmp_path / "x" / "run.pt")
    shutil.copy(ckpts / "b.pt", tmp_path / "y" / "run.pt")
    code, out, err = cli("gradflow", "--ckpt", tmp_path / "x" / "run.pt", "--ckpt", tmp_path / "y" / "run.pt", "--json")
    assert code == 0, err
    assert [r["label"] for r in json.loads(out)["runs"]] == ["run-1", "run-2"]
    assert (tmp_path / "x" / "run_gradflow" / "run-2_heatmap.png").is_file()


@pytest.mark.parametrize("argv,needle", [
    (["evaluate", "--ckpt", "{d}/missing.pt"], "No checkpoint at"),
    (["evaluate", "--ckpt", "{d}/a.pt", "--val-size", "0"], "--val-size must be at least 1"),
    (["gradflow", "--ckpt", "{d}/no_grad.pt"], "--no-grad-flow"),
    (["gradflow", "--ckpt", "{d}/a.pt", "--ckpt", "{d}/b.pt", "--epochs", "3"], "Epoch 3 is outside a's recorded epochs 1-2"),
    (["gradflow", "--ckpt", "{d}/a.pt", "--epochs", "one"], "--epochs takes positive epoch numbers"),
    (["gradflow", "--ckpt", "{d}/a.pt", "--epochs", "0,1"], "--epochs takes positive epoch numbers"),
    (["curves", "--ckpt", "{d}/a.pt", "--ckpt", "{d}/empty.pt"], "has no finished epoch yet"),
    (["curves", "--ckpt", "{d}/junk.pt"], "junk.pt"),  # refused by the checkpoint reader, one sentence
])
def test_bad_input_one_sentence_exit_2(cli, ckpts, tmp_path, argv, needle):
    code, out, err = cli(*[a.format(d=ckpts) for a in argv], "--out", tmp_path / "never")
    assert code == 2 and out == ""
    message = err.strip()
    assert needle in message and "Traceback" not in err
    assert message.count("\n") == 0 and message.rstrip(".").count(". ") == 0  # one line, one sentence
    assert not (tmp_path / "never").exists()
