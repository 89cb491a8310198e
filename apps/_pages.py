"""The comparison app's run pages: Overview, Curves, Gradient flow, Complexity, Confusion.

Each page is a function of the selected :class:`~xaicnn.analysis.runs.RunEntry` list: widgets, a
cached library call (``_cached``), render. A run whose analysis fails with a ``UserError`` gets its one
sentence in place of its figures; the other runs still render.
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
    st.caption("Train (dashed) and validation (solid) loss and accuracy per epoch, one colour per run.")
    with st.spinner("Drawing learning curves..."):
        image = cached.curves_png(tuple(cached.key(e) for e in entries), tuple(e.name for e in entries))
    st.image(image)


def gradient_flow(entries):
    from xaicnn.analysis.gradient_flow import STAT_LABELS

    left, middle, right = st.columns(3)
    stat = left.selectbox("Statistic", list(STAT_LABELS), format_func=STAT_LABELS.get, key="gf_stat")
    level = middle.radio("Rows", ["parameter", "stage"], horizontal=True, key="gf_level",
                         format_func={"parameter": "conv/linear weights", "stage": "stages (mean)"}.get)
    longest = max(e.epochs for e in entries) or 1
    epoch = right.slider("Epoch of the bar chart", 1, max(longest, 2), longest, key="gf_epoch",
                         disabled=longest < 2)
    st.caption("Per-layer gradient (mean over each epoch's steps) in network order: bars at the chosen epoch "
               "(log scale), the layers x epochs heatmap, and the first, middle and last layer over the epochs. "
               "Vanishing gradients show as rows orders of magnitude below the rest.")
    with st.spinner("Drawing gradient flow..."):
        for column, entry in side_by_side(entries):
            with column, one_sentence():
                st.markdown(f"**{entry.name}** ({entry.arch}, {entry.dataset})")
                k = cached.key(entry)
                f = cached.flow(k, stat, level)
                st.image(cached.flow_png(k, stat, level, "bars", min(epoch, f.epochs[-1])))
                st.image(cached.flow_png(k, stat, level, "heatmap"))
                st.image(cached.flow_png(k, stat, level, "lines"))


def complexity(entries):
    from xaicnn.analysis.complexity import human

    st.caption("Parameters, FLOPs per image (FLOPs = 2 x MACs; convolutions and matrix products) and the "
               "best validation accuracy of each selected run.")
    points = tuple(tuple({"name": e.name, "arch": e.arch, "dataset": e.dataset, "params": e.params,
                          "flops": e.flops, "accuracy": e.best_val_acc}.items()) for e in entries)
    with st.spinner("Drawing the complexity scatter..."):
        st.image(cached.complexity_scatter_png(points))
    for entry in entries:
        with st.expander(f"{entry.name}: {entry.arch} on {entry.dataset}, {entry.params or 0:,} parameters, "
                         f"{human(entry.flops or 0)} FLOPs", expanded=len(entries) == 1), one_sentence():
            report = cached.complexity(cached.key(entry))
            st.dataframe([{"layer": r.name or "(model)", "type": r.type,
                           "output shape": "x".join(map(str, r.output_shape)) if r.output_shape else "-",
                           "params": r.params, "FLOPs": r.flops} for r in report.layers],
                         column_config={"params": RUN_COLUMNS["params"],
                                        "FLOPs": st.column_config.NumberColumn(format="compact")},
                         hide_index=True)


def confusion(entries):
    normalized = st.toggle("Row-normalised (share of the true class)", value=True, key="cm_normalized")
    st.caption("Each run evaluated on its own validation subset (the images it was scored on in training).")
    for column, entry in side_by_side(entries):
        with column, one_sentence():
            st.markdown(f"**{entry.name}** ({entry.arch}, {entry.dataset})")
            k = cached.key(entry)
            with st.spinner(f"Evaluating {entry.name}..."):
                ev = cached.evaluation(k)
            st.markdown(f"accuracy **{ev.accuracy:.2%}** · macro F1 **{ev.macro['f1']:.4f}** · {ev.size:,} images")
            st.image(cached.confusion_png(k, normalized))
            st.image(cached.per_class_png(k))
            st.markdown("Most confused pairs (true → predicted)")
            if ev.most_confused:
                st.dataframe([{"true": p.true, "predicted": p.predicted, "count": p.count, "share of true": p.share}
                              for p in ev.most_confused],
                             column_config={"share of true": st.column_config.NumberColumn(format="percent")},
                             hide_index=True)
            else:
                st.write("None: every image was classified correctly.")
