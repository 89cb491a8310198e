"""The Confusion page: a clickable matrix per run, the images behind a picked cell, disagreement sets."""
import numpy as np

from test_app import open_app, show, texts, units, vega


def test_a_picked_cell_shows_its_images_with_every_runs_prediction(runs_folder, monkeypatch, tmp_path):
    from xaicnn.analysis.metrics import evaluate
    from xaicnn.training import load_checkpoint

    at = show(open_app(runs_folder, monkeypatch, tmp_path), "Confusion")
    assert not at.exception and not at.main.error
    specs = vega(at)
    assert len(specs) == 2 and all(any(p.get("name") == "cell" for v in (s, *units(s)) for p in v.get("params", []))
                                   for s in specs)  # clickable
    ev = evaluate(load_checkpoint(runs_folder / "vgg_block.pt"))
    wrong = np.flatnonzero(ev.y_true != ev.y_pred)
    true, predicted = int(ev.y_true[wrong[0]]), int(ev.y_pred[wrong[0]])
    at.session_state["cm_pick"] = {"run": "vgg_block", "true": true, "predicted": predicted}  # what a click sets
    at.run()
    assert not at.exception
    expected = np.flatnonzero((ev.y_true == true) & (ev.y_pred == predicted))
    assert f"vgg_block: class {ev.classes[true]} predicted as {ev.classes[predicted]}" in texts(at)
    table = next(df.value for df in at.main.dataframe if "index" in df.value.columns)
    assert table["index"].tolist() == expected.tolist()
    assert {"vgg_block: prediction", "transformer_block: probability"} <= set(table.columns)
    assert (table["vgg_block: prediction"] == ev.classes[predicted]).all()
    assert len(at.main.image) >= 3  # two per-class charts and the cell's images
    at.button(key="cm_explain").click().run()  # one click to their attributions
    assert at.session_state["page"] == "Attributions" and at.session_state["attr_source"] == "index"
    assert at.session_state["attr_indices"] == ", ".join(map(str, expected[:12]))


def test_disagreement_sets_of_two_runs(runs_folder, monkeypatch, tmp_path):
    from xaicnn.analysis.drilldown import disagreement
    from xaicnn.analysis.metrics import evaluate
    from xaicnn.training import load_checkpoint

    at = show(open_app(runs_folder, monkeypatch, tmp_path), "Confusion")
    assert "Where two runs disagree" in texts(at)
    a, b = at.selectbox(key="dis_a").value, at.selectbox(key="dis_b").value
    d = disagreement(evaluate(load_checkpoint(runs_folder / f"{a}.pt")), evaluate(load_checkpoint(runs_folder / f"{b}.pt")))
    assert f"{a} right, {b} wrong: {len(d.a_right_b_wrong)}" in texts(at)
    assert f"{b} right, {a} wrong: {len(d.b_right_a_wrong)}" in texts(at)

