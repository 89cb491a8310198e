"""The comparison app's "why do they differ" pages: Receptive fields and Similarity.

- **Receptive fields**: each selected run's theoretical field per layer (``xaicnn.models.receptive_field``)
  on one axis, and its effective field (``xaicnn.analysis.effective_rf``), trained and at initialisation,
  measured at the end of the same stage in every run, all maps on one colour scale.
- **Similarity**: linear CKA (``xaicnn.analysis.similarity``) between every block output of two chosen runs,
  or of one run with itself, on the same validation images, as an interactive heatmap.

Thin: every number comes from the library functions ``xaicnn receptive-field`` and ``xaicnn similarity``
call, cached in ``_cached``; a run that fails is named and left out (``_pages.isolate``).
"""
from __future__ import annotations

import streamlit as st

import _cached as cached
from _pages import isolate, one_sentence

STAGE_LAST = "the last spatial layer"


def fields_page(entries) -> None:
    from xaicnn.models.receptive_field import pair_text

    st.caption("Theoretical field: the input window one unit of a layer depends on (the largest over paths, Araujo "
               "et al. 2019). Effective field: where the gradient of that layer's centre unit with respect to the input "
               "actually lies (Luo et al. 2016), averaged over validation images; at initialisation over random-weight "
               "models of the same architecture.")
    fields, kept = isolate(entries, lambda runs: [cached.receptive_fields(cached.key(e)) for e in runs],
                           check=lambda e: cached.run(cached.key(e)))
    if not kept:
        return
    st.image(cached.receptive_fields_png(tuple(cached.key(e) for e in kept), tuple(e.name for e in kept)))
    st.dataframe([{"run": e.name, "arch": e.arch, "input": "x".join(map(str, e.input_size)),
                   "net's field (px)": pair_text(f.net.receptive_field) if f.net else "-",
                   "at layer": f.net.name if f.net else "-", "jump": pair_text(f.net.jump) if f.net else "-",
                   "stages": len(f.stage_ends())} for e, f in zip(kept, fields)], hide_index=True)

    st.subheader("Effective receptive field")
    stages = min(len(f.stage_ends()) for f in fields)
    left, middle, right = st.columns(3)
    choices = [STAGE_LAST] + [f"the end of stage {k}" for k in range(1, stages + 1)]
    where = left.selectbox("Measured at", choices, index=min(2, len(choices) - 1), key="erf_stage",
                           help="The same stage in every run makes nets of one plan comparable; choose a stage whose "
                                "field fits inside the image, or the effective field is cut off by the image's edge.")
    n = middle.select_slider("Validation images", [16, 32, 64, 128, 256], value=64, key="erf_n")
    share = right.select_slider("Share of the gradient mass", [0.5, 0.8, 0.9, 0.95, 0.99], value=0.95, key="erf_share")
    stage = None if where == STAGE_LAST else choices.index(where)
    with st.spinner("Measuring effective receptive fields (trained, and 3 initialisations per run)..."):
        measured, measured_runs = isolate(
            kept, lambda runs: [cached.effective_rf(cached.key(e), n, stage, share) for e in runs])
    if not measured_runs:
        return
    keys = tuple(cached.key(e) for e in measured_runs)
    st.image(cached.effective_rf_png(keys, tuple(e.name for e in measured_runs), n, stage, share))
    st.dataframe([{"run": e.name, "layer": m.trained.layer, "theoretical (px)": pair_text(m.trained.theoretical_size),
                   "window inside the image": m.trained.window_inside_input,
                   f"radius holding {share:.0%}, trained": m.trained.radius, "at init": m.init.radius,
                   "fraction of the theoretical half-size": m.trained.fraction, "trained / init": m.growth}
                  for e, m in zip(measured_runs, measured)], hide_index=True,
                 column_config={"fraction of the theoretical half-size": st.column_config.NumberColumn(format="%.2f"),
                                "trained / init": st.column_config.NumberColumn(format="%.2f")})


def similarity_page(entries) -> None:
    st.caption("Linear CKA (Kornblith et al. 2019) between layer outputs on the same validation images, with the "
               "minibatch unbiased HSIC estimator (Nguyen et al. 2021): 1 = the same representation up to rotation and "
               "scale, 0 = nothing in common. It says what layers share, not whether they are useful.")
    names = [e.name for e in entries]
    by_name = {e.name: e for e in entries}
    left, right = st.columns(2)
    a = left.selectbox("Run (rows)", names, key="cka_a")
    # only runs that can see the same images: the same dataset at the same input size (the rows' run itself too)
    partners = [e.name for e in entries if e.data_label == by_name[a].data_label]
    others = [name for name in partners if name != a]
    if st.session_state.get("cka_b") not in partners:
        st.session_state["cka_b"] = others[0] if others else a
    b = right.selectbox("Run (columns)", partners, key="cka_b",
                        help=f"The selected runs on {by_name[a].data_label} (the same validation images feed both); "
                             f"the rows' run itself compares its layers with each other.")
    left, right = st.columns(2)
    layers = left.radio("Layers", ["blocks", "convs"], horizontal=True, key="cka_layers",
                        help="blocks: the output of each block (a residual block, an Inception module, a VGG stage's "
                             "convs); convs: every convolution")
    n = right.select_slider("Validation images", [64, 128, 256, 512, 1024], value=256, key="cka_n")
    pair = [by_name[a]] if a == b else [by_name[a], by_name[b]]
    with st.spinner("Running both models over the images and accumulating CKA..."):
        result, kept = isolate(pair, lambda runs: cached.similarity(tuple(cached.key(e) for e in runs), layers, n),
                               check=lambda e: cached.run(cached.key(e)))
    if result is None or len(kept) != len(pair):
        return
    from xaicnn.charts import similarity_chart, similarity_frame

    st.altair_chart(similarity_chart(similarity_frame(result)), width="content")
    with one_sentence():
        st.markdown("Most similar layer of the columns' run for each layer of the rows' run"
                    + (" (another layer: plateaus of alike layers show)" if result.self_similarity else ""))
        st.dataframe([{"layer": layer, "most similar": match or "-", "CKA": value}
                      for layer, match, value in result.best_match()], hide_index=True,
                     column_config={"CKA": st.column_config.NumberColumn(format="%.3f")})
