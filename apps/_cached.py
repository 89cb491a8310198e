"""The comparison app's only door into xaicnn: each function calls one library function (the same one the
CLI calls) and caches the answer, so a warm rerun (switching page or run) computes nothing again.

- ``st.cache_resource`` holds live objects that must not be copied: loaded runs (models), keyed by
  (path, mtime), so a checkpoint rewritten by a running training is reloaded.
- ``st.cache_data`` holds analyses, the frames the interactive charts draw (``xaicnn.charts``) and
  rendered figures (PNG bytes), keyed by the runs' (path, mtime) keys and the analysis parameters
  (images, method, statistic ...).

A run is named by its ``Key`` = (path, mtime) tuple everywhere here: hashable, cheap, and it changes
when the file changes. Figures are cached as PNG bytes because drawing a matplotlib figure costs
0.1-0.5 s; ``st.image`` of cached bytes costs milliseconds.
"""
from __future__ import annotations

import io
from pathlib import Path

import streamlit as st

from xaicnn.errors import UserError

Key = tuple[str, float]  # (checkpoint path, modification time)


def key(entry) -> Key:
    return (str(entry.path), entry.mtime)


MAX_WIDTH = 1400  # pixels; st.image re-scales (and re-encodes, ~25 ms) anything wider than 1460 on every rerun


def png(fig_axes) -> bytes:
    """A ``(fig, axes)`` pair from ``xaicnn.plots`` as PNG bytes at most ``MAX_WIDTH`` wide (the figure is closed)."""
    import matplotlib.pyplot as plt
    from PIL import Image

    from xaicnn.plots import DPI

    fig = fig_axes[0]
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    image = Image.open(buffer)
    if image.width <= MAX_WIDTH:
        return buffer.getvalue()
    small = image.resize((MAX_WIDTH, round(image.height * MAX_WIDTH / image.width)), Image.LANCZOS)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=False)
    return out.getvalue()


# --- runs -------------------------------------------------------------------------------------------


def folder_stamp(folder: str) -> tuple:
    """(path, mtime, size) of every checkpoint under ``folder``: the cache key of a scan (stat calls only);
    ``()`` when the folder can't be listed (the scan then says why)."""
    from xaicnn.analysis.runs import list_checkpoints

    try:
        return tuple((str(p), p.stat().st_mtime, p.stat().st_size) for p in list_checkpoints(folder))
    except (UserError, OSError):
        return ()


@st.cache_data(show_spinner=False, max_entries=64)
def _scan(folder: str, stamp: tuple):
    from xaicnn.analysis.runs import scan_runs

    return scan_runs(folder)


def scan(folder: str):
    """``xaicnn.analysis.runs.scan_runs(folder)``, rescanned when a file appears, changes or goes away."""
    return _scan(folder, folder_stamp(folder))


@st.cache_resource(show_spinner=False, max_entries=32)
def run(k: Key):
    """The :class:`~xaicnn.training.Run` (model in eval mode, CPU) of checkpoint ``k``."""
    from xaicnn.training import load_checkpoint

    return load_checkpoint(k[0])


def runs(keys) -> list:
    return [run(k) for k in keys]


# --- curves, gradient flow, complexity (frames for xaicnn.charts) -----------------------------------


@st.cache_data(show_spinner=False, max_entries=64)
def curves_frame(keys: tuple[Key, ...], labels: tuple[str, ...], groups: tuple[str, ...]):
    """``xaicnn.charts.curves_frame`` of the runs ``keys`` (named ``labels``; runs sharing a ``groups``
    entry differ only in the seed and are averaged), one panel per dataset and class count."""
    from xaicnn.charts import curves_frame as shape

    return shape([{"name": label, "history": r.history, "group": group, "seed": r.meta.get("seed"),
                   "panel": f"{r.dataset} ({len(r.classes)} classes)"}
                  for r, label, group in zip(runs(keys), labels, groups)])


@st.cache_data(show_spinner=False, max_entries=256)
def flow(k: Key, stat: str, level: str):
    """``gradient_flow(run, stat)`` (per weight tensor, or averaged per stage with ``level="stage"``)."""
    from xaicnn.analysis.gradient_flow import gradient_flow

    result = gradient_flow(run(k), stat)
    return result.by_stage() if level == "stage" else result


@st.cache_data(show_spinner=False, max_entries=64)
def flow_frame(keys: tuple[Key, ...], labels: tuple[str, ...], stat: str, level: str):
    """``xaicnn.charts.flow_frame`` of the runs ``keys`` (each :func:`flow`, renamed ``labels``)."""
    import dataclasses

    from xaicnn.charts import flow_frame as shape

    return shape([dataclasses.replace(flow(k, stat, level), name=label) for k, label in zip(keys, labels)])


@st.cache_data(show_spinner=False, max_entries=64)
def complexity(k: Key):
    """Per-layer complexity table of the run's architecture at its input size (built on the meta device:
    nothing is allocated, so even VGG-50 takes milliseconds)."""
    import torch

    from xaicnn.models.complexity import complexity as measure
    from xaicnn.training.checkpoint import build_model, read_checkpoint

    meta = read_checkpoint(k[0])["meta"]
    with torch.device("meta"):
        model = build_model(meta)
    return measure(model, (meta["in_channels"], *meta["image_size"]))


# --- evaluation ------------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=64)
def evaluation(k: Key):
    """``evaluate(run)`` on the run's own validation subset."""
    from xaicnn.analysis.metrics import evaluate

    return evaluate(run(k))


@st.cache_data(show_spinner=False, max_entries=64)
def image_grid_png(k: Key, indices: tuple[int, ...]) -> bytes:
    """Validation images ``indices`` of run ``k`` in one row-wrapped grid (at most 12 per row), as PNG bytes."""
    from PIL import Image

    images = run(k).val_data().images[list(indices)]  # uint8 [M, C, H, W]
    m, c, h, w = images.shape
    per_row = min(12, m)
    rows = -(-m // per_row)
    canvas = Image.new("L" if c == 1 else "RGB", (per_row * (w + 2), rows * (h + 2)), 255)
    for i, image in enumerate(images):
        array = image[0].numpy() if c == 1 else image.permute(1, 2, 0).numpy()
        canvas.paste(Image.fromarray(array), ((i % per_row) * (w + 2), (i // per_row) * (h + 2)))
    scale = max(1, 64 // max(h, w))  # small digits drawn at least 64 px, pixels kept sharp
    canvas = canvas.resize((canvas.width * scale, canvas.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


@st.cache_data(show_spinner=False, max_entries=64)
def per_class_png(k: Key) -> bytes:
    from xaicnn.plots import plot_per_class

    return png(plot_per_class(evaluation(k)))


# --- studies ---------------------------------------------------------------------------------------


def find_studies(root: str) -> list[str]:
    """``xaicnn.studies.find_studies(root)`` (not cached: a few directory listings, and new studies show at once)."""
    from xaicnn.studies import find_studies as find

    return [str(p) for p in find(root)]


@st.cache_data(show_spinner=False, max_entries=32)
def _study(folder: str, stamp: float):
    from xaicnn.studies import read_study

    return read_study(folder)


def study(folder: str):
    """``xaicnn.studies.read_study(folder)``, reread when its study.json changes."""
    return _study(folder, (Path(folder) / "study.json").stat().st_mtime)


# --- attributions ----------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=16)
def attributions(keys: tuple[Key, ...], method: str, select: str, indices: tuple[int, ...], n: int, seed: int,
                 target: str, uploads: tuple[tuple[str, bytes], ...], invert: bool):
    """``compare_attributions`` of the runs ``keys`` on dataset images (``indices``, or ``n`` chosen by
    ``select``: first / random / misclassified) or on uploaded files (``uploads``: (name, bytes) pairs)."""
    from _uploads import read_upload
    from xaicnn.analysis.compare_attributions import compare_attributions

    images = [read_upload(name, data, invert=invert) for name, data in uploads] or None
    return compare_attributions(runs(keys), method=method, n=n, indices=list(indices) if indices else None,
                                images=images, select=select, target=target, seed=seed)


@st.cache_resource(show_spinner=False, max_entries=32)
def sanity(keys: tuple[Key, ...], run_index: int, **request):
    """The model-randomisation check (Adebayo et al. 2018) of one run on the comparison's images and targets."""
    return attributions(keys, **request).sanity_check(run_index)


@st.cache_data(show_spinner=False, max_entries=32)
def sanity_png(keys: tuple[Key, ...], run_index: int, **request) -> bytes:
    from xaicnn.plots import plot_sanity_check

    return png(plot_sanity_check(sanity(keys, run_index, **request)))


# --- receptive fields and similarity -------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=64)
def receptive_fields(k: Key):
    """``xaicnn.models.receptive_field.receptive_fields`` of the run's model at its input size (traced, not run)."""
    from xaicnn.models.receptive_field import receptive_fields as trace

    r = run(k)
    return trace(r.model, r.input_size)


@st.cache_data(show_spinner=False, max_entries=32)
def receptive_fields_png(keys: tuple[Key, ...], labels: tuple[str, ...]) -> bytes:
    from xaicnn.plots import plot_receptive_fields

    return png(plot_receptive_fields([receptive_fields(k) for k in keys], list(labels)))


@st.cache_resource(show_spinner=False, max_entries=32)
def effective_rf(k: Key, n: int, stage: int | None, share: float):
    """``trained_vs_init`` of the run on ``n`` of its validation images, at the end of ``stage`` (None: the
    net's last spatial layer), holding ``share`` of the gradient mass."""
    from xaicnn.analysis.effective_rf import trained_vs_init

    r = run(k)
    layer = None
    if stage is not None:
        ends = receptive_fields(k).stage_ends()
        layer = ends[min(stage, len(ends)) - 1].name
    return trained_vs_init(r, r.val_data(size=n).images, layer=layer, share=share)


@st.cache_data(show_spinner=False, max_entries=32)
def effective_rf_png(keys: tuple[Key, ...], labels: tuple[str, ...], n: int, stage: int | None, share: float) -> bytes:
    """Every run's effective field, trained and at init, on one colour scale."""
    from xaicnn.plots import plot_effective_rf

    maps, names = [], []
    for k, label in zip(keys, labels):
        m = effective_rf(k, n, stage, share)
        maps += [m.trained, m.init]
        names += [f"{label}, trained", f"{label}, init"]
    return png(plot_effective_rf(maps, names, columns=min(4, len(maps))))


@st.cache_resource(show_spinner=False, max_entries=32)
def similarity(keys: tuple[Key, ...], layers: str, n: int):
    """``layer_similarity`` of one run with itself (one key) or of two runs, on ``n`` validation images."""
    from xaicnn.analysis.similarity import layer_similarity

    runs_ = runs(keys)
    return layer_similarity(runs_[0], runs_[1] if len(runs_) > 1 else None, n=n, layers=layers, progress=False)


# --- inside the network ------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=64)
def has_conv(k: Key) -> bool:
    import torch.nn as nn

    return any(isinstance(m, nn.Conv2d) for m in run(k).model.modules())


@st.cache_data(show_spinner=False, max_entries=64)
def filters_png(k: Key, label: str) -> bytes:
    """``first_conv_filters`` of the run, on its own symmetric scale."""
    from xaicnn.analysis.features import first_conv_filters
    from xaicnn.plots import plot_filters

    return png(plot_filters([first_conv_filters(run(k), label=label)], [label]))


@st.cache_data(show_spinner=False, max_entries=64)
def feature_layers(k: Key) -> tuple[list[str], str]:
    """The run's spatial block layers (what feature maps and top images can show) and the default one."""
    import torch

    from xaicnn.analysis.features import default_feature_layer, probe_layers
    from xaicnn.analysis.similarity import select_layers

    r = run(k)
    example = torch.zeros(1, *r.input_size)
    spatial = [p.name for p in probe_layers(r.model, example, select_layers(r.model, example, "blocks")) if p.spatial]
    return spatial, default_feature_layer(r.model, example)


def _val_image(k: Key, index: int):
    from xaicnn.errors import UserError

    images = run(k).val_data().images
    if not 0 <= index < len(images):
        raise UserError(f"Image {index} is out of range: the validation split has {len(images)} images (0 to "
                        f"{len(images) - 1}).")
    return images[index]


@st.cache_resource(show_spinner=False, max_entries=64)
def feature_maps(k: Key, index: int, layer: str):
    """``feature_maps`` of validation image ``index`` at ``layer``."""
    from xaicnn.analysis.features import feature_maps as maps

    return maps(run(k), _val_image(k, index), layer=layer, image_index=index)


@st.cache_data(show_spinner=False, max_entries=64)
def feature_maps_png(k: Key, label: str, index: int, layer: str, scale: tuple[float, float]) -> bytes:
    """One run's feature maps, drawn on ``scale`` (the range shared by every run shown at that layer)."""
    from xaicnn.plots import plot_feature_maps

    return png(plot_feature_maps([feature_maps(k, index, layer)], [label], scales={layer: scale}))


@st.cache_data(show_spinner=False, max_entries=32)
def top_images_png(k: Key, layer: str) -> bytes:
    """``top_images`` of the run's layer over its whole validation split, drawn as receptive-field crops."""
    from xaicnn.analysis.top_images import top_images
    from xaicnn.plots import plot_top_images

    r = run(k)
    data = r.val_data()
    return png(plot_top_images(top_images(r, layer, data=data), data.images, r.classes))


@st.cache_resource(show_spinner=False, max_entries=32)
def unit_health(k: Key):
    """``unit_health`` of the run's block layers over its validation split."""
    from xaicnn.analysis.features import unit_health as health

    return health(run(k))


@st.cache_data(show_spinner=False, max_entries=32)
def unit_health_png(keys: tuple[Key, ...], labels: tuple[str, ...]) -> bytes:
    from xaicnn.plots import plot_unit_health

    return png(plot_unit_health([unit_health(k) for k in keys], list(labels)))
