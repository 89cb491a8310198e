"""The Attributions page: the same images explained by every selected run, side by side.

Pick a method and the images (validation images by index, at random, those any run misclassifies, or
uploaded files); one row per image, one column per run, each map titled with the prediction and its
probability, IG's completeness delta and the deletion/insertion AUCs (Petsiuk et al. 2018) against a
random pixel order. A button runs the model-randomisation sanity check (Adebayo et al. 2018).
Dataset images need runs trained on the same data; uploads are converted to each run's input format.
"""
from __future__ import annotations

import streamlit as st

import _cached as cached
from _pages import one_sentence, side_by_side
from _uploads import IMAGE_TYPES, MAX_UPLOAD_MB, read_upload
from xaicnn.errors import UserError

SOURCES = {"index": "By index", "random": "Random", "misclassified": "Misclassified by any run", "upload": "Upload"}


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
    keys = tuple(cached.key(e) for e in entries)
    with one_sentence():
        with st.spinner(f"Attributing with {method} for {len(keys)} run(s)..."):
            comparison = cached.attributions(keys, **request)
            grid, curves = cached.attribution_pngs(keys, **request)
        st.image(grid)
        st.dataframe(_table(comparison), hide_index=True,
                     column_config={"probability": st.column_config.NumberColumn(format="%.3f"),
                                    "IG delta": st.column_config.NumberColumn(format="%.1e")})
        st.image(curves, caption="Deletion: the target's probability as the map's top pixels are removed (lower is "
                                 "more faithful). Insertion: as they are added to a blurred image (higher is more "
                                 "faithful). Dashed: a random pixel order.")
        _sanity_panel(keys, comparison, request)


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
        with column, one_sentence():
            with st.spinner(f"Randomising {r.name} layer by layer..."):
                check = cached.sanity(keys, i, **request)
                image = cached.sanity_png(keys, i, **request)
            st.markdown(f"**{r.name}**: {check.describe()}")
            st.image(image)
