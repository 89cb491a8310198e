"""The Confusion page: per run its confusion matrix (click a cell) and most confused pairs (pick a row); below,
the validation images behind the picked cell with every selected run's prediction and probability, one click
from their attributions; and for two runs on the same data, the images one gets right and the other wrong.
"""
from __future__ import annotations

import streamlit as st

import _cached as cached
from _inside import open_inside
from _pages import one_sentence, side_by_side

MAX_IMAGES = 24  # images shown for a cell or a disagreement set (the table lists them all)


def explain(indices) -> None:
    """Button callback: open these validation images in Attributions (by index)."""
    st.session_state.update(attr_source="index", attr_indices=", ".join(map(str, indices)), page="Attributions")


def _pick(run: str, true: int, predicted: int) -> None:
    st.session_state["cm_pick"] = {"run": run, "true": true, "predicted": predicted}


def page(entries):
    from xaicnn.charts import confusion_chart, confusion_frame, picked_cell

    normalized = st.toggle("Row-normalised (share of the true class)", value=True, key="cm_normalized")
    st.caption("Each run evaluated on its own validation subset (the images it was scored on in training). Click a "
               "cell, or pick a row of the confused pairs, to see its images below.")
    evaluations = {}
    for column, entry in side_by_side(entries):
        with column, one_sentence(run=entry.name):
            st.markdown(f"**{entry.name}** ({entry.arch}, {entry.dataset})")
            k = cached.key(entry)
            with st.spinner(f"Evaluating {entry.name}..."):
                ev = evaluations[entry.name] = cached.evaluation(k)
            st.markdown(f"accuracy **{ev.accuracy:.2%}** · macro F1 **{ev.macro['f1']:.4f}** · {ev.size:,} images")
            event = st.altair_chart(confusion_chart(confusion_frame(ev), normalized), on_select="rerun",
                                    key=f"cm_chart_{entry.name}", width="content")  # square, never squeezed
            cell = picked_cell(event)
            if cell is not None and st.session_state.get("cm_last_click", {}).get(entry.name) != cell:
                st.session_state.setdefault("cm_last_click", {})[entry.name] = cell
                _pick(entry.name, *cell)
            st.image(cached.per_class_png(k))
            st.markdown("Most confused pairs (true → predicted)")
            if ev.most_confused:
                index = {c: i for i, c in enumerate(ev.classes)}
                pairs = st.dataframe([{"true": p.true, "predicted": p.predicted, "count": p.count,
                                       "share of true": p.share} for p in ev.most_confused],
                                     column_config={"share of true": st.column_config.NumberColumn(format="percent")},
                                     hide_index=True, on_select="rerun", selection_mode="single-row",
                                     key=f"cm_pairs_{entry.name}")
                rows = pairs.selection.rows if pairs is not None else []
                if rows and st.session_state.get("cm_last_row", {}).get(entry.name) != rows[0]:
                    st.session_state.setdefault("cm_last_row", {})[entry.name] = rows[0]
                    p = ev.most_confused[rows[0]]
                    _pick(entry.name, index[p.true], index[p.predicted])
            else:
                st.write("None: every image was classified correctly.")
    evaluated = [e for e in entries if e.name in evaluations]  # a run that failed above has its sentence there
    _drilldown(evaluated, evaluations)
    _disagreements(evaluated, evaluations)


def _same_data(entries, run: str) -> list:
    label = next(e.data_label for e in entries if e.name == run)
    return [e for e in entries if e.data_label == label]


def _images(entry, indices) -> None:
    if len(indices):
        st.image(cached.image_grid_png(cached.key(entry), tuple(int(i) for i in indices[:MAX_IMAGES])),
                 caption=f"validation images {', '.join(map(str, indices[:MAX_IMAGES]))}"
                         + (f" (first {MAX_IMAGES} of {len(indices)})" if len(indices) > MAX_IMAGES else ""))


def _drilldown(entries, evaluations) -> None:
    from xaicnn.analysis.drilldown import cell_indices, predictions_table

    pick = st.session_state.get("cm_pick")
    if not pick or pick["run"] not in evaluations:
        return
    ev = evaluations[pick["run"]]
    true, predicted = ev.classes[pick["true"]], ev.classes[pick["predicted"]]
    indices = cell_indices(ev, pick["true"], pick["predicted"])
    st.subheader(f"{pick['run']}: class {true} predicted as {predicted}")
    if not len(indices):
        st.info("No validation image falls in this cell.")
        return
    same = _same_data(entries, pick["run"])
    st.caption(f"{len(indices)} validation image(s); each run on the same data ({len(same)}) with its prediction and "
               f"the probability it gave that prediction.")
    entry = next(e for e in entries if e.name == pick["run"])
    _images(entry, indices)
    st.dataframe(predictions_table([evaluations[e.name] for e in same], indices), hide_index=True)
    left, right = st.columns(2)
    left.button(f"Explain these {min(len(indices), 12)} image(s) in Attributions", key="cm_explain",
                on_click=explain, args=(list(indices[:12]),), icon=":material/arrow_forward:")
    right.button(f"Look inside the models on image {int(indices[0])}", key="cm_inside", on_click=open_inside,
                 args=(int(indices[0]),), icon=":material/arrow_forward:")


def _disagreements(entries, evaluations) -> None:
    from xaicnn.analysis.drilldown import disagreement

    groups = {}
    for e in entries:
        groups.setdefault(e.data_label, []).append(e.name)
    pairs = {label: names for label, names in groups.items() if len(names) >= 2}
    if not pairs:
        return
    st.subheader("Where two runs disagree")
    label = next(iter(pairs)) if len(pairs) == 1 else st.radio("Data", list(pairs), horizontal=True, key="dis_data")
    names = pairs[label]
    left, right = st.columns(2)
    a = left.selectbox("Run A", names, index=0, key="dis_a")
    b = right.selectbox("Run B", [n for n in names if n != a], index=0, key="dis_b")
    with one_sentence():
        d = disagreement(evaluations[a], evaluations[b])
    counts = d.counts()
    st.caption(f"On the {d.images:,} validation images both were scored on: " + "; ".join(
        f"{k}: {v}" for k, v in counts.items() if k != "images") + ". Runs that differ on few images are "
        "no evidence that one is better (McNemar's test counts exactly these discordant images).")
    entry = {e.name: e for e in entries}
    for (title, indices), column in zip(((f"{a} right, {b} wrong", d.a_right_b_wrong),
                                         (f"{b} right, {a} wrong", d.b_right_a_wrong)), st.columns(2)):
        with column:
            st.markdown(f"**{title}** ({len(indices)})")
            _images(entry[a], indices)
            if len(indices):
                st.button("Explain them in Attributions", key=f"dis_explain_{title}", on_click=explain,
                          args=(list(indices[:12]),))
