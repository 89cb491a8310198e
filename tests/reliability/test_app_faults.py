"""Faults against the comparison app (issue 12, items 4 and 5), under streamlit's AppTest.

- The app serves one tree: a folder typed in the sidebar or on the Studies page that resolves outside the
  checkpoint folder and the studies folders (``/etc``, ``..``, a symlink) is refused with one sentence and
  nothing under it is listed.
- A checkpoint with wrong-shape weights, an unknown or a non-string architecture is listed as broken by the
  sidebar scan, and every page renders the good runs.
- A run that passes the scan but fails on a page (its dataset is missing, its records are damaged) gets one
  sentence naming it there and is left out of what the runs share; the other runs still render.
"""
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

APP_TESTS = Path(__file__).resolve().parents[1] / "app"
sys.path.insert(0, str(APP_TESTS))
from test_app import PAGES, chart_runs, open_app, show, vega  # noqa: E402  (the app tests' AppTest helpers)


def _app_fixtures():
    """tests/app/conftest.py, whose fixtures (two tiny trained runs) these tests share: one definition."""
    spec = importlib.util.spec_from_file_location("app_test_fixtures", APP_TESTS / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_fixtures = _app_fixtures()
trained_runs, runs_folder = _fixtures.trained_runs, _fixtures.runs_folder  # found by pytest in this module
GOOD = ["transformer_block", "vgg_block"]


def write_variant(folder: Path, name: str, edit) -> Path:
    """A copy of the good vgg_block run as ``name.pt``, its checkpoint dict changed by ``edit(state)``."""
    state = torch.load(folder / "vgg_block.pt", map_location="cpu", weights_only=True)
    edit(state)
    torch.save(state, folder / f"{name}.pt")
    return folder / f"{name}.pt"


def errors(at, area="main") -> list[str]:
    return [e.value for e in getattr(at, area).error]


# --- (a) one tree ---


def test_a_folder_outside_the_served_tree_is_refused_and_nothing_there_is_listed(runs_folder, monkeypatch, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "elsewhere.pt").write_bytes((runs_folder / "vgg_block.pt").read_bytes())  # a real run, not served
    (runs_folder / "link").symlink_to(outside, target_is_directory=True)
    at = open_app(runs_folder, monkeypatch, tmp_path)  # cwd tmp_path: the studies roots are tmp_path/studies, ...
    assert at.multiselect[0].options == GOOD
    served = f"{runs_folder}/, studies/ and docs/studies/"
    for typed, resolved in (("/etc", "/etc"), (str(outside), outside), (f"{runs_folder}/../outside", outside),
                            (f"{runs_folder}/link", outside), (f"{runs_folder}/../../..", tmp_path.parents[1])):
        at.text_input(key="folder").set_value(typed).run()
        assert not at.exception, typed
        assert errors(at, "sidebar") == [f"{typed} is outside the folders this app serves ({served}); pick a folder "
                                         f"under them, or start the app with XAICNN_CHECKPOINT_DIR={resolved} to "
                                         f"serve it."]
        assert not at.multiselect and not at.tabs, typed  # nothing listed, no page
    at.text_input(key="folder").set_value(f"{runs_folder}/../{runs_folder.name}").run()  # '..' that stays inside
    assert not at.exception and not errors(at, "sidebar") and at.multiselect[0].options == GOOD


def test_a_studies_folder_outside_the_served_tree_is_refused(runs_folder, monkeypatch, tmp_path):
    import json
    import shutil

    from xaicnn.studies.record import FORMAT

    outside = tmp_path / "outside" / "blocks"
    shutil.copytree(runs_folder, outside / "runs")
    (outside / "study.json").write_text(json.dumps({"format": FORMAT, "name": "blocks", "preset": "smoke",
                                                    "description": "two blocks", "seeds": 1}))
    at = show(open_app(runs_folder, monkeypatch, tmp_path), "Studies")
    at.text_input(key="studies_root").set_value(str(outside.parent)).run()
    assert not at.exception
    assert errors(at) == [f"{outside.parent} is outside the folders this app serves ({runs_folder}/, studies/ and "
                          f"docs/studies/); pick a folder under them, or start the app with "
                          f"XAICNN_CHECKPOINT_DIR={outside.parent} to serve it."]
    assert not at.main.selectbox and not at.main.button  # no study listed, nothing to open
    shutil.move(str(outside.parent), str(tmp_path / "studies"))  # the same study under the served studies/
    at.text_input(key="studies_root").set_value("studies").run()
    assert not at.exception and not errors(at) and [s.value for s in at.subheader] == ["blocks: two blocks"]


# --- (b) broken files are listed as broken; the good runs render on every page ---


def test_misfit_checkpoints_are_listed_as_broken_and_every_page_renders_the_good_runs(runs_folder, monkeypatch,
                                                                                         tmp_path):
    first, weight = next(iter(torch.load(runs_folder / "vgg_block.pt", weights_only=True)["model"].items()))
    smaller = (weight.shape[0] // 2, *weight.shape[1:])
    paths = {"wrong_shape": write_variant(runs_folder, "wrong_shape",
                                          lambda s: s["model"].update({first: torch.zeros(smaller)})),
             "unknown_arch": write_variant(runs_folder, "unknown_arch", lambda s: s["meta"].update(arch="vgg_blok")),
             "int_arch": write_variant(runs_folder, "int_arch", lambda s: s["meta"].update(arch=7))}
    at = open_app(runs_folder, monkeypatch, tmp_path)
    assert not at.exception
    dims = "x".join
    assert errors(at, "sidebar") == [
        f"**int_arch** is broken: {paths['int_arch']} names its architecture 7, which is not a name; it was not "
        f"written by this xaicnn.",
        f"**unknown_arch** is broken: {paths['unknown_arch']} was trained with an architecture this xaicnn does "
        f"not have ('vgg_blok'); upgrade xaicnn, or see 'xaicnn archs' for the ones it has.",
        f"**wrong_shape** is broken: {paths['wrong_shape']}'s weights don't fit its architecture vgg_block "
        f"({first} is {dims(map(str, smaller))} in the file, {dims(map(str, weight.shape))} in the model); "
        f"retrain the run, or check that the file was not edited."]
    assert at.multiselect[0].options == GOOD and at.multiselect[0].value == GOOD
    for page in PAGES:
        at = show(at, page)
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not errors(at), (page, errors(at))
    at = show(at, "Curves")
    assert chart_runs(vega(at)[0], "series") == set(GOOD)
    at = show(at, "Gradient flow")
    assert [chart_runs(spec, "run") for spec in vega(at)] == [set(GOOD)] * 3
    at = show(at, "Complexity")
    assert chart_runs(vega(at)[0], "run") == set(GOOD) and len(at.main.dataframe) == 2
    at = show(at, "Confusion")
    assert len(vega(at)) == 2  # a clickable matrix per run
    at = show(at, "Attributions")
    assert sorted(at.main.dataframe[0].value["run"].unique()) == GOOD and len(at.main.image) == 2


# --- (c) a run that fails on a page is named there and left out; the others render ---


@pytest.fixture
def failing_runs(runs_folder) -> Path:
    """The two good runs, plus no_data (its dataset, MNIST, is not where its metadata says) and damaged (it
    passes the scan, but its curve record, gradient-flow record and validation subset are damaged)."""
    def missing_dataset(state):
        state["meta"]["dataset"] = "mnist"
        state["meta"]["config"]["data_dir"] = str(runs_folder / "no-such-folder")

    def damaged(state):
        state["history"][0]["epoch"] = "one"  # the curves can't place it
        state["gradient_flow"]["epochs"][0] = state["gradient_flow"]["epochs"][0][:1]  # cut short
        state["meta"]["config"]["val_size"] = 0  # its validation subset can't be drawn

    write_variant(runs_folder, "no_data", missing_dataset)
    write_variant(runs_folder, "damaged", damaged)
    return runs_folder


def test_a_run_that_fails_on_a_page_is_named_there_and_the_others_render(failing_runs, monkeypatch, tmp_path):
    at = open_app(failing_runs, monkeypatch, tmp_path)
    assert not errors(at, "sidebar")  # both pass the scan: nothing wrong with their architecture or weights
    assert at.multiselect[0].value == ["damaged", "no_data", *GOOD]
    for page in PAGES:
        at = show(at, page)
        assert not at.exception, (page, [e.value for e in at.exception])
    unreadable = "**damaged** is left out: it could not be analysed ({}); its checkpoint may be damaged: check it " \
                 "with `xaicnn inspect`, or deselect it in the sidebar."
    at = show(at, "Overview")
    assert not errors(at) and sorted(at.main.dataframe[0].value["run"]) == ["damaged", "no_data", *GOOD]
    at = show(at, "Curves")
    assert errors(at) == [unreadable.format("ValueError: invalid literal for int() with base 10: 'one'")]
    assert chart_runs(vega(at)[0], "series") == {"no_data", *GOOD}
    at = show(at, "Gradient flow")
    assert errors(at) == [unreadable.format("IndexError: list index out of range")]
    assert [chart_runs(spec, "run") for spec in vega(at)] == [{"no_data", *GOOD}] * 3
    at = show(at, "Complexity")
    assert not errors(at) and chart_runs(vega(at)[0], "run") == {"damaged", "no_data", *GOOD}
    at = show(at, "Confusion")
    no_mnist = errors(at)[1]
    assert errors(at)[0] == "**damaged**: The val size must be a positive number of images; got 0."
    assert no_mnist.startswith("**no_data**: MNIST not found: looked for MNIST/raw/train-images-idx3-ubyte under "
                               f"{failing_runs / 'no-such-folder'}; pass --data-dir") and len(errors(at)) == 2
    assert len(vega(at)) == 2  # the good runs' matrices
    assert at.subheader[0].value == "Where two runs disagree"  # between the two good runs on digits
    assert {at.selectbox(key="dis_a").value, at.selectbox(key="dis_b").value} == set(GOOD)
    at = show(at, "Attributions")  # digits first: damaged leads that comparison and spoils its image set
    assert [e.value for e in at.main.error] == ["**damaged** is left out: The val size must be a positive number of "
                                                "images; got 0."]
    assert sorted(at.main.dataframe[0].value["run"].unique()) == GOOD and len(at.main.image) == 2
    at.radio(key="attr_dataset").set_value("mnist 1x32x32").run()
    assert not at.exception and len(errors(at)) == 1 and errors(at)[0].startswith("**no_data**: MNIST not found")
    assert not at.main.image  # the only run on mnist has no images to show


def test_an_image_index_out_of_range_is_said_once_not_blamed_on_each_run(runs_folder, monkeypatch, tmp_path):
    at = show(open_app(runs_folder, monkeypatch, tmp_path), "Attributions")
    at.text_input(key="attr_indices").set_value("0, 100000").run()
    assert not at.exception
    (sentence,) = errors(at)  # the request is wrong, not either run
    assert "100000" in sentence and not sentence.startswith("**")
