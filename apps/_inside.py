"""The Inside page: what the layers of each selected run compute.

Learned first-layer filters (one symmetric scale per run), a layer's feature maps for one validation image
(one colour scale per layer across runs), the validation images each channel of that layer likes best with
the receptive-field crop where it peaks (Zeiler & Fergus 2014), and unit health per layer (dead units).
Confusion's drill-down and Attributions open it on their image (``open_inside``). Thin: every figure comes
from the functions ``xaicnn features`` calls (``xaicnn.analysis.features`` and ``.top_images``), cached in
``_cached``; a run that fails is named and left out.
"""
from __future__ import annotations

import streamlit as st

import _cached as cached
from _pages import isolate, one_sentence, side_by_side

TOP_IMAGES_RUNS = 3  # runs whose top images are drawn (one figure each: 8 channels x 9 images)


def open_inside(index: int) -> None:
    """Button callback (Confusion, Attributions): open this validation image on the Inside page."""
    st.session_state.update(inside_image=int(index), page="Inside")


def page(entries) -> None:
    st.caption("What each run's layers compute, on its own validation images fed as in training. Filters: the first "
               "convolution's kernels. Feature maps: one image's activations at a layer, most active channels first. "
               "Top images: the validation images that drive a channel of that layer hardest (Zeiler & Fergus 2014), "
               "cropped to the receptive field where it peaks. Unit health: the share of each layer's units that never "
               "activate on the validation set.")
    kept = _filters(entries)
    if not kept:
        return
    st.subheader("Feature maps")
    left, right = st.columns([1, 3])
    image = int(left.number_input("Validation image", 0, 100_000, key="inside_image",
                                  help="Its index in each run's validation split (runs of one dataset see the same "
                                       "image). Confusion's drill-down and Attributions open their image here."))
    layers = _layer_choices(kept, right)
    with st.spinner("Running each model on the image..."):
        maps, mapped = isolate(kept, lambda runs: [cached.feature_maps(cached.key(e), image, layers[e.name])
                                                   for e in runs])
    if mapped:
        from xaicnn.analysis.features import feature_map_scales

        scales = feature_map_scales(maps)  # one colour range per layer name across the runs shown
        st.caption("Runs shown at the same layer share one colour scale (on each colour bar).")
        for column, entry in side_by_side(mapped):
            layer = layers[entry.name]
            column.image(cached.feature_maps_png(cached.key(entry), entry.name, image, layer, scales[layer]))
    st.subheader("Top images per channel")
    st.caption(f"The 8 channels of each run's layer above with the highest mean activation; per channel the 9 "
               f"validation images that activate it most, best first (class and peak value under each), cropped to "
               f"the receptive field at the peak. First {TOP_IMAGES_RUNS} selected runs.")
    for entry in mapped[:TOP_IMAGES_RUNS]:
        with one_sentence(run=entry.name), st.spinner(f"One pass over {entry.name}'s validation images..."):
            st.markdown(f"**{entry.name}** · `{layers[entry.name]}`")
            st.image(cached.top_images_png(cached.key(entry), layers[entry.name]))
    st.subheader("Unit health")
    with st.spinner("One pass over each run's validation images..."):
        health, healthy = isolate(kept, lambda runs: [cached.unit_health(cached.key(e)) for e in runs])
    if healthy:
        st.image(cached.unit_health_png(tuple(cached.key(e) for e in healthy), tuple(e.name for e in healthy)))
        st.dataframe([{"run": e.name, "layer": r.layer, "units": r.units, "dead": r.dead, "dead share": r.dead_share,
                       "mean": r.mean, "std": r.std} for e, h in zip(healthy, health) for r in h.rows],
                     hide_index=True, column_config={"dead share": st.column_config.NumberColumn(format="percent")})


def _filters(entries) -> list:
    """The first-layer filter grids of the runs that have a convolution; returns the runs that load."""
    st.subheader("Learned filters")
    _, loaded = isolate(entries, lambda runs: [cached.run(cached.key(e)) for e in runs])
    convolutional = [e for e in loaded if cached.has_conv(cached.key(e))]
    without = [e.name for e in loaded if e not in convolutional]
    if without:
        st.info(f"No convolution (its input is flattened at once), so no filters or maps: {', '.join(without)}.")
    for column, entry in side_by_side(convolutional):
        column.image(cached.filters_png(cached.key(entry), entry.name))
    return convolutional


def _layer_choices(entries, where) -> dict[str, str]:
    """One layer per run, picked from its own spatial blocks (default: the middle one)."""
    choices = {}
    columns = where.columns(min(3, len(entries)))
    for i, entry in enumerate(entries):
        options, default = cached.feature_layers(cached.key(entry))
        key = f"inside_layer_{entry.name}"
        if st.session_state.get(key) not in options:
            st.session_state[key] = default
        choices[entry.name] = columns[i % len(columns)].selectbox(f"Layer of {entry.name}", options, key=key)
    return choices
