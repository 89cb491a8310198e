"""The comparison app's run pages: Overview, Curves, Gradient flow, Complexity (Confusion, Attributions and
Studies have modules of their own).

Each page is a function of the selected :class:`~xaicnn.analysis.runs.RunEntry` list: widgets, a
cached library call (``_cached``), render. Curves, Gradient flow and Complexity draw interactive
Vega-Lite charts built by :mod:`xaicnn.charts` (one shared scale across the runs). A run whose analysis fails with a ``UserError`` gets its one sentence in place of its figures;
the other runs still render.
"""
from __future__ import annotations

import contextlib

import streamlit as st

import _cached as cached
from xaicnn.errors import UserError

PER_ROW = 3  # runs side by side before wrapping to a new row

EMPTY_STATE = """
**No runs found in `{folder}`.** Train some and they appear here:
`make demo` trains a small demo set (half a minute on two idle CPU cores) and opens this app on it;
`xaicnn train --arch vgg_block --dataset digits` trains one run into `checkpoints/` in seconds.
Or type another folder in the sidebar, or open a study's runs from the **Studies** page.
"""

RUN_COLUMNS = {
    "run": st.column_config.TextColumn("run"),
    "params": st.column_config.NumberColumn("params", format="localized"),
    "flops": st.column_config.NumberColumn("FLOPs/image", format="compact"),
    "best_val_acc": st.column_config.NumberColumn("best val acc", format="percent"),
    "last_val_acc": st.column_config.NumberColumn("last val acc", format="percent"),
    "macro_f1": st.column_config.NumberColumn("macro F1", format="%.4f", help="macro F1 at the last epoch"),
    "seconds_per_epoch": st.column_config.NumberColumn("s/epoch (train)", format="%.1f",
                                                       help="training only (no validation), mean over the epochs "
                                                            "after the first; the same figure as inspect and studies"),
    "total_time": st.column_config.NumberColumn("total s", format="%.0f"),
}


@contextlib.contextmanager
def one_sentence(where=st):
    """Show a ``UserError`` as its one sentence (``st.error``) instead of a traceback."""
    try:
        yield
    except UserError as err:
        where.error(str(err))


def side_by_side(entries):
    """Yield (column, entry) with at most ``PER_ROW`` columns per row."""
    for start in range(0, len(entries), PER_ROW):
        row = entries[start:start + PER_ROW]
        for column, entry in zip(st.columns(PER_ROW if len(entries) > PER_ROW else len(row)), row):
            yield column, entry


def run_line(e) -> str:
    """One sidebar list item: name, architecture, dataset, status, best validation accuracy."""
    best = "-" if e.best_val_acc is None else f"{e.best_val_acc:.1%}"
    return f"- **{e.name}** · {e.arch} · {e.dataset} · {e.status} · best {best}"


def _pm(mean, std, percent: bool = False, digits: int = 2) -> str:
    if mean is None:
        return "-"
    scale, unit = (100, " %") if percent else (1, "")
    text = f"{scale * mean:.{digits}f}"
    return text + (f" ± {scale * std:.{digits}f}" if std is not None else "") + unit


def grouped_table(rows: list[dict]) -> list[dict]:
    """Seed-group rows (``overview_rows(..., group_seeds=True)``) as display rows: mean ± std strings."""
    return [{"arch": r["arch"], "dataset": r["dataset"], "options": r["options"], "n": r["n"], "seeds": r["seeds"],
             "params": r["params"], "best val acc": _pm(r["best_val_acc"], r["best_val_acc_std"], True),
             "last val acc": _pm(r["last_val_acc"], r["last_val_acc_std"], True),
             "macro F1": _pm(r["macro_f1"], r["macro_f1_std"], digits=4),
             "s/epoch (train)": _pm(r["seconds_per_epoch"], r["seconds_per_epoch_std"], digits=1),
             "total s": _pm(r["total_time"], r["total_time_std"], digits=0), "status": r["status"], "runs": r["runs"]}
            for r in rows]


# --- pages ------------------------------------------------------------------------------------------


def overview(entries):
    from xaicnn.analysis.runs import overview_rows

    st.subheader("Runs")
    st.dataframe(overview_rows(entries, group_seeds=False), column_config=RUN_COLUMNS, hide_index=True,
                 key="overview_table")
    groups = overview_rows(entries, group_seeds=True)
    if any(g["n"] > 1 for g in groups):
        st.subheader("Repeated seeds")
        st.caption("Runs equal in everything but the seed, as mean ± sample standard deviation over n seeds.")
        st.dataframe(grouped_table(groups), column_config={"params": RUN_COLUMNS["params"]}, hide_index=True)
    datasets = sorted({e.dataset for e in entries})
    if len(datasets) > 1:
        st.caption(f"The selected runs use different datasets ({', '.join(datasets)}): compare their accuracies "
                   f"with care; Attributions compares only runs on one dataset.")


def curves(entries):
    from xaicnn import charts

    scale = st.radio("Loss axis", ["linear", "log"], horizontal=True, key="curves_loss_scale")
    st.caption(f"Loss and accuracy per epoch: train dashed, validation solid. One row of panels per dataset, so "
               f"losses over different numbers of classes never share an axis. Runs that differ only in the seed "
               f"are one line, their mean, with a band spanning {charts.BAND}. Hover for values; drag to pan, "
               f"scroll to zoom, double-click to reset; click a legend entry to highlight a run.")
    with st.spinner("Reading learning curves..."):
        frame = cached.curves_frame(tuple(cached.key(e) for e in entries), tuple(e.name for e in entries),
                                    tuple(e.condition for e in entries))
    waiting = [e.name for e in entries if not e.epochs]
    if waiting:
        st.info(f"No finished epoch yet, so no curve: {', '.join(waiting)}.")
    if not frame.empty:
        st.altair_chart(charts.curves_chart(frame, log_loss=scale == "log"), key="curves_chart")


def gradient_flow(entries):
    from xaicnn import charts
    from xaicnn.analysis.gradient_flow import STAT_LABELS

    left, middle, right, last = st.columns([3, 3, 3, 4])
    stat = left.selectbox("Statistic", list(STAT_LABELS), format_func=STAT_LABELS.get, key="gf_stat")
    level = middle.radio("Rows", ["parameter", "stage"], horizontal=True, key="gf_level",
                         format_func={"parameter": "conv/linear weights", "stage": "stages (mean)"}.get)
    x = right.radio("x axis", ["depth", "index"], horizontal=True, key="gf_x",
                    format_func={"depth": "relative depth 0-1", "index": "layer index"}.get)
    longest, shortest = max(e.epochs for e in entries) or 1, min(e.epochs for e in entries) or 1
    epoch = last.slider("Epoch", 1, max(longest, 2), shortest, key="gf_epoch", disabled=longest < 2,
                        help="Starts at the last epoch every selected run reached; a run that stopped before the "
                             "chosen epoch is listed, not drawn.")
    label = STAT_LABELS[stat]
    readable = []
    with st.spinner("Reading gradient flow..."):
        for entry in entries:
            with one_sentence():
                cached.flow(cached.key(entry), stat, level)
                readable.append(entry)
        if not readable:
            return
        frame = cached.flow_frame(tuple(cached.key(e) for e in readable), tuple(e.name for e in readable), stat, level)
    at, missing = charts.flow_at_epoch(frame, epoch)
    st.caption(f"The {label} of each layer (mean over the epoch's steps) in network order, every run on one "
               f"log axis. Vanishing gradients show as layers orders of magnitude below the rest. Hover for "
               f"values; drag to pan, scroll to zoom, double-click to reset.")
    if missing:
        st.info(charts.missing_epoch_note(missing, epoch))
    if not at.empty:
        st.altair_chart(charts.flow_profile_chart(at, x=x, label=label, epoch=epoch), key="gf_profile")
    st.markdown("**Layers x epochs**")
    st.caption(charts.scale_statement(frame, label))
    st.altair_chart(charts.flow_heatmap_chart(frame, label), key="gf_heatmaps")
    st.markdown("**First, middle and last layer over the epochs**")
    st.altair_chart(charts.flow_lines_chart(frame, label), key="gf_lines")


def layer_table(report) -> list[dict]:
    """A :class:`~xaicnn.models.complexity.Complexity` report's per-layer rows as display rows."""
    return [{"layer": r.name or "(model)", "type": r.type,
             "output shape": "x".join(map(str, r.output_shape)) if r.output_shape else "-",
             "params": r.params, "FLOPs": r.flops} for r in report.layers]


def complexity(entries):
    from xaicnn import charts
    from xaicnn.models.complexity import human

    st.caption("Parameters and FLOPs per image (FLOPs = 2 x MACs; convolutions and matrix products; log axes) "
               "against the best validation accuracy (axis fitted to the runs). The dashed staircase is the "
               "Pareto front of each dataset's runs: the best accuracy reached with at most that many "
               "parameters or FLOPs. Hover a point for its run; drag to pan, scroll to zoom.")
    frame = charts.complexity_frame({"name": e.name, "arch": e.arch, "dataset": e.dataset, "params": e.params,
                                     "flops": e.flops, "accuracy": e.best_val_acc} for e in entries)
    if frame.empty:
        st.info("None of the selected runs has a validation accuracy yet.")
    else:
        st.altair_chart(charts.complexity_chart(frame), key="complexity_chart")
    st.markdown("**Per-layer tables** (output shape, parameters, FLOPs), two runs side by side")
    by_name = {e.name: e for e in entries}
    names = list(by_name)
    for column, default, key in zip(st.columns(2), (0, min(1, len(names) - 1)), ("cx_left", "cx_right")):
        with column:
            entry = by_name[st.selectbox("Run", names, index=default, key=key)]
            st.caption(f"{entry.arch} on {entry.dataset}: {entry.params or 0:,} parameters, "
                       f"{human(entry.flops or 0)} FLOPs per image")
            with one_sentence():
                st.dataframe(layer_table(cached.complexity(cached.key(entry))),
                             column_config={"params": RUN_COLUMNS["params"],
                                            "FLOPs": st.column_config.NumberColumn(format="compact")},
                             hide_index=True)


