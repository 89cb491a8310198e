"""The comparison app under streamlit's AppTest: empty folder, two runs on every page, broken files, uploads."""
import io
import json
import shutil
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "apps" / "compare.py"
sys.path.insert(0, str(APP.parent))  # the app's helper modules (_uploads) for the direct tests

PAGES = ["Overview", "Curves", "Gradient flow", "Complexity", "Receptive fields", "Similarity", "Inside", "Confusion", "Attributions",
         "Studies"]


def open_app(folder, monkeypatch, tmp_path) -> AppTest:
    monkeypatch.setenv("XAICNN_CHECKPOINT_DIR", str(folder))
    monkeypatch.chdir(tmp_path)  # no studies/ or checkpoints/ of the repository leak in
    return AppTest.from_file(str(APP), default_timeout=120).run()


def texts(at) -> str:
    """Every string the app showed (markdown, captions, errors, infos, widget labels and options, tables)."""
    parts = [e.value for kind in (at.markdown, at.caption, at.error, at.info, at.subheader) for e in kind]
    parts += [str(o) for m in at.multiselect for o in m.options] + [t.label for t in at.tabs]
    parts += [df.value.to_string() for df in at.dataframe]
    return "\n".join(parts)


def show(at, page: str) -> AppTest:
    at.session_state["page"] = page
    return at.run()


def vega(at) -> list[dict]:
    """The Vega-Lite specs of the interactive charts on the page (``st.altair_chart``), each with its
    ``datasets`` back in the spec as row dicts (Streamlit sends them beside it as Arrow tables)."""
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    specs = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        spec["datasets"] = {d.name: convert_arrow_bytes_to_pandas_df(d.data.data).to_dict("records")
                            for d in chart.proto.datasets}
        specs.append(spec)
    return specs


def units(spec: dict):
    """Every unit view (a dict with a ``mark``) of a Vega-Lite spec."""
    if "mark" in spec:
        yield spec
    for part in ("layer", "hconcat", "vconcat", "concat"):
        for child in spec.get(part, []):
            yield from units(child)


def chart_runs(spec: dict, field: str) -> set:
    """The values of ``field`` in every dataset of a spec (the runs a chart draws)."""
    return {row[field] for rows in spec.get("datasets", {}).values() for row in rows if field in row}


def assert_interactive_pages(at, runs: set[str], series: set[str]) -> AppTest:
    """Curves, Gradient flow and Complexity draw Vega-Lite charts of ``runs`` (curves: ``series``), no PNG."""
    at = show(at, "Curves")
    assert not at.exception and not at.main.error and not at.main.image
    (curves,) = vega(at)
    assert chart_runs(curves, "series") == series
    assert {r["panel"] for rows in curves["datasets"].values() for r in rows} == {"digits (10 classes)"}
    at.radio(key="curves_loss_scale").set_value("log").run()
    loss_panel = vega(at)[0]["vconcat"][0]["hconcat"][0]
    assert {u["encoding"]["y"]["scale"].get("type") for u in units(loss_panel)} == {"log"}
    at = show(at, "Gradient flow")
    assert not at.exception and not at.main.error and not at.main.image
    profile, heatmaps, lines = vega(at)
    assert chart_runs(profile, "run") == chart_runs(heatmaps, "run") == chart_runs(lines, "run") == runs
    cells = list(units(heatmaps))
    assert len(cells) == len(runs) and len({json.dumps(c["encoding"]["color"]["scale"]) for c in cells}) == 1
    assert "One colour scale for every run" in texts(at)
    at.radio(key="gf_x").set_value("index")
    at.radio(key="gf_level").set_value("stage").run()
    assert not at.exception and vega(at)[0]["encoding"]["x"]["field"] == "index"
    at = show(at, "Complexity")
    assert not at.exception and not at.main.error and not at.main.image
    (scatter,) = vega(at)
    assert chart_runs(scatter, "run") == runs
    assert len(at.main.dataframe) == 2  # the per-layer tables of two runs, side by side
    return at


def test_an_empty_folder_says_how_to_make_runs(monkeypatch, tmp_path):
    (tmp_path / "empty").mkdir()
    at = open_app(tmp_path / "empty", monkeypatch, tmp_path)
    assert not at.exception and not at.error and not at.tabs
    shown = texts(at)
    assert "No runs found" in shown and "make demo" in shown and "xaicnn train --arch vgg_block" in shown


def test_a_missing_folder_is_one_sentence_not_a_traceback(monkeypatch, tmp_path):
    at = open_app(tmp_path / "nowhere", monkeypatch, tmp_path)
    assert not at.exception
    assert [e.value for e in at.error] == [f"{tmp_path / 'nowhere'} is not a folder; pick a folder that holds "
                                           f"checkpoints (*.pt)."]


def test_two_runs_render_on_every_page(runs_folder, monkeypatch, tmp_path):
    at = open_app(runs_folder, monkeypatch, tmp_path)
    assert [t.label for t in at.tabs] == PAGES
    assert at.multiselect[0].value == ["transformer_block", "vgg_block"]
    overview = at.main.dataframe[0].value  # [0] is the sidebar's run list
    assert sorted(overview["arch"]) == ["transformer_block", "vgg_block"]
    assert overview["epochs"].tolist() == [2, 2]
    for page in PAGES:
        at = show(at, page)
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])
    both = {"transformer_block", "vgg_block"}
    at = assert_interactive_pages(at, both, series=both)
    assert [at.selectbox(key=k).value for k in ("cx_left", "cx_right")] == ["transformer_block", "vgg_block"]


def test_a_dozen_runs_render_on_the_chart_pages(runs_folder, monkeypatch, tmp_path):
    for i in range(5):  # 2 trained runs + 10 copies = 12; copies group with their original (same seed: "runs")
        for arch in ("vgg_block", "transformer_block"):
            shutil.copy(runs_folder / f"{arch}.pt", runs_folder / f"{arch}-copy{i}.pt")
    at = open_app(runs_folder, monkeypatch, tmp_path)
    names = at.multiselect[0].options
    assert len(names) == 12
    at.multiselect[0].set_value(names).run()
    at = assert_interactive_pages(at, set(names), series={"transformer_block (6 runs)", "vgg_block (6 runs)"})
    at = show(at, "Curves")
    (curves,) = vega(at)
    assert curves["config"]["legend"]["orient"] == "bottom"  # legends below the plots, never on them
    for page in ("Overview", "Confusion", "Attributions", "Studies"):  # and every other page
        at = show(at, page)
        assert not at.exception and not at.main.error, page
    at = show(at, "Confusion")
    assert len(vega(at)) == 12  # one clickable matrix per run
    at = show(at, "Attributions")
    assert 0 < len(at.multiselect(key="attr_drawn").value) <= 6  # at most 6 runs drawn; the table has all 12


def test_a_broken_checkpoint_is_listed_as_broken_and_the_others_work(runs_folder, monkeypatch, tmp_path):
    good = (runs_folder / "vgg_block.pt").read_bytes()
    (runs_folder / "half.pt").write_bytes(good[: len(good) // 3])
    at = open_app(runs_folder, monkeypatch, tmp_path)
    assert not at.exception
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and "**half** is broken" in errors[0] and "not a readable checkpoint" in errors[0]
    assert at.multiselect[0].options == ["transformer_block", "vgg_block"] or \
        sorted(at.multiselect[0].value) == ["transformer_block", "vgg_block"]
    at = show(at, "Curves")
    assert not at.exception and len(vega(at)) == 1 and chart_runs(vega(at)[0], "series") == {"transformer_block",
                                                                                               "vgg_block"}


def test_selecting_runs_narrows_every_page(runs_folder, monkeypatch, tmp_path):
    at = open_app(runs_folder, monkeypatch, tmp_path)
    at.multiselect[0].set_value(["vgg_block"]).run()
    assert at.main.dataframe[0].value["arch"].tolist() == ["vgg_block"]
    at = show(at, "Gradient flow")
    assert [chart_runs(spec, "run") for spec in vega(at)] == [{"vgg_block"}] * 3
    at.multiselect[0].set_value([]).run()
    assert [i.value for i in at.info] == ["Select one or more runs in the sidebar."]


# --- uploads: the function the Attributions page calls on every uploaded file ---


def _png(size=(40, 30), mode="RGB") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size, color=200 if mode == "L" else (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_uploaded_image_is_decoded_then_converted_to_each_runs_input_format():
    from _uploads import read_upload
    from xaicnn.analysis.compare_attributions import image_to_tensor

    rgb = read_upload("photo.PNG", _png())
    assert rgb.shape == (30, 40, 3) and rgb.dtype.name == "uint8" and tuple(rgb[5, 5]) == (200, 10, 10)
    grey = image_to_tensor(rgb, 1, (32, 32))  # what compare_attributions does per run
    assert grey.shape == (1, 32, 32) and int(grey[0, 5, 5]) == round(0.299 * 200 + 0.587 * 10 + 0.114 * 10)
    inverted = read_upload("photo.png", _png(mode="L"), invert=True)
    assert inverted.shape == (30, 40, 3) and int(inverted.max()) == int(inverted.min()) == 55


def test_the_upload_page_refuses_a_non_image_and_explains_an_image(runs_folder, monkeypatch, tmp_path):
    at = show(open_app(runs_folder, monkeypatch, tmp_path), "Attributions")
    at.radio(key="attr_source").set_value("upload").run()
    assert [i.value for i in at.info] == ["Upload one or more images; each is converted to every run's input format."]
    at.file_uploader(key="attr_uploads").set_value([("notes.txt", b"hello", "text/plain"),
                                                    ("digit.png", _png((16, 16), "L"), "image/png")]).run()
    assert not at.exception
    assert [e.value for e in at.main.error] == ["notes.txt is not an image file; upload one of png, jpg, jpeg, bmp, "
                                                "gif, webp, tif, tiff."]
    table = at.main.dataframe[0].value
    assert table["image"].tolist() == ["0", "0"] and sorted(table["run"]) == ["transformer_block", "vgg_block"]
    assert table["label"].isna().all() and ((table["probability"] > 0) & (table["probability"] <= 1)).all()
    assert len(at.main.image) == 2  # the grid and the deletion/insertion curves


def test_a_study_is_listed_with_its_verdicts_and_opens_its_runs(runs_folder, monkeypatch, tmp_path):
    import json
    import shutil

    from xaicnn.studies.record import FORMAT

    study = tmp_path / "studies" / "blocks"
    shutil.copytree(runs_folder, study / "runs")
    claim = {"claim": "the VGG block beats the transformer block", "original": "0.991 vs 0.895", "kind": "runs",
             "metric": "final_acc", "ours": "0.9 vs 0.8", "p_value": 0.01, "p_holm": 0.02, "difference": 0.1,
             "ci_low": 0.05, "ci_high": 0.15, "verdict": "direction reproduced", "test": "welch",
             "source": "001 conclusion"}
    exact = {"claim": "params", "kind": "exact", "metric": "params", "ours": "1 vs 2", "verdict": "exact match"}
    (study / "study.json").write_text(json.dumps({
        "format": FORMAT, "name": "blocks", "preset": "smoke", "description": "two blocks", "seeds": 1,
        "table": [{"condition": "vgg", "arch": "vgg_block", "n": 1, "final_acc_mean": 0.9, "final_acc_ci_low": 0.8}],
        "claims": [claim, exact], "figures": []}))
    empty = tmp_path / "empty"
    empty.mkdir()
    at = open_app(empty, monkeypatch, tmp_path)  # no runs: the empty state still lists the studies
    assert "No runs found" in texts(at) and [s.value for s in at.subheader][-1] == "blocks: two blocks"
    claims, checks, table = (df.value for df in at.main.dataframe)
    assert claims["verdict"].tolist() == ["direction reproduced"] and claims["p (Holm)"].tolist() == [0.02]
    assert claims["our effect [95% CI]"].tolist() == ["+0.100 [+0.050, +0.150]"]
    assert checks["verdict"].tolist() == ["exact match"]  # exact checks in their own table
    assert "final_acc_ci_low" not in table.columns and table["final val accuracy"].tolist() == ["0.900"]
    assert table["parameters"].tolist() == ["—"]  # no None on the page
    at.button(key="open_study_runs").click().run()
    assert not at.exception
    assert at.button(key="study_back")  # a way back to the study
    assert (tmp_path / at.text_input(key="folder").value).resolve() == (study / "runs").resolve()
    assert sorted(at.multiselect[0].value) == ["transformer_block", "vgg_block"]
    assert sorted(at.main.dataframe[0].value["arch"]) == ["transformer_block", "vgg_block"]  # the Overview
    at.button(key="study_back").click().run()  # and back: the folder from before, on the Studies page
    assert not at.exception and at.session_state["page"] == "Studies"
    assert at.text_input(key="folder").value == str(empty) and "study_return" not in at.session_state
