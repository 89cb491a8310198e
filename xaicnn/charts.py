"""Interactive Vega-Lite charts of the comparison app (Altair, which Streamlit ships), one function per chart.

Two kinds of function, both pure (no Streamlit here; the app caches and shows them):

- ``*_frame`` shape library results into long pandas frames: one row per drawn value, every column a
  chart may encode or show in a tooltip.
- ``*_chart`` turn such a frame into an ``alt.Chart`` (or a layered/concatenated chart): tooltips, zoom
  and pan (drag, wheel), legends below the plots (outside them), text at least 12 px, and one shared scale
  across the runs being compared (house style point 12).

The CLI's PNG figures stay in :mod:`xaicnn.plots` (matplotlib).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import altair as alt
import numpy as np
import pandas as pd

FONT = 12  # px: axis and legend labels; titles one larger (the app is read at 1500 px: nothing under 10 px)
LABEL_LIMIT = 200  # px: longest legend / axis label before it is cut with an ellipsis (the tooltip has it whole)
LEGEND_COLUMNS = 4  # legends sit below the plots, in this many columns: a dozen runs take three short rows
SPLIT_DASH = alt.Scale(domain=["train", "val"], range=[[6, 4], [1, 0]])  # train dashed, validation solid
CURVE_METRICS = {"loss": "cross-entropy loss", "acc": "accuracy"}
BAND = "min..max over the seeds"  # what a seed group's band spans (the app's caption says so)


def _zoom(name: str) -> alt.Parameter:
    """Zoom and pan of one view (drag, mouse wheel; double-click resets). Named: Altair would merge
    unnamed ones of concatenated views into one, linking axes that measure different things."""
    return alt.selection_interval(bind="scales", name=name)


def _runs_scale(names: Sequence[str]) -> alt.Scale:
    """One colour per run, in the given order (tableau10; tableau20 beyond ten runs)."""
    return alt.Scale(domain=list(names), scheme="tableau10" if len(names) <= 10 else "tableau20")


def _decades(lo: float, hi: float, inside: bool = False) -> list[float]:
    """Tick values of a log axis from ``lo`` to ``hi``: the powers of ten around them, or with ``inside``
    only those within (for a colour bar, whose ends are the data's; ``[lo, hi]`` when fewer than two)."""
    ticks = [10.0 ** k for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]
    if not inside:
        return ticks
    ticks = [t for t in ticks if lo <= t <= hi]
    return ticks if len(ticks) >= 2 else [lo, hi]


def _style(chart: alt.TopLevelMixin, fit_width: bool = False) -> alt.TopLevelMixin:
    """Readable text (12 px labels, 13 px titles) and legends below the plots, never on the data (a right
    legend would take the width the panels need at 1500 px). Sizes are the plots' own (``pad``), or with
    ``fit_width`` the width follows the page and the height stays the plot's (``fit-x``; a single view only:
    Streamlit's default ``fit`` squeezes the plot to make room for the legend)."""
    chart = chart.properties(autosize=alt.AutoSizeParams(type="fit-x" if fit_width else "pad", contains="padding"))
    return (chart.configure_axis(labelFontSize=FONT, titleFontSize=FONT + 1, labelLimit=LABEL_LIMIT)
            .configure_legend(labelFontSize=FONT, titleFontSize=FONT + 1, labelLimit=LABEL_LIMIT, symbolLimit=0,
                              orient="bottom", direction="horizontal", columns=LEGEND_COLUMNS, columnPadding=16,
                              titleOrient="left")
            .configure_title(fontSize=FONT + 2, anchor="start")
            .configure_header(labelFontSize=FONT, titleFontSize=FONT)
            .configure_view(strokeWidth=0.5))


# --- learning curves ----------------------------------------------------------------------------------


def curves_frame(runs: Iterable[dict]) -> pd.DataFrame:
    """Learning curves in long form, seed groups collapsed to their mean.

    ``runs``: dicts with ``name`` (str), ``history`` (the checkpoint's per-epoch dicts with ``epoch``,
    ``train_loss``, ``val_loss``, ``train_acc``, ``val_acc``), ``group`` (runs sharing it differ only in
    the seed: :attr:`xaicnn.analysis.runs.RunEntry.condition`; default: the name), ``panel`` (runs
    drawn on one pair of axes, e.g. ``"glyphs (52 classes)"``; default ``""``) and ``seed`` (optional;
    orders a group's members as the Overview does). Runs without a finished epoch are left out.

    Returns one row per (series, panel, metric, split, epoch) with columns ``series`` (the run's name, or
    ``"<first member> (n seeds)"`` for a group: the member with the lowest seed, then name; ``n runs``
    when the seeds are unknown or repeat), ``runs`` (the members, comma-separated), ``n`` (members
    that reached this epoch), ``panel``, ``metric`` (``loss`` | ``acc``), ``split`` (``train`` | ``val``),
    ``epoch``, ``value`` (mean over the members), ``low`` and ``high`` (their min and max) and ``std``
    (sample standard deviation; NaN for one member).
    """
    groups: dict[str, list[dict]] = {}
    for run in runs:
        if run.get("history"):
            groups.setdefault(run.get("group") or run["name"], []).append(run)
    rows = []
    for members in groups.values():
        members = sorted(members, key=lambda m: (m.get("seed") is None, m.get("seed") or 0, m["name"]))
        seeds = {m.get("seed") for m in members}
        kind = "seeds" if None not in seeds and len(seeds) == len(members) else "runs"
        series = members[0]["name"] if len(members) == 1 else f"{members[0]['name']} ({len(members)} {kind})"
        names = ", ".join(m["name"] for m in members)
        panel = members[0].get("panel", "")
        for metric in CURVE_METRICS:
            for split in ("train", "val"):
                by_epoch: dict[int, list[float]] = {}
                for m in members:
                    for h in m["history"]:
                        value = h.get(f"{split}_{metric}")
                        if value is not None and math.isfinite(value):
                            by_epoch.setdefault(int(h["epoch"]), []).append(float(value))
                for epoch, values in sorted(by_epoch.items()):
                    v = np.asarray(values)
                    rows.append({"series": series, "runs": names, "n": len(v), "panel": panel, "metric": metric,
                                 "split": split, "epoch": epoch, "value": float(v.mean()), "low": float(v.min()),
                                 "high": float(v.max()), "std": float(v.std(ddof=1)) if len(v) > 1 else float("nan")})
    columns = ["series", "runs", "n", "panel", "metric", "split", "epoch", "value", "low", "high", "std"]
    return pd.DataFrame(rows, columns=columns)


def curves_chart(frame: pd.DataFrame, log_loss: bool = False, width: int = 375, height: int = 240) -> alt.VConcatChart:
    """Loss and accuracy per epoch: one row of two panels (loss | accuracy) per ``panel`` of
    :func:`curves_frame`, so runs on datasets with different class counts never share a loss axis.

    Colour: series (clicking a legend entry highlights it); dash: train (dashed) / val (solid); a seed
    group is its mean line with a band spanning min..max over the seeds. ``log_loss`` puts the loss on a
    log axis. Every panel zooms and pans on its own (drag, wheel; double-click resets).
    """
    series = list(dict.fromkeys(frame["series"]))
    color = alt.Color("series:N", scale=_runs_scale(series),
                      legend=alt.Legend(title="run", symbolType="stroke", symbolStrokeWidth=3))
    pick = alt.selection_point(fields=["series"], bind="legend", name="curves_pick")
    tooltip = [alt.Tooltip("series:N", title="run"), alt.Tooltip("runs:N", title="members"),
               alt.Tooltip("split:N"), alt.Tooltip("epoch:Q"), alt.Tooltip("value:Q", title="mean", format=".4f"),
               alt.Tooltip("low:Q", title="min", format=".4f"), alt.Tooltip("high:Q", title="max", format=".4f"),
               alt.Tooltip("n:Q", title="seeds")]
    rows = []
    for p, panel in enumerate(dict.fromkeys(frame["panel"])):
        panels = []
        for metric, label in CURVE_METRICS.items():
            data = frame[(frame["panel"] == panel) & (frame["metric"] == metric)]
            if metric == "loss" and log_loss:
                scale, title = alt.Scale(type="log"), f"{label} (log)"
            else:
                scale, title = alt.Scale(zero=False), label
            x = alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d"))
            base = alt.Chart(data).encode(x=x, color=color)
            # the band fills by run through its own field and channel, without a legend: sharing the colour
            # legend would draw the band's pale symbols there (and Vega-Lite merges legends of one field)
            band = (alt.Chart(data).transform_filter("datum.n > 1").transform_calculate(band="datum.series")
                    .mark_area(opacity=0.2)
                    .encode(x=x, y=alt.Y("low:Q", scale=scale, title=title), y2="high:Q", detail="split:N",
                            fill=alt.Fill("band:N", scale=_runs_scale(series), legend=None)))
            line = base.mark_line(point=alt.OverlayMarkDef(size=30)).encode(
                y=alt.Y("value:Q", scale=scale, title=title),
                strokeDash=alt.StrokeDash("split:N", scale=SPLIT_DASH,
                                          legend=alt.Legend(title="split", symbolType="stroke", symbolStrokeWidth=2)),
                opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)), tooltip=tooltip)
            zoom = _zoom(f"curves_zoom_{p}_{metric}")
            line = line.add_params(zoom, pick) if (p, metric) == (0, "loss") else line.add_params(zoom)
            title_text = f"{panel}: {label}" if panel else label
            layers = (band, line) if (data["n"] > 1).any() else (line,)
            panels.append(alt.layer(*layers).properties(title=title_text, width=width, height=height))
        rows.append(alt.hconcat(*panels))
    return _style(alt.vconcat(*rows))


# --- gradient flow ------------------------------------------------------------------------------------


def flow_frame(flows: Sequence) -> pd.DataFrame:
    """:class:`~xaicnn.analysis.gradient_flow.GradientFlow` objects (one per run) in long form.

    One row per (run, layer, epoch): ``run`` (the flow's name), ``arch``, ``layer`` (parameter or stage
    name), ``index`` (1-based position in network order), ``depth`` (relative depth, 0 = first row, 1 =
    last; 0 for a single row), ``layers`` (the run's row count), ``epoch``, ``last_epoch`` (the run's
    last recorded epoch) and ``value`` (the statistic, as recorded: zero or non-finite values kept).
    """
    rows = []
    for flow in flows:
        n = len(flow.layers)
        for i, layer in enumerate(flow.layers):
            for j, epoch in enumerate(flow.epochs):
                rows.append({"run": flow.name, "arch": flow.arch, "layer": layer, "index": i + 1,
                             "depth": i / (n - 1) if n > 1 else 0.0, "layers": n, "epoch": int(epoch),
                             "last_epoch": int(flow.epochs[-1]), "value": float(flow.matrix[i, j])})
    columns = ["run", "arch", "layer", "index", "depth", "layers", "epoch", "last_epoch", "value"]
    return pd.DataFrame(rows, columns=columns)


def flow_at_epoch(frame: pd.DataFrame, epoch: int) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rows of ``frame`` (:func:`flow_frame`) at ``epoch``, and the runs that have no such epoch
    mapped to their last recorded epoch: those runs are reported, never drawn at another epoch."""
    at = frame[frame["epoch"] == epoch]
    present = set(at["run"])
    last = frame.groupby("run", sort=False)["last_epoch"].max()
    return at.reset_index(drop=True), {run: int(m) for run, m in last.items() if run not in present}


def missing_epoch_note(missing: dict[str, int], epoch: int) -> str:
    """``'Not drawn: a: no epoch 6 (ran 4); b: ...'`` for :func:`flow_at_epoch`'s runs without ``epoch``."""
    return "Not drawn: " + "; ".join(f"{run}: no epoch {epoch} (ran {last})" for run, last in missing.items()) + "."


def heatmap_domain(frame: pd.DataFrame) -> tuple[float, float]:
    """(smallest positive, largest) finite value over *all* runs of ``frame``: the one colour domain of
    every run's heatmap (a log scale, so zeros are left to :func:`_shown`)."""
    v = frame["value"].to_numpy(dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return (1e-12, 1.0)
    lo, hi = float(v.min()), float(v.max())
    return (lo, hi if hi > lo else lo * 10)


def _shown(frame: pd.DataFrame, floor: float) -> pd.DataFrame:
    """``frame`` with ``shown``: the value for a log axis (zero -> ``floor``, non-finite -> NaN, not drawn)."""
    v = frame["value"].to_numpy(dtype=float)
    shown = np.where(np.isfinite(v), np.maximum(v, floor), np.nan)
    return frame.assign(shown=shown)


def scale_statement(frame: pd.DataFrame, label: str) -> str:
    """The sentence the page shows under the heatmaps: which scale, over what."""
    lo, hi = heatmap_domain(frame)
    return (f"One colour scale for every run: {label}, log scale from {lo:.2e} to {hi:.2e} (the smallest "
            f"non-zero and the largest value over all {frame['run'].nunique()} runs, layers and epochs).")


def flow_profile_chart(at_epoch: pd.DataFrame, x: str = "depth", label: str = "gradient L2 norm",
                       epoch: int | None = None, width: int = 820, height: int = 320) -> alt.Chart:
    """Every run's per-layer gradient at one epoch in one chart: x = relative depth (``x="depth"``, 0-1)
    or layer index (``x="index"``), y = the statistic on one shared log axis, one colour per run. The
    width fits the container it is shown in (``width`` otherwise); the plot is ``height`` pixels high."""
    floor, top = heatmap_domain(at_epoch)
    data = _shown(at_epoch, floor)
    runs = list(dict.fromkeys(data["run"]))
    x_enc = (alt.X("depth:Q", title="relative depth (0 = first layer, 1 = last)", scale=alt.Scale(domain=[0, 1]),
                   axis=alt.Axis(values=[i / 10 for i in range(11)], format=".1f"))
             if x == "depth" else alt.X("index:Q", title="layer index (network order)",
                                         axis=alt.Axis(tickMinStep=1, format="d")))
    pick = alt.selection_point(fields=["run"], bind="legend", name="flow_pick")
    chart = alt.Chart(data).mark_line(point=alt.OverlayMarkDef(size=35)).encode(
        x=x_enc,
        y=alt.Y("shown:Q", scale=alt.Scale(type="log"), title=f"{label} (log)",
                axis=alt.Axis(values=_decades(floor, top), format=".0e")),
        color=alt.Color("run:N", scale=_runs_scale(runs), legend=alt.Legend(title="run")),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip("layer:N"), alt.Tooltip("index:Q", title="layer index"),
                 alt.Tooltip("depth:Q", format=".2f"), alt.Tooltip("epoch:Q"),
                 alt.Tooltip("value:Q", title=label, format=".3e")],
    ).add_params(pick, _zoom("flow_profile_zoom")).properties(
        title=f"{label} per layer at epoch {epoch}" if epoch is not None else f"{label} per layer",
        width=width, height=height)
    return _style(chart, fit_width=True)


def flow_heatmap_chart(frame: pd.DataFrame, label: str = "gradient L2 norm", columns: int = 3,
                       cell_width: int = 150, row_height: int = 18, max_height: int = 360) -> alt.ConcatChart:
    """Layers x epochs heatmap of every run of ``frame`` (:func:`flow_frame`), all on one colour scale:
    log, domain :func:`heatmap_domain` over all runs (so two seeds of one model look alike and a
    vanishing run looks dark next to a healthy one). Rows are layers in network order, ``row_height``
    pixels each up to ``max_height`` per run (a 50-layer net gets thinner rows and every other label)."""
    lo, hi = heatmap_domain(frame)
    data = _shown(frame, lo)
    color = alt.Color("shown:Q", scale=alt.Scale(type="log", domain=[lo, hi], scheme="viridis", clamp=True),
                      legend=alt.Legend(title=f"{label} (log, one scale for all runs)", format=".0e", orient="top",
                                        values=_decades(lo, hi, inside=True), gradientLength=360, titleOrient="top",
                                        titleLimit=500))
    tooltip = [alt.Tooltip("run:N"), alt.Tooltip("layer:N"), alt.Tooltip("index:Q", title="layer index"),
               alt.Tooltip("epoch:Q"), alt.Tooltip("value:Q", title=label, format=".3e")]
    charts = []
    for run, d in data.groupby("run", sort=False):
        order = list(dict.fromkeys(d.sort_values("index")["layer"]))
        height = max(60, min(row_height * len(order), max_height))
        charts.append(alt.Chart(d).mark_rect().encode(
            x=alt.X("epoch:O", title="epoch", axis=alt.Axis(labelAngle=0, labelOverlap=True)),
            y=alt.Y("layer:N", sort=order, title=None,
                    axis=alt.Axis(labelLimit=120, labelOverlap=row_height * len(order) > max_height)),
            color=color, tooltip=tooltip,
        ).properties(title=run, width=cell_width, height=height))
    return _style(alt.concat(*charts, columns=columns).resolve_scale(color="shared"))


def key_layers_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Each run's first, middle and last layer (as :meth:`GradientFlow.key_layers` picks them) over the
    epochs: ``frame`` rows of those layers with ``position`` = first | middle | last."""
    parts = []
    for _, d in frame.groupby("run", sort=False):
        n = int(d["layers"].iloc[0])
        picks = {1: "first", (n - 1) // 2 + 1: "middle", n: "last"}  # later keys win when n < 3
        rows = d[d["index"].isin(list(picks))]
        parts.append(rows.assign(position=rows["index"].map(picks)))
    return pd.concat(parts, ignore_index=True) if parts else frame.assign(position=pd.Series(dtype=str))


def flow_lines_chart(frame: pd.DataFrame, label: str = "gradient L2 norm", width: int = 215,
                     height: int = 220) -> alt.HConcatChart:
    """The first, middle and last layer of every run over the epochs: three panels sharing one log y axis."""
    keys = key_layers_frame(frame)
    floor = heatmap_domain(frame)[0]
    data = _shown(keys, floor)
    runs = list(dict.fromkeys(frame["run"]))
    y_domain = list(heatmap_domain(frame))
    panels = []
    for position in ("first", "middle", "last"):
        panels.append(alt.Chart(data[data["position"] == position]).mark_line(point=alt.OverlayMarkDef(size=25)).encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("shown:Q", scale=alt.Scale(type="log", domain=y_domain), title=f"{label} (log)",
                    axis=alt.Axis(format=".0e", values=_decades(*y_domain))),
            color=alt.Color("run:N", scale=_runs_scale(runs), legend=alt.Legend(title="run")),
            tooltip=[alt.Tooltip("run:N"), alt.Tooltip("layer:N"), alt.Tooltip("epoch:Q"),
                     alt.Tooltip("value:Q", title=label, format=".3e")],
        ).add_params(_zoom(f"flow_lines_zoom_{position}")).properties(title=f"{position} layer", width=width,
                                                                      height=height))
    return _style(alt.hconcat(*panels))  # one explicit y domain: the panels share the scale


# --- complexity ---------------------------------------------------------------------------------------


def pareto_front(costs: Sequence[float], values: Sequence[float]) -> np.ndarray:
    """Boolean mask of the non-dominated points: point i is on the front when no other point costs at
    most as much *and* scores at least as high, better in one of the two."""
    c, v = np.asarray(costs, dtype=float), np.asarray(values, dtype=float)
    front = np.ones(len(c), dtype=bool)
    for i in range(len(c)):
        dominated = (c <= c[i]) & (v >= v[i]) & ((c < c[i]) | (v > v[i]))
        front[i] = not dominated.any()
    return front


COSTS = {"params": "parameters", "flops": "FLOPs per image (2 x MACs)"}


def complexity_frame(points: Iterable[dict]) -> pd.DataFrame:
    """``points``: dicts with ``name``, ``arch``, ``dataset``, ``params``, ``flops``, ``accuracy`` (0..1).
    Points without an accuracy are left out. Columns: ``run``, ``arch``, ``dataset``, ``params``,
    ``flops``, ``accuracy`` and, per cost, ``pareto_params`` / ``pareto_flops``: on the Pareto front
    (:func:`pareto_front`) of the runs *of its dataset* (accuracies of different datasets don't compare)."""
    rows = [{"run": p["name"], "arch": p.get("arch", ""), "dataset": p.get("dataset", ""),
             "params": p.get("params"), "flops": p.get("flops"), "accuracy": p["accuracy"]}
            for p in points if p.get("accuracy") is not None]
    frame = pd.DataFrame(rows, columns=["run", "arch", "dataset", "params", "flops", "accuracy"])
    for cost in COSTS:
        frame[f"pareto_{cost}"] = False
        for _, d in frame.groupby("dataset", sort=False):
            d = d[d[cost].notna() & (d[cost].astype(float) > 0)]
            if len(d):
                frame.loc[d.index, f"pareto_{cost}"] = pareto_front(d[cost].astype(float), d["accuracy"])
    return frame


def fitted_domain(values: Sequence[float], log: bool = False) -> list[float]:
    """An axis domain fitted to ``values`` with a margin (a factor of 1.6 on a log axis; 8% of the range,
    at least 0.005, on a linear one, kept inside 0..1 for accuracies)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x) and (x > 0 or not log)], dtype=float)
    if not len(v):
        return [1.0, 10.0] if log else [0.0, 1.0]
    lo, hi = float(v.min()), float(v.max())
    if log:
        return [lo / 1.6, hi * 1.6]
    pad = max(0.08 * (hi - lo), 0.005)
    return [max(0.0, lo - pad), min(1.0, hi + pad)] if hi <= 1 else [lo - pad, hi + pad]


def complexity_chart(frame: pd.DataFrame, width: int = 360, height: int = 260) -> alt.VConcatChart:
    """Parameters and FLOPs per image (log x) against best validation accuracy: one row of two panels per
    dataset (accuracies of different datasets don't compare), both axes fitted to that dataset's runs;
    one point per run (colour; the tooltip names it) and, dashed, the dataset's Pareto front as a
    staircase (the best accuracy reached for at most that cost)."""
    runs = list(dict.fromkeys(frame["run"]))
    color = alt.Color("run:N", scale=_runs_scale(runs), legend=alt.Legend(title="run", symbolStrokeWidth=0))
    tooltip = [alt.Tooltip("run:N"), alt.Tooltip("arch:N"), alt.Tooltip("dataset:N"),
               alt.Tooltip("params:Q", format=","), alt.Tooltip("flops:Q", title="FLOPs/image", format=".3s"),
               alt.Tooltip("accuracy:Q", title="best val acc", format=".2%")]
    rows = []
    for d, (dataset, runs_of) in enumerate(frame.groupby("dataset", sort=False)):
        y = alt.Y("accuracy:Q", title="best validation accuracy", axis=alt.Axis(format=".1%"),
                  scale=alt.Scale(domain=fitted_domain(runs_of["accuracy"])))
        panels = []
        for cost, label in COSTS.items():
            data = runs_of[runs_of[cost].notna() & (runs_of[cost].astype(float) > 0)]
            x = alt.X(f"{cost}:Q", title=f"{label} (log)", axis=alt.Axis(format="~s"),
                      scale=alt.Scale(type="log", domain=fitted_domain(data[cost].astype(float), log=True)))
            base = alt.Chart(data).encode(x=x, y=y)
            front = (base.transform_filter(f"datum.pareto_{cost}")
                     .mark_line(interpolate="step-after", color="#555", strokeDash=[5, 3], strokeWidth=1.5))
            points = base.mark_point(filled=True, size=110, opacity=0.9, stroke="#222", strokeWidth=0.6).encode(
                color=color, tooltip=tooltip).add_params(_zoom(f"complexity_zoom_{d}_{cost}"))
            title = f"{dataset}: {label.split(' (')[0]} vs accuracy"
            panels.append(alt.layer(front, points).properties(title=title, width=width, height=height))
        rows.append(alt.hconcat(*panels))
    return _style(alt.vconcat(*rows))


# --- confusion matrix ---------------------------------------------------------------------------------

CELL = "cell"  # name of the confusion chart's click selection: the app reads {"true", "predicted"} from it


def confusion_frame(evaluation, normalized: bool = True) -> pd.DataFrame:
    """One row per cell of ``evaluation``'s confusion matrix: true / predicted class (names and indices),
    count and share of the true class."""
    classes = evaluation.classes
    k = len(classes)
    counts, shares = evaluation.confusion, evaluation.confusion_normalized
    return pd.DataFrame({"true": [classes[i] for i in range(k) for _ in range(k)],
                         "predicted": [classes[j] for _ in range(k) for j in range(k)],
                         "true_index": np.repeat(np.arange(k), k), "predicted_index": np.tile(np.arange(k), k),
                         "count": counts.reshape(-1).astype(int), "share": shares.reshape(-1).astype(float)})


def confusion_chart(frame: pd.DataFrame, normalized: bool = True, size: int = 210) -> alt.LayerChart:
    """The confusion matrix as a heatmap (rows: true class, columns: predicted) whose cells can be clicked
    (selection ``CELL`` over ``true_index`` / ``predicted_index``; the picked cell is outlined); tooltips give
    count and share; the values are printed in the cells up to 10 classes (beyond, the tooltip has them). Sized
    for three matrices side by side at a 1500-px window, the colour legend below."""
    order = list(dict.fromkeys(frame["true"]))
    value = "share" if normalized else "count"
    pick = alt.selection_point(name=CELL, fields=["true_index", "predicted_index"], on="click", clear="dblclick")
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:N", sort=order, title="predicted class"),
        y=alt.Y("true:N", sort=order, title="true class"),
        tooltip=["true", "predicted", alt.Tooltip("count:Q"), alt.Tooltip("share:Q", format=".1%")])
    cells = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="blues"),
                        title="share of the true class" if normalized else "images",
                        legend=alt.Legend(orient="bottom", direction="horizontal", gradientLength=size)),
        stroke=alt.condition(pick, alt.value("#d62728"), alt.value(None), empty=False),
        strokeWidth=alt.condition(pick, alt.value(3), alt.value(0), empty=False),
    ).add_params(pick)
    text = base.mark_text(fontSize=FONT - 2).encode(
        text=alt.Text(f"{value}:Q", format=".0%" if normalized else "d"),
        color=alt.condition(alt.datum[value] > (0.5 if normalized else frame["count"].max() / 2),
                            alt.value("white"), alt.value("black")))
    shown = text.transform_filter(alt.datum["count"] > 0) if len(order) <= 10 else text.transform_filter("false")
    chart = alt.layer(cells, shown).properties(width=size, height=size,
                                               autosize=alt.AutoSizeParams(type="pad", contains="padding"))
    return (chart.configure_axis(labelFontSize=FONT, titleFontSize=FONT + 1, labelLimit=LABEL_LIMIT)
            .configure_legend(labelFontSize=FONT, titleFontSize=FONT)
            .configure_view(strokeWidth=0.5))


def picked_cell(event) -> tuple[int, int] | None:
    """(true index, predicted index) of a click on :func:`confusion_chart` from Streamlit's selection state."""
    points = (getattr(event, "selection", None) or {}).get(CELL) or []
    if not points:
        return None
    return int(points[0]["true_index"]), int(points[0]["predicted_index"])


def similarity_frame(result) -> pd.DataFrame:
    """A :class:`~xaicnn.analysis.similarity.Similarity` as one row per (row layer, column layer) pair, with
    each layer's position so the axes keep the network's order."""
    a, b = result.names
    rows = []
    for i, la in enumerate(result.layers_a):
        for j, lb in enumerate(result.layers_b):
            value = float(result.cka[i, j])
            rows.append({"row": la, "column": lb, "row_index": i, "column_index": j,
                         "cka": value if math.isfinite(value) else None, "run_a": a, "run_b": b})
    return pd.DataFrame(rows)


def similarity_chart(frame: pd.DataFrame, cell: int = 22, min_side: int = 320, max_side: int = 640) -> alt.Chart:
    """CKA heatmap, first layers at the top left, colour fixed to 0..1 (heatmaps of different pairs read alike);
    the tooltip names both layers and the value."""
    rows, columns = frame["row"].nunique(), frame["column"].nunique()
    a, b = frame["run_a"].iloc[0], frame["run_b"].iloc[0]
    order = lambda key: list(frame.sort_values(f"{key}_index")[key].drop_duplicates())  # noqa: E731
    chart = alt.Chart(frame).mark_rect().encode(
        x=alt.X("column:N", sort=order("column"), title=f"{b} layer", axis=alt.Axis(labelAngle=-60)),
        y=alt.Y("row:N", sort=order("row"), title=f"{a} layer"),
        color=alt.Color("cka:Q", title="linear CKA", scale=alt.Scale(domain=[0, 1], scheme="viridis")),
        tooltip=[alt.Tooltip("row:N", title=f"{a} layer"), alt.Tooltip("column:N", title=f"{b} layer"),
                 alt.Tooltip("cka:Q", title="CKA", format=".3f")],
    ).properties(width=min(max_side, max(min_side, cell * columns)), height=min(max_side, max(min_side, cell * rows)))
    return _style(chart)
