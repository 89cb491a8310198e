"""The comparison app's run pages: Overview, Curves, Gradient flow, Complexity (Confusion, Attributions and
Studies have modules of their own).

Each page is a function of the selected :class:`~xaicnn.analysis.runs.RunEntry` list: widgets, a
cached library call (``_cached``), render. Curves, Gradient flow and Complexity draw interactive
Vega-Lite charts built by :mod:`xaicnn.charts` (one shared scale across the runs).

Every page isolates a failing run the same way (:func:`one_sentence`, :func:`isolate`): a run whose loading
or analysis fails gets one sentence naming it in place of its figures, and is left out of what the runs share
(a scale, a frame, a comparison); the other runs still render.
"""
from __future__ import annotations

import contextlib
import logging

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


def say(err: Exception, run: str | None = None, left_out: bool = False, where=st) -> None:
    """Show ``err`` as one sentence (``st.error``), named after ``run`` when it is one run's failure.

    Without ``run`` only a ``UserError`` is shown (bad input on the page); anything else is a bug and is
    raised again with its traceback. With ``run``, any error is shown, since a checkpoint can be damaged in
    ways no check foresees and one bad run must not blank the others (an unexpected error's traceback still
    goes to the server log). ``left_out``: the run is dropped from a comparison of several runs.
    """
    if isinstance(err, UserError):
        sentence = str(err)
    elif run is None:
        raise err
    else:
        logging.getLogger(__name__).error("run %s failed", run, exc_info=err)
        detail = (str(err).strip().splitlines() or [""])[0][:160]
        sentence = (f"it could not be analysed ({type(err).__name__}: {detail}); its checkpoint may be damaged: "
                    f"check it with `xaicnn inspect`, or deselect it in the sidebar.")
    where.error(sentence if run is None else f"**{run}**{' is left out' if left_out else ''}: {sentence}")


@contextlib.contextmanager
def one_sentence(where=st, run: str | None = None, left_out: bool = False):
    """Show a failure in the block as one sentence (:func:`say`) instead of a traceback; the rest of the block
    is skipped and the page goes on. ``run``: the name of the run the block works on."""
    try:
        yield
    except Exception as err:
        say(err, run, left_out, where)


def _error_of(work) -> Exception | None:
    try:
        work()
    except Exception as err:  # returned to the caller, which shows it or raises it again
        return err
    return None


def each_run(entries, work) -> list:
    """The ``entries`` for which ``work(entry)`` succeeds; each one that fails shows its sentence, named."""
    passing = []
    for entry in entries:
        with one_sentence(run=entry.name, left_out=len(entries) > 1):
            work(entry)
            passing.append(entry)
    return passing


def isolate(entries, compare, check=None):
    """``compare(runs)`` of several runs (a shared scale, a frame, one comparison) without the ones that fail.

    ``check(entry)``, if given, is a cheap per-run step tried first (load the run, read its record). If the
    joint call fails, each run is compared alone to find the culprits (a cost paid only on failure); each
    failing run gets its sentence ("**run** is left out: ...") and the others are compared. When every run
    fails alone, the request itself is at fault (an image index out of range): its sentence is shown once.
    Returns ``(result, the runs compared)``, or ``(None, [])`` when nothing could be compared.
    """
    kept = each_run(entries, check) if check is not None else list(entries)
    if not kept:
        return None, []
    result = []
    joint_error = _error_of(lambda: result.append(compare(kept)))
    if joint_error is None:
        return result[0], kept
    if len(kept) == 1:
        say(joint_error, run=kept[0].name)
        return None, []
    errors = {e.name: _error_of(lambda: compare([e])) for e in kept}
    failing = [e for e in kept if errors[e.name] is not None]
    if not failing or (len(failing) == len(kept) and isinstance(joint_error, UserError)):
        say(joint_error)  # the runs fail only together, or all alike: not one run's fault
        return None, []
    for e in failing:
        say(errors[e.name], run=e.name, left_out=True)
    passing = [e for e in kept if errors[e.name] is None]
    if not passing:
        return None, []
    with one_sentence():
        return compare(passing), passing
    return None, []


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

    tables, entries = isolate(entries, lambda runs: (overview_rows(runs, group_seeds=False),
                                                     overview_rows(runs, group_seeds=True)))
    if tables is None:
        return
    rows, groups = tables
    st.subheader("Runs")
    st.dataframe(rows, column_config=RUN_COLUMNS, hide_index=True, key="overview_table")
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
        frame, entries = isolate(entries, lambda runs: cached.curves_frame(
            tuple(cached.key(e) for e in runs), tuple(e.name for e in runs), tuple(e.condition for e in runs)),
            check=lambda e: cached.run(cached.key(e)))
    waiting = [e.name for e in entries if not e.epochs]
    if waiting:
        st.info(f"No finished epoch yet, so no curve: {', '.join(waiting)}.")
    if frame is not None and not frame.empty:
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
    with st.spinner("Reading gradient flow..."):
        frame, _ = isolate(entries, lambda runs: cached.flow_frame(
            tuple(cached.key(e) for e in runs), tuple(e.name for e in runs), stat, level),
            check=lambda e: cached.flow(cached.key(e), stat, level))
    if frame is None:
        return
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
    frame, _ = isolate(entries, lambda runs: charts.complexity_frame(
        {"name": e.name, "arch": e.arch, "dataset": e.dataset, "params": e.params, "flops": e.flops,
         "accuracy": e.best_val_acc} for e in runs))
    if frame is not None and frame.empty:
        st.info("None of the selected runs has a validation accuracy yet.")
    elif frame is not None:  # None: no run left to draw, each one's sentence is above
        st.altair_chart(charts.complexity_chart(frame), key="complexity_chart")
    st.markdown("**Per-layer tables** (output shape, parameters, FLOPs), two runs side by side")
    by_name = {e.name: e for e in entries}
    names = list(by_name)
    for column, default, key in zip(st.columns(2), (0, min(1, len(names) - 1)), ("cx_left", "cx_right")):
        with column:
            entry = by_name[st.selectbox("Run", names, index=default, key=key)]
            with one_sentence(run=entry.name):
                st.caption(f"{entry.arch} on {entry.dataset}: {entry.params or 0:,} parameters, "
                           f"{human(entry.flops or 0)} FLOPs per image")
                st.dataframe(layer_table(cached.complexity(cached.key(entry))),
                             column_config={"params": RUN_COLUMNS["params"],
                                            "FLOPs": st.column_config.NumberColumn(format="compact")},
                             hide_index=True)


