"""The Attributions page under AppTest: one stated colour scale (or each map on its own), the agreement matrix
with the library's values, downloads with data, and more than six runs drawn six at a time."""
import io
import json
import shutil

import numpy as np
import pytest

from test_app import open_app, show, texts

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def recorded_files(monkeypatch):
    """Every file the app hands to streamlit's media manager (images, downloads), by file name; deferred
    downloads as their callables."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    files, add, add_deferred = {}, MediaFileManager.add, MediaFileManager.add_deferred

    def record(self, data, mimetype, coordinates, file_name=None, is_for_static_download=False):
        if file_name:
            files[file_name] = data
        return add(self, data, mimetype, coordinates, file_name=file_name,
                   is_for_static_download=is_for_static_download)

    def record_deferred(self, callable_, mimetype, coordinates, file_name=None, **kwargs):
        files[file_name] = callable_
        return add_deferred(self, callable_, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add", record)
    monkeypatch.setattr(MediaFileManager, "add_deferred", record_deferred)
    return files


@pytest.fixture
def grids(monkeypatch):
    """The runs each attribution grid the page draws shows (``runs=`` of every plot_attribution_grid call)."""
    from xaicnn import plots

    calls, draw = [], plots.plot_attribution_grid

    def spy(comparison, **kwargs):
        fig, axes = draw(comparison, **kwargs)
        drawn = kwargs.get("runs") or range(len(comparison.runs))
        calls.append({"runs": [comparison.runs[j].name for j in drawn], "per_map": kwargs.get("per_map", False),
                      "norms": {id(ax.get_images()[-1].norm) for ax in axes[:, 1:].ravel()}})
        return fig, axes

    monkeypatch.setattr(plots, "plot_attribution_grid", spy)
    return calls


def page_comparison(folder, names, **kwargs):
    """What the page computes by default: IG on the first four validation images, each run's prediction."""
    from xaicnn.analysis.compare_attributions import compare_attributions

    return compare_attributions([folder / f"{n}.pt" for n in names], method="ig", n=4, select="first", target="pred",
                                seed=0, **kwargs)


def chart_frames(at) -> list:
    """The data sets of every Vega-Lite chart on the page, as pandas frames."""
    import pyarrow as pa

    return [pa.ipc.open_stream(d.data.data).read_all().to_pandas()
            for chart in at.get("vega_lite_chart") for d in chart.proto.datasets]


def test_the_page_states_one_shared_scale_and_says_what_per_map_does(runs_folder, monkeypatch, tmp_path, grids):
    from xaicnn.plots import attribution_limit

    at = show(open_app(runs_folder, monkeypatch, tmp_path), "Attributions")
    assert not at.exception and not at.main.error
    comparison = page_comparison(runs_folder, ["transformer_block", "vgg_block"])
    limit = attribution_limit([r.maps for r in comparison.runs])
    captions = [c.value for c in at.caption]
    assert any(f"one symmetric scale for all 8 maps (2 runs x 4 images): ±{limit:.2g}, the 99th percentile of "
               f"|attribution|" in c and "shared by every run and image" in c for c in captions), captions
    assert at.toggle(key="attr_per_map").value is False
    assert grids[-1]["per_map"] is False and len(grids[-1]["norms"]) == 1  # one norm object for all 8 maps
    at.toggle(key="attr_per_map").set_value(True).run()
    assert not at.exception
    assert grids[-1]["per_map"] is True and len(grids[-1]["norms"]) == 8  # one per map
    shown = texts(at)
    assert "each map is stretched to its own range" in shown and "magnitudes do not" in shown
    assert "one symmetric scale" not in shown


def test_two_runs_show_the_agreement_matrix_with_the_librarys_values(runs_folder, monkeypatch, tmp_path):
    at = show(open_app(runs_folder, monkeypatch, tmp_path), "Attributions")
    comparison = page_comparison(runs_folder, ["transformer_block", "vgg_block"])
    for top in (10, 30):
        if top != 10:
            at.slider(key="attr_top_k").set_value(top).run()
        assert not at.exception
        expected = comparison.agreement(top / 100)
        pairs = next(f for f in chart_frames(at) if "iou" in f.columns)
        assert len(pairs) == 4
        for _, row in pairs.iterrows():
            i, j = expected.names.index(row["run"]), expected.names.index(row["other"])
            assert row["iou"] == pytest.approx(expected.iou[i, j], abs=1e-6)
            assert row["spearman"] == pytest.approx(expected.spearman[i, j], abs=1e-6)
        facts = next(f for f in chart_frames(at) if "fact" in f.columns)
        accuracy = facts[facts["fact"] == "accuracy"].set_index("run")["value"]
        deletion = facts[facts["fact"] == "deletion AUC"].set_index("run")["value"]
        for name, acc, auc in zip(expected.names, expected.accuracy_on_images, expected.deletion_auc):
            assert accuracy[name] == pytest.approx(acc) and deletion[name] == pytest.approx(auc, abs=1e-6)
        assert "On these 4 image(s)" in texts(at) and f"overlap of the {top}% of pixels" in texts(at)
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    tooltips = [t["title"] for t in spec["hconcat"][0]["layer"][0]["encoding"]["tooltip"]]
    assert tooltips == ["run", "other run", "IoU of the top 30% pixels", "Spearman of |map|"]


def test_one_run_has_no_agreement_matrix(runs_folder, monkeypatch, tmp_path):
    at = open_app(runs_folder, monkeypatch, tmp_path)
    at.multiselect[0].set_value(["vgg_block"]).run()
    at = show(at, "Attributions")
    assert not at.exception and not at.get("vega_lite_chart")
    assert "one symmetric scale for all 4 maps" in texts(at)


def test_downloads_hold_the_figure_json_and_arrays(runs_folder, monkeypatch, tmp_path, recorded_files):
    at = show(open_app(runs_folder, monkeypatch, tmp_path), "Attributions")
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Figure (PNG)", "attributions.json", "attributions.npz"]
    from PIL import Image

    png = Image.open(io.BytesIO(recorded_files["attributions.png"]))  # the figure as drawn on the page
    assert png.format == "PNG" and 600 < png.width <= 940 and png.height > 600
    doc = json.loads(recorded_files["attributions.json"]())  # made when clicked
    assert [im["index"] for im in doc["images"]] == [0, 1, 2, 3]
    assert doc["agreement"]["names"] == ["transformer_block", "vgg_block"]
    arrays = np.load(io.BytesIO(recorded_files["attributions.npz"]()))
    assert set(arrays.files) == {"inputs", "targets", "transformer_block", "vgg_block"}
    assert arrays["vgg_block"].shape == (4, 32, 32)


def test_more_than_six_runs_draw_six_and_the_table_and_agreement_cover_all(runs_folder, monkeypatch, tmp_path, grids):
    for k in range(5):  # 7 runs in all: copies of the VGG block run under other names
        shutil.copy(runs_folder / "vgg_block.pt", runs_folder / f"vgg_copy{k}.pt")
    at = open_app(runs_folder, monkeypatch, tmp_path)
    names = at.multiselect[0].options
    assert len(names) == 7
    at.multiselect[0].set_value(names).run()
    at = show(at, "Attributions")
    assert not at.exception and not at.main.error
    drawn = at.multiselect(key="attr_drawn")
    assert drawn.value == names[:6] and drawn.max_selections == 6
    assert grids[-1]["runs"] == names[:6]
    table = at.main.dataframe[0].value
    assert sorted(set(table["run"])) == sorted(names) and len(table) == 7 * 4
    pairs = next(f for f in chart_frames(at) if "iou" in f.columns)
    assert len(pairs) == 49
    drawn.set_value([names[6], names[0]]).run()
    assert not at.exception and grids[-1]["runs"] == [names[6], names[0]]
