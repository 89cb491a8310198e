"""The Receptive fields and Similarity pages (issue 13) under AppTest, on the two tiny digits runs."""
import math

from test_app import open_app, show, texts, vega


def test_receptive_fields_page_shows_both_runs_fields_and_effective_maps(runs_folder, monkeypatch, tmp_path):
    at = show(open_app(runs_folder, monkeypatch, tmp_path), "Receptive fields")
    assert not at.exception and not at.main.error, [e.value for e in at.main.error]
    theoretical, effective = at.main.dataframe[0].value, at.main.dataframe[1].value
    assert sorted(theoretical["run"]) == ["transformer_block", "vgg_block"]
    assert len(at.main.image) == 2  # the field-growth figure, and the maps on one colour scale
    assert sorted(effective["run"]) == ["transformer_block", "vgg_block"]
    assert ((effective["fraction of the theoretical half-size"] > 0) & (effective["trained / init"] > 0)).all()
    at.selectbox(key="erf_stage").set_value("the last spatial layer").run()
    assert not at.exception and not at.main.error
    assert "Effective receptive field" in texts(at)


def test_similarity_page_compares_two_runs_and_one_with_itself(runs_folder, monkeypatch, tmp_path):
    at = show(open_app(runs_folder, monkeypatch, tmp_path), "Similarity")
    assert not at.exception and not at.main.error, [e.value for e in at.main.error]
    (heatmap,) = vega(at)
    rows = next(iter(heatmap["datasets"].values()))
    assert {r["run_a"] for r in rows} == {"transformer_block"} and {r["run_b"] for r in rows} == {"vgg_block"}
    assert all(0 <= r["cka"] <= 1 + 1e-9 for r in rows if r["cka"] is not None)
    at.selectbox(key="cka_b").set_value("transformer_block").run()  # one run with itself
    assert not at.exception and not at.main.error
    rows = next(iter(vega(at)[0]["datasets"].values()))
    diagonal = [r["cka"] for r in rows if r["row"] == r["column"]]
    assert diagonal and all(math.isclose(v, 1.0, abs_tol=1e-6) for v in diagonal)
    table = at.main.dataframe[0].value
    assert (table["layer"] != table["most similar"]).all()  # a layer's best match is another layer
