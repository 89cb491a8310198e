"""The Attributions page: the same images explained by every selected run, side by side.

Pick a method and the images (validation images by index, at random, those any run misclassifies, or
uploaded files); one row per image, one column per run (at most ``MAX_DRAWN`` drawn, picked when there are
more), each map titled with the prediction and its probability, all maps on one colour scale
(:func:`xaicnn.plots.plot_attribution_grid`, stated on the page) unless each map is asked for on its own.
Below: downloads of the figure and of the files ``xaicnn attribute`` writes, a table with IG's completeness
delta and the deletion/insertion AUCs (Petsiuk et al. 2018) of every run, how much the runs' maps agree
(:mod:`xaicnn.analysis.agreement`, an interactive runs x runs matrix), the mean deletion/insertion curves,
and a button for the model-randomisation sanity check (Adebayo et al. 2018). Dataset images need runs
trained on the same data; uploads are converted to each run's input format.

The figures and the agreement are cached here with ``st.cache_data``, keyed like ``_cached``'s by the runs'
keys and the request (method, images, target ...), plus what only this page varies (runs drawn, scale, top-k).
"""
from __future__ import annotations

import io

import streamlit as st

import _cached as cached
from _inside import open_inside
from _pages import isolate, one_sentence, side_by_side
from _uploads import IMAGE_TYPES, MAX_UPLOAD_MB, read_upload
from xaicnn.errors import UserError

SOURCES = {"index": "By index", "random": "Random", "misclassified": "Misclassified by any run", "upload": "Upload"}
MAX_DRAWN = 6  # runs drawn in the grid at most (maps stay >= 128 px in the app's main column); the table has all
TOP_K = (5, 50, 10)  # the agreement's top-k slider in percent: min, max, default


# --- cached figures, files and agreement --------------------------------------------------------------


def _png(fig_axes) -> bytes:
    """A ``(fig, axes)`` pair as PNG bytes at natural size (a 2-px margin, so a grid of 7 columns of 128-px maps
    stays within the 940-px main column; ``_cached.png`` pads 12 px) - the figure is closed."""
    import matplotlib.pyplot as plt

    from xaicnn.plots import DPI

    buffer = io.BytesIO()
    fig_axes[0].savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.02)
    plt.close(fig_axes[0])
    return buffer.getvalue()


@st.cache_data(show_spinner=False, max_entries=64)
def grid_png(keys, drawn: tuple[int, ...], per_map: bool, **request) -> bytes:
    """The maps of runs ``drawn`` (indices into the comparison) on one scale, or each on its own with ``per_map``."""
    from xaicnn.plots import plot_attribution_grid

    comparison = cached.attributions(keys, **request)
    return _png(plot_attribution_grid(comparison, runs=list(drawn), per_map=per_map, details=False))


@st.cache_data(show_spinner=False, max_entries=64)
def curves_png(keys, drawn: tuple[int, ...], **request) -> bytes:
    from xaicnn.plots import plot_deletion_insertion

    return _png(plot_deletion_insertion(cached.attributions(keys, **request), runs=list(drawn)))


@st.cache_data(show_spinner=False, max_entries=64)
def agreement(keys, top_k: float, **request):
    """``AttributionComparison.agreement(top_k)`` of the comparison (two or more runs)."""
    return cached.attributions(keys, **request).agreement(top_k)


@st.cache_data(show_spinner=False, max_entries=8)
def saved_files(keys, **request) -> dict[str, bytes]:
    """The JSON and arrays ``xaicnn attribute`` writes (``AttributionComparison.save``), as bytes by kind."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        paths = cached.attributions(keys, **request).save(folder)  # its PNG is the CLI's figure: not kept
        return {kind: paths[kind].read_bytes() for kind in ("json", "npz")}


# --- widgets ------------------------------------------------------------------------------------------


def _same_data(entries):
    """The selected runs that share one dataset and input size (asking which when they don't), for dataset images."""
    datasets = list(dict.fromkeys(e.data_label for e in entries))
    if len(datasets) == 1:
        return entries
    st.warning(f"Dataset images can only be compared across runs trained on the same data; the selected runs use "
               f"{len(datasets)} different datasets or input sizes ({', '.join(datasets)}). Pick one here, or upload images to compare them all.")
    dataset = st.radio("Compare the runs on", datasets, horizontal=True, key="attr_dataset")
    return [e for e in entries if e.data_label == dataset]


def _parse_indices(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.replace(" ", "").split(",") if p)
    except ValueError:
        raise UserError(f"Image indices are comma-separated numbers such as 0, 5, 17; got {text!r}.") from None


def _uploads(invert: bool) -> tuple[tuple[str, bytes], ...]:
    # No type= filter: streamlit would answer a wrong extension with an exception; read_upload answers
    # every kind of wrong file (name, size, content) with one sentence instead.
    files = st.file_uploader(f"Images ({', '.join(IMAGE_TYPES)}; at most {MAX_UPLOAD_MB} MB each)",
                             accept_multiple_files=True, max_upload_size=MAX_UPLOAD_MB, key="attr_uploads")
    good = []
    for f in files or []:
        data = f.getvalue()
        try:
            read_upload(f.name, data, invert=invert)
            good.append((f.name, data))
        except UserError as err:
            st.error(str(err))
    return tuple(good)


def _table(comparison) -> list[dict]:
    rows = []
    doc = comparison.to_json()
    for image in doc["images"]:
        for r in comparison.runs:
            rec = image["runs"][r.name]
            rows.append({"image": str(image["index"]), "label": None if image["label"] is None else r.classes[image["label"]],
                         "run": r.name, "prediction": r.classes[rec["prediction"]], "probability": rec["probability"],
                         "IG delta": rec["delta"], "deletion AUC": rec["deletion_auc"],
                         "deletion AUC, random order": rec["deletion_auc_random"], "insertion AUC": rec["insertion_auc"],
                         "insertion AUC, random order": rec["insertion_auc_random"]})
    return rows


def page(entries):
    from xaicnn.analysis.attribution import available

    methods = available()
    left, middle, right = st.columns([2, 2, 1])
    method = left.selectbox("Method", list(methods), key="attr_method",
                            format_func=lambda m: f"{m}: {methods[m]}"[:80])
    source = middle.radio("Images", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="attr_source")
    target = right.radio("Explain", ["pred", "label"], horizontal=True, key="attr_target",
                         format_func={"pred": "prediction", "label": "true label"}.get, disabled=source == "upload")
    request = dict(method=method, select="first", indices=(), n=4, seed=0, target=target, uploads=(), invert=False)
    if source == "upload":
        request["invert"] = st.checkbox("Invert (dark strokes on a light background -> light on dark, as in "
                                        "digits and glyphs)", key="attr_invert")
        request.update(uploads=_uploads(request["invert"]), target="pred")
        if not request["uploads"]:
            st.info("Upload one or more images; each is converted to every run's input format.")
            return
    else:
        entries = _same_data(entries)
        a, b = st.columns(2)
        if source == "index":
            with one_sentence():
                request["indices"] = _parse_indices(a.text_input("Validation image indices", "0, 1, 2, 3",
                                                                 key="attr_indices"))
            if not request["indices"]:
                return
        else:
            request.update(select=source, n=a.slider("Images", 1, 12, 4, key="attr_n"))
            if source == "random":
                request["seed"] = int(b.number_input("Seed", 0, 10_000, 0, key="attr_seed"))
    with st.spinner(f"Attributing with {method} for {len(entries)} run(s)..."):
        comparison, entries = isolate(entries, lambda runs: cached.attributions(
            tuple(cached.key(e) for e in runs), **request), check=lambda e: cached.run(cached.key(e)))
    if comparison is None:
        return
    keys = tuple(cached.key(e) for e in entries)  # the runs compared: a failing one is left out, named above
    with one_sentence():
        drawn = _drawn_runs(comparison)
        per_map = st.toggle("Normalise each map on its own", value=False, key="attr_per_map",
                            help="Off: one colour scale for every map. On: each map stretched to its own range.")
        st.caption(_scale_sentence(comparison, per_map))
        if drawn:
            with st.spinner("Drawing the maps..."):
                grid = grid_png(keys, drawn, per_map, **request)
            st.image(grid)
            _downloads(keys, grid, request)
        st.dataframe(_table(comparison), hide_index=True,
                     column_config={"probability": st.column_config.NumberColumn(format="%.3f"),
                                    "IG delta": st.column_config.NumberColumn(format="%.1e")})
        if source != "upload" and comparison.index:
            first = int(comparison.index[0])
            st.button(f"Look inside the models on image {first}", key="attr_inside", on_click=open_inside,
                      args=(first,), icon=":material/arrow_forward:")
        _agreement_panel(keys, comparison, request)
        if drawn:
            st.image(curves_png(keys, drawn, **request),
                     caption="Deletion: the target's probability as each map's top pixels are removed first; "
                             "insertion: as they are added first to a blurred image. Means over the images.")
        _sanity_panel(keys, comparison, request)


def _drawn_runs(comparison) -> tuple[int, ...]:
    """Indices of the runs to draw: all of them up to ``MAX_DRAWN``, else the ones picked (the first by default)."""
    names = [r.name for r in comparison.runs]
    if len(names) <= MAX_DRAWN:
        return tuple(range(len(names)))
    current = st.session_state.get("attr_drawn")
    picked = names[:MAX_DRAWN] if current is None else [n for n in current if n in names][:MAX_DRAWN]
    if picked != current:  # first visit, or runs that are gone: set before the widget exists (no default=)
        st.session_state["attr_drawn"] = picked
    chosen = st.multiselect(f"Runs to draw (at most {MAX_DRAWN} of the {len(names)}; the table and the agreement "
                            f"below cover all)", names, max_selections=MAX_DRAWN, key="attr_drawn")
    if not chosen:
        st.info(f"Pick up to {MAX_DRAWN} runs to draw their maps.")
    return tuple(names.index(n) for n in chosen)


def _scale_sentence(comparison, per_map: bool) -> str:
    from xaicnn.plots import ATTRIBUTION_PERCENTILE, scale_statement

    if per_map:
        return (f"Colours: each map is stretched to its own range (its own {ATTRIBUTION_PERCENTILE:g}th percentile "
                f"of |attribution|), so shapes compare but magnitudes do not: a nearly flat, weak map looks as "
                f"strong as a sharp one.")
    return (f"Colours: {scale_statement(comparison)}, shared by every run and image, so a faint map is a weak one "
            f"(the few pixels beyond it are drawn at full colour); opacity grows with |attribution|.")


def _downloads(keys, grid: bytes, request) -> None:
    """The figure as drawn, and the JSON and arrays ``xaicnn attribute`` writes (made when clicked)."""
    row = st.container(horizontal=True)
    row.download_button("Figure (PNG)", grid, file_name="attributions.png", mime="image/png", on_click="ignore",
                        icon=":material/download:", key="attr_download_png")
    row.download_button("attributions.json", lambda: saved_files(keys, **request)["json"],
                              file_name="attributions.json", mime="application/json", on_click="ignore",
                              icon=":material/download:", key="attr_download_json",
                              help="Per image and run: target, prediction, probability, IG delta, deletion and "
                                   "insertion AUCs; with two or more runs the agreement matrices.")
    row.download_button("attributions.npz", lambda: saved_files(keys, **request)["npz"],
                        file_name="attributions.npz", mime="application/octet-stream", on_click="ignore",
                        icon=":material/download:", key="attr_download_npz",
                        help="numpy arrays: inputs [N, C, H, W], targets [runs, N] and one [N, H, W] map array "
                             "per run, named by the run.")


# --- agreement ----------------------------------------------------------------------------------------


def agreement_frames(result):
    """An :class:`~xaicnn.analysis.agreement.Agreement` as two frames: the pairs (``run``, ``other``, ``iou``,
    ``spearman``; R x R rows) and the runs (``run``, ``fact``, ``value``, ``text``)."""
    import pandas as pd

    pairs = pd.DataFrame([{"run": a, "other": b, "iou": float(result.iou[i, j]),
                           "spearman": float(result.spearman[i, j])}
                          for i, a in enumerate(result.names) for j, b in enumerate(result.names)])
    facts = []
    for i, name in enumerate(result.names):
        acc = (result.accuracy_on_images or [None] * len(result.names))[i]
        auc = (result.deletion_auc or [None] * len(result.names))[i]
        facts.append({"run": name, "fact": "accuracy", "value": acc, "text": "—" if acc is None else f"{acc:.0%}"})
        facts.append({"run": name, "fact": "deletion AUC", "value": auc,
                      "text": "—" if auc is None else f"{auc:.3f}"})
    return pairs, pd.DataFrame(facts)


def agreement_chart(result):
    """Top-k IoU, then Spearman, as runs x runs heatmaps on one 0-1 colour scale (tooltips: both runs, both
    values), and each run's accuracy on the images and mean deletion AUC beside the rows."""
    import altair as alt

    pairs, facts = agreement_frames(result)
    names, pct = list(result.names), f"{result.top_k * 100:g}%"
    cell = int(min(max(260 / len(names), 22), 48))
    x = alt.X("other:N", sort=names, title=None,
              axis=alt.Axis(labelAngle=-40, labelLimit=140, labelFontSize=11, labelOverlap=False))
    y = alt.Y("run:N", sort=names, title=None, axis=alt.Axis(labelLimit=160, labelFontSize=11))
    tooltip = [alt.Tooltip("run:N", title="run"), alt.Tooltip("other:N", title="other run"),
               alt.Tooltip("iou:Q", title=f"IoU of the top {pct} pixels", format=".3f"),
               alt.Tooltip("spearman:Q", title="Spearman of |map|", format=".3f")]

    def heatmap(field, title, show_y):
        base = alt.Chart(pairs, title=title).encode(x=x, y=y if show_y else y.axis(None), tooltip=tooltip)
        colour = alt.Color(f"{field}:Q", title="agreement", scale=alt.Scale(domain=[0, 1], scheme="blues", clamp=True),
                           legend=alt.Legend(orient="right", gradientLength=160, labelFontSize=11, titleFontSize=11))
        layers = [base.mark_rect().encode(color=colour)]
        if cell >= 30:  # room for the number in the cell
            layers.append(base.mark_text(fontSize=11).encode(
                text=alt.Text(f"{field}:Q", format=".2f"),
                color=alt.condition(f"datum.{field} > 0.6", alt.value("white"), alt.value("#222"))))
        return alt.layer(*layers).properties(width=cell * len(names), height=cell * len(names))

    side = alt.Chart(facts, title="per run, on these images").mark_text(fontSize=11).encode(
        x=alt.X("fact:N", sort=["accuracy", "deletion AUC"], title=None,
                axis=alt.Axis(labelAngle=0, labelFontSize=11, ticks=False, domain=False)),
        y=y.axis(None), text="text:N",
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip("fact:N", title="what"), alt.Tooltip("text:N", title="value")],
    ).properties(width=170, height=cell * len(names))
    return (alt.hconcat(heatmap("iou", f"IoU of the top {pct} pixels", True),
                        heatmap("spearman", "Spearman of |map|", False), side, spacing=12)
            .resolve_scale(color="shared", y="shared")
            .configure_title(fontSize=12, anchor="start").configure_view(strokeWidth=0))


def _agreement_panel(keys, comparison, request) -> None:
    if len(comparison.runs) < 2:
        return
    st.subheader("Do the runs' maps agree?")
    low, high, default = TOP_K
    top = st.slider("Top pixels for the IoU (% of each map)", low, high, default, step=5, key="attr_top_k",
                    format="%d%%")
    result = agreement(keys, top / 100, **request)
    k = top / 100
    st.caption(f"On these {result.images} image(s), averaged over them: **IoU** is the overlap of the {top}% of "
               f"pixels with the largest |attribution| in two runs' maps (1: the same pixels; two random picks "
               f"score about {k / (2 - k):.2f}); **Spearman** is the rank correlation of every pixel's |attribution|, "
               f"which counts pixels both maps leave at exactly 0 (IG's black background) as agreement, so read "
               f"IoU first. Beside them: each run's accuracy on these images and its mean deletion AUC (lower: a "
               f"more faithful map). Hover a cell for both runs and both values.")
    st.altair_chart(agreement_chart(result), key="attr_agreement_chart")


def _request_id(keys, request) -> str:
    """A digest of everything the comparison depends on (uploads by content)."""
    import hashlib

    digest = hashlib.sha1(repr((keys, {k: v for k, v in request.items() if k != "uploads"})).encode())
    for name, data in request["uploads"]:
        digest.update(name.encode() + b"\0" + data)
    return digest.hexdigest()


def _sanity_panel(keys, comparison, request) -> None:
    st.subheader("Sanity check")
    st.caption("Adebayo et al. (2018): randomise the layers from the output down and re-attribute; maps that stay "
               "similar (rank correlation above the threshold) explain the image, not the model.")
    marker = _request_id(keys, request)
    if st.button("Run the sanity check", key="sanity_button", icon=":material/science:"):
        st.session_state["sanity_for"] = marker  # keep showing it on reruns with the same request
    if st.session_state.get("sanity_for") != marker:
        return
    for i, (column, r) in enumerate(side_by_side(comparison.runs)):
        with column, one_sentence(run=r.name):
            with st.spinner(f"Randomising {r.name} layer by layer..."):
                check = cached.sanity(keys, i, **request)
                image = cached.sanity_png(keys, i, **request)
            st.markdown(f"**{r.name}**: {check.describe()}")
            st.image(image)
