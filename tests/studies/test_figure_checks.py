"""The attributions figure kind checks what it shows: per model, the randomisation sanity check and the
deletion/insertion AUCs against the random pixel order, on the images and targets of the figure."""
import json

import numpy as np
import pytest
import torch

from xaicnn import studies
from xaicnn.analysis import sanity
from xaicnn.studies.figures import FigureContext, FigureOutput, make_figures
from xaicnn.training.checkpoint import load_checkpoint

NAME = "mnist_blocks"
OPTIONS = studies.get(NAME).presets["smoke"].figure_options["attributions"]  # n, steps, faithfulness_steps
AUCS = ("deletion_auc", "deletion_auc_random", "insertion_auc", "insertion_auc_random")
quiet = lambda *a, **k: None  # noqa: E731


def draw(folder):
    spec = studies.get(NAME)
    rows = studies.read_study(folder).runs
    return make_figures(spec, folder, rows, options=spec.presets["smoke"].figure_options, log=quiet)


@pytest.fixture(scope="module")
def drawn(smoke):
    """(study folder, FigureOutput) for the mnist_blocks smoke study, the sanity checks spied on."""
    folder, _ = smoke(NAME)
    calls = []
    real = sanity.sanity_check

    def spy(model, inputs, targets, method="ig", **kwargs):
        result = real(model, inputs, targets, method, **kwargs)
        calls.append({"inputs": inputs.clone(), "targets": targets.clone(), "kwargs": kwargs, "result": result})
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sanity, "sanity_check", spy)
        out = draw(folder)
    return folder, out, calls


def test_figure_context_and_output_start_empty():
    assert FigureOutput() == FigureOutput([], [], [], {})
    ctx = FigureContext(studies.get(NAME), None, {}, quiet, {})
    assert (ctx.sections, ctx.data) == ([], {})


def test_every_model_has_a_sanity_check_and_four_auc_means(drawn):
    folder, out, _ = drawn
    spec = studies.get(NAME)
    assert isinstance(out, FigureOutput) and out.errors == []
    assert "figures/attributions/attributions.png" in out.paths and "figures/curves.png" in out.paths
    checks = out.data["attribution_checks"]
    assert (checks["method"], checks["images"], checks["steps"]) == ("ig", OPTIONS["n"], OPTIONS["steps"])
    assert list(checks["models"]) == [c.label for c in spec.conditions]
    for c in spec.conditions:
        entry = checks["models"][c.label]
        assert entry["title"] == c.name
        s = entry["sanity"]
        assert s["method"] == "ig" and s["verdict"] == ("passes" if s["final_correlation"] <= s["threshold"] else "fails")
        assert s["steps"] and s["final_correlation"] == s["steps"][-1]["correlation"]
        assert all(-1 <= step["correlation"] <= 1 for step in s["steps"])
        for key in AUCS:
            assert 0 <= entry[key] <= 1, (c.label, key, entry[key])
    json.dumps(out.data, allow_nan=False)  # goes into study.json as is


def test_auc_means_are_the_means_of_the_figure_records(drawn):
    folder, out, _ = drawn
    images = json.loads((folder / "figures" / "attributions" / "attributions.json").read_text())["images"]
    assert len(images) == out.data["attribution_checks"]["images"] == OPTIONS["n"] > 0
    models = out.data["attribution_checks"]["models"]
    assert list(models) == [c.label for c in studies.get(NAME).conditions]
    for label, entry in models.items():
        for key in AUCS:  # each model's numbers come from its own run (lowest seed) in the figure
            assert entry[key] == pytest.approx(np.mean([im["runs"][f"{label}-seed0"][key] for im in images]))


def test_the_section_lists_every_model(drawn):
    _, out, _ = drawn
    text = "\n".join(out.sections)
    assert out.sections[0] == "## Are the attributions faithful?"
    rows = [line for line in out.sections if line.startswith("| ") and not line.startswith("| Model")]
    spec = studies.get(NAME)
    assert [r.split(" | ")[0][2:] for r in rows] == [c.name for c in spec.conditions]
    for row, c in zip(rows, spec.conditions):
        s = out.data["attribution_checks"]["models"][c.label]["sanity"]
        assert f"{s['final_correlation']:.3f} ({s['verdict']})" in row
    assert "Adebayo" in text and "random" in text and f"{OPTIONS['n']} image(s) of one seed" in text


def test_the_sanity_check_runs_on_the_figures_images_and_targets(drawn):
    folder, out, calls = drawn
    spec = studies.get(NAME)
    arrays = np.load(folder / "figures" / "attributions" / "attributions.npz")
    n = len(arrays["inputs"])
    assert n == out.data["attribution_checks"]["images"] == OPTIONS["n"]
    assert len(calls) == len(spec.conditions)
    for k, (c, call) in enumerate(zip(spec.conditions, calls)):
        run = load_checkpoint(folder / "runs" / f"{c.label}-seed0.pt")
        # the same images, normalised as the library does for this run, and the targets the figure attributed
        assert call["inputs"].shape[0] == n
        assert np.allclose(call["inputs"].numpy(), run.normalize(torch.from_numpy(arrays["inputs"])).numpy())
        assert call["targets"].tolist() == arrays["targets"][k].tolist()
        assert call["kwargs"]["steps"] == OPTIONS["steps"]
        result = call["result"]
        assert result.per_image.shape == (len(result.layers), n)  # every step's correlation is over the n images
        assert result.correlations[0] == pytest.approx(float(result.per_image[0].mean()))
        assert out.data["attribution_checks"]["models"][c.label]["sanity"] == result.to_json()


def test_a_failing_check_fails_only_its_figure(smoke, monkeypatch):
    folder, _ = smoke(NAME)

    def broken(*a, **k):
        raise RuntimeError("no sanity today")

    monkeypatch.setattr(sanity, "sanity_check", broken)
    out = draw(folder)
    assert out.errors == ["attributions: RuntimeError: no sanity today"]
    assert out.paths == ["figures/curves.png"]  # the other figure kinds are drawn
    assert "attribution_checks" not in out.data and out.sections == []
