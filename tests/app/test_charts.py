"""xaicnn.charts: the frames behind the app's interactive charts, and the Vega-Lite specs drawn from them."""
import json

import numpy as np
import pytest

from test_app import units as views  # every unit view of a Vega-Lite spec, however nested
from xaicnn import charts
from xaicnn.analysis.gradient_flow import GradientFlow


def history(losses, accs=None, start=1):
    accs = accs or [0.5] * len(losses)
    return [{"epoch": start + i, "train_loss": loss * 1.1, "val_loss": loss, "train_acc": a * 0.9, "val_acc": a}
            for i, (loss, a) in enumerate(zip(losses, accs))]


def spec(chart) -> dict:
    return chart.to_dict()


# --- curves ---


def test_seed_groups_collapse_to_one_mean_line_with_its_min_max_band():
    frame = charts.curves_frame([
        {"name": "vgg", "history": history([1.0, 0.5, 0.3]), "group": "A", "panel": "digits (10 classes)", "seed": 0},
        {"name": "vgg-seed1", "history": history([2.0, 0.7, 0.1]), "group": "A", "panel": "digits (10 classes)",
         "seed": 1},
        {"name": "vit", "history": history([1.5, 1.0]), "group": "B", "panel": "digits (10 classes)"},
    ])
    assert sorted(frame["series"].unique()) == ["vgg (2 seeds)", "vit"]
    val_loss = frame[(frame["series"] == "vgg (2 seeds)") & (frame["metric"] == "loss") & (frame["split"] == "val")]
    assert val_loss["epoch"].tolist() == [1, 2, 3]
    assert val_loss["value"].tolist() == pytest.approx([1.5, 0.6, 0.2])
    assert val_loss["low"].tolist() == pytest.approx([1.0, 0.5, 0.1])
    assert val_loss["high"].tolist() == pytest.approx([2.0, 0.7, 0.3])
    assert val_loss["n"].tolist() == [2, 2, 2] and val_loss["runs"].iloc[0] == "vgg, vgg-seed1"
    single = frame[(frame["series"] == "vit") & (frame["metric"] == "loss") & (frame["split"] == "train")]
    assert single["value"].tolist() == pytest.approx([1.65, 1.1]) and (single["low"] == single["high"]).all()
    assert single["n"].tolist() == [1, 1] and single["std"].isna().all()
    # 2 series x 2 metrics x 2 splits, 3 and 2 epochs
    assert len(frame) == 2 * 2 * 3 + 2 * 2 * 2


def test_a_group_is_named_after_its_lowest_seed_and_says_seeds_only_when_they_differ():
    runs = [{"name": "vgg-seed1", "history": history([1.0]), "group": "A", "seed": 1},
            {"name": "vgg", "history": history([1.0]), "group": "A", "seed": 0}]
    frame = charts.curves_frame(runs)
    assert set(frame["series"]) == {"vgg (2 seeds)"} and set(frame["runs"]) == {"vgg, vgg-seed1"}
    copies = [dict(r, seed=3) for r in runs]
    assert set(charts.curves_frame(copies)["series"]) == {"vgg (2 runs)"}


def test_seeds_of_unequal_length_average_over_the_seeds_that_reached_each_epoch():
    frame = charts.curves_frame([{"name": "a", "history": history([1.0, 0.4]), "group": "g"},
                                 {"name": "b", "history": history([3.0]), "group": "g"}])
    val = frame[(frame["metric"] == "loss") & (frame["split"] == "val")]
    assert val["value"].tolist() == pytest.approx([2.0, 0.4]) and val["n"].tolist() == [2, 1]


def test_runs_without_a_finished_epoch_are_left_out():
    frame = charts.curves_frame([{"name": "a", "history": []}, {"name": "b", "history": history([1.0])}])
    assert set(frame["series"]) == {"b"}


def test_runs_of_different_datasets_never_share_a_loss_axis():
    frame = charts.curves_frame([
        {"name": "lenet", "history": history([3.5, 2.0]), "panel": "glyphs (52 classes)"},
        {"name": "vgg", "history": history([1.0, 0.2]), "panel": "digits (10 classes)"},
    ])
    d = spec(charts.curves_chart(frame))
    assert len(d["vconcat"]) == 2  # one row per panel
    for row, panel in zip(d["vconcat"], ["glyphs (52 classes)", "digits (10 classes)"]):
        loss, acc = row["hconcat"]
        assert loss["title"] == f"{panel}: cross-entropy loss" and acc["title"] == f"{panel}: accuracy"
        for view in (loss, acc):
            assert {r["panel"] for r in d["datasets"][view["data"]["name"]]} == {panel}


def test_the_loss_axis_is_log_when_asked_and_accuracy_never():
    frame = charts.curves_frame([{"name": "a", "history": history([1.0, 0.5])}])
    for log in (False, True):
        row = spec(charts.curves_chart(frame, log_loss=log))["vconcat"][0]["hconcat"]
        loss_scales = {v["encoding"]["y"].get("scale", {}).get("type") for v in views(row[0])}
        acc_scales = {v["encoding"]["y"].get("scale", {}).get("type") for v in views(row[1])}
        assert loss_scales == ({"log"} if log else {None}) and acc_scales == {None}


def test_curves_have_tooltips_dashes_for_train_zoom_and_a_legend_outside():
    frame = charts.curves_frame([{"name": "a", "history": history([1.0, 0.5])}])
    d = spec(charts.curves_chart(frame))
    lines = [v for v in views(d) if v["mark"]["type"] == "line"]
    assert len(lines) == 2
    for line in lines:
        assert {t["field"] for t in line["encoding"]["tooltip"]} >= {"series", "epoch", "value", "split"}
        assert line["encoding"]["strokeDash"]["scale"]["domain"] == ["train", "val"]
    zooms = [p for p in d["params"] if p.get("bind") == "scales"]  # Altair lifts params to the top, with views
    assert len(zooms) == 2 and {v for p in zooms for v in p["views"]} == {line["name"] for line in lines}
    assert [p["bind"] for p in d["params"] if p["name"] == "curves_pick"] == ["legend"]
    assert d["config"]["legend"]["orient"] == "bottom" and d["config"]["axis"]["labelFontSize"] >= 10


# --- gradient flow ---


def flow(name, matrix, epochs=None, layers=None):
    matrix = np.asarray(matrix, dtype=float)
    layers = layers or [f"l{i}.weight" for i in range(matrix.shape[0])]
    return GradientFlow(name, "arch", "norm", layers, epochs or list(range(1, matrix.shape[1] + 1)), matrix)


def test_flow_frame_has_relative_depth_and_layer_index():
    frame = charts.flow_frame([flow("a", [[1, 2], [3, 4], [5, 6]]), flow("b", [[7]])])
    a = frame[(frame["run"] == "a") & (frame["epoch"] == 2)]
    assert a["depth"].tolist() == [0.0, 0.5, 1.0] and a["index"].tolist() == [1, 2, 3]
    assert a["value"].tolist() == [2, 4, 6]
    assert frame[frame["run"] == "b"]["depth"].tolist() == [0.0]


def test_an_epoch_beyond_a_runs_last_is_reported_not_clamped():
    frame = charts.flow_frame([flow("long", np.ones((2, 6))), flow("short", np.full((2, 4), 2.0))])
    at, missing = charts.flow_at_epoch(frame, 6)
    assert set(at["run"]) == {"long"} and (at["epoch"] == 6).all()  # nothing of 'short' drawn at epoch 4
    assert missing == {"short": 4}
    assert charts.missing_epoch_note(missing, 6) == "Not drawn: short: no epoch 6 (ran 4)."
    at, missing = charts.flow_at_epoch(frame, 3)
    assert set(at["run"]) == {"long", "short"} and missing == {}
    chart = spec(charts.flow_profile_chart(charts.flow_at_epoch(frame, 6)[0], epoch=6))
    assert {r["run"] for r in chart["datasets"][chart["data"]["name"]]} == {"long"}


def test_heatmaps_of_every_run_share_one_log_colour_domain_over_all_runs():
    quiet = flow("quiet", [[1e-6, 1e-5], [1e-4, 2e-4]])
    loud = flow("loud", [[0.5, 3.0], [0.0, 1.0], [2.0, float("nan")]])
    frame = charts.flow_frame([quiet, loud])
    assert charts.heatmap_domain(frame) == (1e-6, 3.0)  # zero and NaN left out, both runs' extremes in
    d = spec(charts.flow_heatmap_chart(frame))
    cells = list(views(d))
    assert len(cells) == 2 and [c["title"] for c in cells] == ["quiet", "loud"]
    scales = [c["encoding"]["color"]["scale"] for c in cells]
    assert all(s == {"type": "log", "domain": [1e-6, 3.0], "scheme": "viridis", "clamp": True} for s in scales)
    assert d["resolve"]["scale"]["color"] == "shared"
    statement = charts.scale_statement(frame, "gradient L2 norm")
    assert "One colour scale for every run" in statement and "1.00e-06 to 3.00e+00" in statement


def test_heatmap_rows_follow_network_order_and_zero_shows_at_the_floor():
    f = flow("a", [[0.0, 1.0], [2.0, 3.0]], layers=["z.weight", "a.weight"])
    d = spec(charts.flow_heatmap_chart(charts.flow_frame([f])))
    cell = next(views(d))
    assert cell["encoding"]["y"]["sort"] == ["z.weight", "a.weight"]
    rows = d["datasets"][cell["data"]["name"]] if "data" in cell else d["datasets"][d["data"]["name"]]
    zero = next(r for r in rows if r["value"] == 0.0)
    assert zero["shown"] == 1.0  # the domain's floor, not -infinity on a log scale
    assert cell["height"] == 60 and cell["encoding"]["y"]["axis"]["labelOverlap"] is False  # every label
    deep = next(views(spec(charts.flow_heatmap_chart(charts.flow_frame([flow("vgg50", np.ones((50, 3)))])))))
    assert deep["height"] == 360 and deep["encoding"]["y"]["axis"]["labelOverlap"] is True  # capped, labels thinned


def test_the_profile_chart_draws_every_run_on_one_log_axis_by_depth_or_index():
    frame = charts.flow_frame([flow("a", [[1, 2], [3, 4]]), flow("b", [[5, 6], [7, 8], [9, 10]])])
    at, _ = charts.flow_at_epoch(frame, 2)
    for x in ("depth", "index"):
        d = spec(charts.flow_profile_chart(at, x=x))
        assert d["encoding"]["x"]["field"] == x and d["encoding"]["y"]["scale"]["type"] == "log"
        assert {r["run"] for r in d["datasets"][d["data"]["name"]]} == {"a", "b"}
        assert {t["field"] for t in d["encoding"]["tooltip"]} >= {"run", "layer", "epoch", "value"}


def test_key_layers_are_the_first_middle_and_last():
    frame = charts.flow_frame([flow("a", np.arange(10).reshape(5, 2) + 1.0), flow("b", [[1.0, 2.0]])])
    keys = charts.key_layers_frame(frame)
    a = keys[keys["run"] == "a"].drop_duplicates("layer")
    assert dict(zip(a["position"], a["index"])) == {"first": 1, "middle": 3, "last": 5}
    assert set(keys[keys["run"] == "b"]["position"]) == {"last"}  # one layer: first = middle = last
    spec(charts.flow_lines_chart(frame))  # builds


# --- complexity ---


def test_the_pareto_front_is_exactly_the_non_dominated_points():
    rng = np.random.default_rng(0)
    for _ in range(50):
        costs, values = rng.integers(1, 6, 8).astype(float), rng.integers(0, 5, 8) / 4
        front = charts.pareto_front(costs, values)
        for i in range(8):
            dominated = any(costs[j] <= costs[i] and values[j] >= values[i]
                            and (costs[j], values[j]) != (costs[i], values[i]) for j in range(8))
            assert front[i] == (not dominated)
    assert charts.pareto_front([1, 2, 3, 4], [0.5, 0.4, 0.9, 0.9]).tolist() == [True, False, True, False]


def test_the_front_is_per_dataset_and_the_axes_fit_the_data():
    points = [{"name": "small", "dataset": "digits", "params": 1_000, "flops": 5e4, "accuracy": 0.95},
              {"name": "big", "dataset": "digits", "params": 100_000, "flops": 1e4, "accuracy": 0.99},
              {"name": "worse", "dataset": "digits", "params": 50_000, "flops": 9e4, "accuracy": 0.94},
              {"name": "glyph", "dataset": "glyphs", "params": 200_000, "flops": 2e6, "accuracy": 0.6},
              {"name": "unscored", "dataset": "digits", "params": 10, "flops": 10, "accuracy": None}]
    frame = charts.complexity_frame(points)
    assert frame["run"].tolist() == ["small", "big", "worse", "glyph"]
    assert frame["pareto_params"].tolist() == [True, True, False, True]  # glyph: alone on its dataset's front
    assert frame["pareto_flops"].tolist() == [False, True, False, True]  # big: fewest FLOPs and best
    d = spec(charts.complexity_chart(frame))
    assert len(d["vconcat"]) == 2  # one row per dataset: 52-class and 10-class accuracies never share an axis
    for row, dataset in zip(d["vconcat"], ("digits", "glyphs")):
        for panel, cost in zip(row["hconcat"], ("params", "flops")):
            line, points_view = panel["layer"]
            assert panel["title"].startswith(f"{dataset}: ")
            assert line["mark"]["interpolate"] == "step-after"
            assert line["transform"] == [{"filter": f"datum.pareto_{cost}"}]
            rows = d["datasets"][panel["data"]["name"]]
            assert {r["dataset"] for r in rows} == {dataset}
            y, x = points_view["encoding"]["y"]["scale"]["domain"], points_view["encoding"]["x"]["scale"]
            accs, costs = [r["accuracy"] for r in rows], [r[cost] for r in rows]
            assert min(accs) - 0.05 < y[0] < min(accs) and max(accs) < y[1] <= 1.0  # fitted, not 0..1
            assert x["type"] == "log" and x["domain"][0] < min(costs) and max(costs) < x["domain"][1] < 2 * max(costs)
            assert {t["field"] for t in points_view["encoding"]["tooltip"]} >= {"run", "params", "flops", "accuracy"}


def test_fitted_domain():
    assert charts.fitted_domain([0.9, 0.95]) == pytest.approx([0.895, 0.955])  # margin at least 0.005
    assert charts.fitted_domain([0.2, 0.7]) == pytest.approx([0.16, 0.74])  # 8% of the range
    assert charts.fitted_domain([0.99, 0.99]) == pytest.approx([0.985, 0.995])
    assert charts.fitted_domain([100, 1000], log=True) == pytest.approx([62.5, 1600])


@pytest.mark.parametrize("n", [12])
def test_a_dozen_runs_keep_every_legend_outside_the_plots_and_get_distinct_colours(n):
    frame = charts.curves_frame([{"name": f"run{i:02d}", "history": history([1.0 / (i + 1), 0.5]),
                                  "panel": "digits (10 classes)" if i % 2 else "glyphs (52 classes)"}
                                 for i in range(n)])
    flows = [flow(f"run{i:02d}", np.full((3, 2), float(i + 1))) for i in range(n)]
    cx = charts.complexity_frame([{"name": f"run{i:02d}", "dataset": "digits", "params": 10 * (i + 1),
                                   "flops": 100 * (i + 1), "accuracy": 0.9} for i in range(n)])
    for chart in (charts.curves_chart(frame), charts.flow_heatmap_chart(charts.flow_frame(flows)),
                  charts.flow_profile_chart(charts.flow_frame(flows)), charts.complexity_chart(cx)):
        d = json.loads(chart.to_json())
        assert d["config"]["legend"]["orient"] == "bottom"  # below the plots: never on the data, no width taken
        orients = {v["encoding"][c].get("legend", {}).get("orient") for v in views(d) for c in v["encoding"]
                   if isinstance(v["encoding"][c], dict) and isinstance(v["encoding"][c].get("legend"), dict)}
        assert orients <= {None, "top"}  # the heatmaps' colour bar sits above them
        assert min(d["config"]["axis"]["labelFontSize"], d["config"]["legend"]["labelFontSize"]) >= 10
    assert len(list(views(json.loads(charts.curves_chart(frame).to_json())))) == 4  # lines only: no seed group
    color = next(views(charts.curves_chart(frame).to_dict()))["encoding"]["color"]["scale"]
    assert len(color["domain"]) == n and color["scheme"] == "tableau20"  # twenty colours for more than ten runs
