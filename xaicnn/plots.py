"""Matplotlib figures, one function per figure kind; each returns ``(fig, axes)``.

The CLI saves them with :func:`save_figure`; the app shows them with ``st.pyplot``. The headless Agg
backend is selected before pyplot is imported, so figures work without a display.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DPI = 120  # PNG resolution: readable on screen and in the docs


def save_figure(fig, path: str | Path) -> Path:
    """Write ``fig`` as a PNG (atomically, parent folders created) and close it; returns the path."""
    from ._io import atomic_write

    try:
        return atomic_write(Path(path), lambda f: fig.savefig(f, format="png", dpi=DPI, bbox_inches="tight"))
    finally:
        plt.close(fig)


# --- training figures: curves, gradient flow, confusion (analysis of runs) ---

import numpy as np  # noqa: E402

# Colours: run i is "C{i}" in every figure that overlays runs; line style says train (dashed) / val (solid).


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _tick_fontsize(n: int) -> float:
    """Label font size for n ticks: normal up to ~20, then smaller so that 50-100 names stay legible."""
    return 9 if n <= 20 else 7 if n <= 40 else 6 if n <= 70 else 5


def _epoch_ticks(ax, epochs: list[int], axis: str = "x") -> None:
    step = max(1, -(-len(epochs) // 20))  # at most ~20 labelled epochs
    ticks = epochs[::step]
    (ax.set_xticks if axis == "x" else ax.set_yticks)(ticks)


def plot_curves(runs, labels: list[str] | None = None):
    """Learning curves of one or more runs (``Run`` objects with ``.history`` and ``.name``).

    Two panels: cross-entropy loss and accuracy per epoch; one colour per run, train dashed, val solid.
    Returns ``(fig, axes)`` with ``axes`` = [loss, accuracy].
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    runs = _as_list(runs)
    labels = list(labels) if labels else [r.name for r in runs]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), layout="constrained")
    for i, (run, label) in enumerate(zip(runs, labels)):
        epochs = [h["epoch"] for h in run.history]
        for ax, key in zip(axes, ("loss", "acc")):
            ax.plot(epochs, [h[f"train_{key}"] for h in run.history], "--", color=f"C{i % 10}", marker="o", ms=3, lw=1.4)
            ax.plot(epochs, [h[f"val_{key}"] for h in run.history], "-", color=f"C{i % 10}", marker="o", ms=3, lw=1.8)
    axes[0].set(title="loss", xlabel="epoch", ylabel="cross-entropy loss")
    axes[1].set(title="accuracy", xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02))
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=f"C{i % 10}", lw=2, label=label) for i, label in enumerate(labels)]
    handles += [Line2D([], [], color="0.3", ls="--", label="train"), Line2D([], [], color="0.3", ls="-", label="val")]
    axes[1].legend(handles=handles, fontsize=8, loc="lower right")
    return fig, axes


def plot_gradient_bars(flow, epochs: list[int] | None = None):
    """Per-layer gradient statistic of a :class:`~xaicnn.analysis.gradient_flow.GradientFlow` at ``epochs``
    (default: the first and the last) as grouped bars; layers in network order, log y."""
    epochs = list(epochs) if epochs else sorted({flow.epochs[0], flow.epochs[-1]})
    n_layers, n = len(flow.layers), len(epochs)
    fig, ax = plt.subplots(figsize=(min(max(8.0, 0.16 * n_layers * (1 + 0.3 * n) + 2), 30), 5), layout="constrained")
    x = np.arange(n_layers)
    width = 0.8 / n
    cmap = plt.get_cmap("viridis")
    for k, epoch in enumerate(epochs):
        ax.bar(x + (k - (n - 1) / 2) * width, flow.at(epoch), width, label=f"epoch {epoch}",
               color=cmap(0.15 + 0.7 * k / max(n - 1, 1)))
    ax.set_yscale("log")
    ax.set_xticks(x, flow.layers, rotation=90, fontsize=_tick_fontsize(n_layers))
    ax.set_xlim(-0.6, n_layers - 0.4)
    ax.set(xlabel=f"{flow.level} (network order)", ylabel=f"{flow.label} (log)",
           title=f"{flow.name} ({flow.arch}): {flow.label} per {flow.level}")
    ax.grid(axis="y", alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig, ax


def plot_gradient_heatmap(flow):
    """Layers x epochs heatmap of a gradient statistic, log colour scale, first layer at the top."""
    from matplotlib.colors import LogNorm

    m = np.asarray(flow.matrix, dtype=float)
    n_layers, n_epochs = m.shape
    positive = m[m > 0]
    vmin, vmax = (positive.min(), positive.max()) if positive.size else (1e-12, 1.0)
    if vmax <= vmin:
        vmax = vmin * 10
    fig, ax = plt.subplots(figsize=(min(max(6.0, 0.35 * n_epochs + 4), 16), min(max(3.5, 0.16 * n_layers + 1.8), 30)),
                           layout="constrained")
    image = ax.imshow(np.where(m > 0, m, np.nan), aspect="auto", cmap="viridis", norm=LogNorm(vmin, vmax),
                      interpolation="nearest", extent=(flow.epochs[0] - 0.5, flow.epochs[-1] + 0.5, n_layers - 0.5, -0.5))
    ax.set_yticks(np.arange(n_layers), flow.layers, fontsize=_tick_fontsize(n_layers))
    _epoch_ticks(ax, flow.epochs)
    ax.set(xlabel="epoch", ylabel=f"{flow.level} (network order, first at the top)",
           title=f"{flow.name} ({flow.arch}): {flow.label}")
    fig.colorbar(image, ax=ax, label=f"{flow.label} (log scale)")
    return fig, ax


def plot_gradient_lines(flow):
    """The gradient statistic over epochs of the first, a middle and the last layer (log y)."""
    fig, ax = plt.subplots(figsize=(8, 4.6), layout="constrained")
    for layer in flow.key_layers():
        ax.plot(flow.epochs, flow.row(layer), marker="o", ms=4, label=layer)
    ax.set_yscale("log")
    _epoch_ticks(ax, flow.epochs)
    ax.set(xlabel="epoch", ylabel=f"{flow.label} (log)",
           title=f"{flow.name} ({flow.arch}): first, middle and last {flow.level}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig, ax


def plot_gradient_stages(flows, labels: list[str] | None = None):
    """Per-stage gradient statistic over epochs for several runs: one panel per run, side by side, sharing
    the log y axis so runs compare directly; a stage has the same colour in every panel."""
    flows = [f.by_stage() for f in _as_list(flows)]
    labels = list(labels) if labels else [f.name for f in flows]
    stages = list(dict.fromkeys(s for f in flows for s in f.layers))
    fig, axes = plt.subplots(1, len(flows), figsize=(min(5.0 * len(flows) + 1.5, 24), 4.6), sharey=True,
                             layout="constrained", squeeze=False)
    axes = axes[0]
    for ax, flow, label in zip(axes, flows, labels):
        for stage in flow.layers:
            ax.plot(flow.epochs, flow.row(stage), marker="o", ms=3, color=f"C{stages.index(stage) % 10}", label=stage)
        ax.set_yscale("log")
        _epoch_ticks(ax, flow.epochs)
        ax.set(title=f"{label} ({flow.arch})", xlabel="epoch")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, title="stage", title_fontsize=7)
    axes[0].set_ylabel(f"mean {flows[0].label} per stage (log)")
    return fig, axes


def plot_confusion(evaluation, normalized: bool = True):
    """Confusion matrix of an :class:`~xaicnn.analysis.metrics.Evaluation` (rows true, columns predicted),
    row-normalised (share of the true class) or counts. Cell values are written only up to 20 classes;
    beyond that (52 glyph classes) the colour carries the value and the tick labels shrink."""
    m = evaluation.confusion_normalized if normalized else evaluation.confusion
    k = len(evaluation.classes)
    side = min(max(5.0, 0.22 * k + 2.5), 16)
    fig, ax = plt.subplots(figsize=(side + 1.2, side), layout="constrained")
    vmax = 1.0 if normalized else max(int(m.max()), 1)
    image = ax.imshow(m, cmap="Blues", vmin=0, vmax=vmax, interpolation="nearest")
    font = _tick_fontsize(k)
    ax.set_xticks(np.arange(k), evaluation.classes, rotation=90 if k > 10 else 0, fontsize=font)
    ax.set_yticks(np.arange(k), evaluation.classes, fontsize=font)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if m[i, j]:
                    ax.text(j, i, f"{m[i, j]:.2f}" if normalized else f"{int(m[i, j])}", ha="center", va="center",
                            fontsize=7 if k > 10 else 8, color="white" if m[i, j] > 0.6 * vmax else "black")
    kind = "row-normalised" if normalized else "counts"
    ax.set(xlabel="predicted class", ylabel="true class",
           title=f"{evaluation.name}: confusion matrix ({kind}), accuracy {evaluation.accuracy:.2%}")
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the true class" if normalized else "images")
    return fig, ax


def plot_per_class(evaluation):
    """Per-class F1 bars (dashed line: macro F1), classes in dataset order."""
    k = len(evaluation.classes)
    fig, ax = plt.subplots(figsize=(min(max(7.0, 0.24 * k + 2), 20), 4.6), layout="constrained")
    f1 = [c.f1 for c in evaluation.per_class]
    ax.bar(np.arange(k), f1, color=plt.get_cmap("RdYlGn")(np.clip(f1, 0, 1)), edgecolor="0.3", linewidth=0.4)
    ax.axhline(evaluation.macro["f1"], color="0.2", ls="--", lw=1, label=f"macro F1 {evaluation.macro['f1']:.3f}")
    ax.set_xticks(np.arange(k), evaluation.classes, rotation=90 if k > 12 else 0, fontsize=_tick_fontsize(k))
    ax.set_xlim(-0.6, k - 0.4)
    ax.set(ylim=(0, 1.05), xlabel="class", ylabel="F1", title=f"{evaluation.name}: F1 per class")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig, ax


def plot_complexity_scatter(points: list[dict]):
    """Cost against accuracy across runs: parameters (left) and FLOPs per image (right) on log x axes,
    best validation accuracy on y. ``points``: dicts with ``name``, ``params``, ``flops``, ``accuracy``
    (0..1; points missing a value are skipped); run i is colour C{i}, as in :func:`plot_curves`."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True, layout="constrained")
    for ax, key, label in zip(axes, ("params", "flops"), ("parameters", "FLOPs per image (2 x MACs)")):
        for i, p in enumerate(points):
            if p.get(key) and p.get("accuracy") is not None:
                ax.scatter(p[key], p["accuracy"], s=60, color=f"C{i % 10}", edgecolor="0.2", zorder=3)
                ax.annotate(p["name"], (p[key], p["accuracy"]), textcoords="offset points", xytext=(6, 4), fontsize=8)
        ax.set_xscale("log")
        ax.set(xlabel=f"{label} (log)", title=f"{label.split(' (')[0]} vs accuracy")
        ax.grid(alpha=0.3, which="both")
    axes[0].set(ylabel="best validation accuracy", ylim=(0, 1.02))
    return fig, axes


# --- attribution figures ---

# A colour scale ends at this percentile of |attribution| (over every map it covers), not at the maximum,
# so a few hot pixels do not wash out the rest.
ATTRIBUTION_PERCENTILE = 99.0
MIN_PANEL = 1.07  # inches: 128 px at DPI, the smallest a map is drawn
FIT_WIDTH = 7.75  # inches: 930 px at DPI; the app's main column is 940 px at a 1500-px window, sidebar open
_GAP = 0.04  # inches between panels (5 px)
_MIN_FONT = 7.0  # points: 11.7 px at DPI, the smallest text a caption shrinks to before it is cut


def attribution_limit(maps, percentile: float = ATTRIBUTION_PERCENTILE) -> float:
    """Where a colour scale of ``maps`` ends: the ``percentile`` of |value| over all of them pooled (arrays or
    tensors of any shapes); the largest |value| when that percentile is 0 (maps mostly exactly 0); 1 for
    all-zero maps."""
    values = np.concatenate([np.abs(np.asarray(m, dtype=np.float64)).ravel() for m in maps] or [np.zeros(0)])
    if values.size == 0:
        return 1.0
    return float(np.percentile(values, percentile)) or float(values.max()) or 1.0


def _attribution_cmap(signed: bool):
    """Diverging red/blue around 0 for signed maps; the bright part of inferno for magnitudes."""
    from matplotlib.colors import ListedColormap

    if signed:
        return plt.get_cmap("RdBu_r")  # red: evidence for the target, blue: against
    return ListedColormap(plt.get_cmap("inferno")(np.linspace(0.35, 1.0, 256)), name="inferno_bright")


def _opacity(amap: np.ndarray, limit: float) -> np.ndarray:
    """Per-pixel alpha of an overlaid map: 0 at 0 (the input shows through), 0.9 at the scale's end and beyond."""
    return 0.9 * np.clip(np.abs(amap) / limit, 0, 1) ** 0.8


_TEXT_TO_PATH = None


def _text_width(text: str, size: float, weight: str = "normal") -> float:
    """Width of one line of text in points, in the font it is drawn in, without a renderer."""
    global _TEXT_TO_PATH
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    _TEXT_TO_PATH = _TEXT_TO_PATH or TextToPath()
    return _TEXT_TO_PATH.get_text_width_height_descent(text, FontProperties(size=size, weight=weight), ismath=False)[0]


def _fit_lines(text: str, width: float, size: float, max_lines: int = 2, weight: str = "normal") -> tuple[str, float]:
    """``text`` broken at spaces, ``_``, ``-``, ``.`` and ``/`` into at most ``max_lines`` lines no wider than
    ``width`` points: the font shrinks down to ``_MIN_FONT``, then the last line is cut with an ellipsis.
    Returns (the lines joined by newlines, the font size)."""
    import re

    tokens = re.findall(r"[^\s_\-./]+[\s_\-./]*|[\s_\-./]+", text) or [""]

    def pack(s):
        lines = [""]
        for t in tokens:
            if lines[-1] and _text_width((lines[-1] + t).rstrip(), s, weight) > width:
                lines.append("")
            lines[-1] += t
        return [line.strip() for line in lines]

    sizes = [size - 0.5 * k for k in range(int((size - _MIN_FONT) / 0.5) + 1)] or [size]
    for s in sizes:
        lines = pack(s)
        if len(lines) <= max_lines and all(_text_width(line, s, weight) <= width for line in lines):
            return "\n".join(lines), s
    s = sizes[-1]
    lines = pack(s)
    cut = len(lines) > max_lines
    lines = lines[:max_lines]
    for i, line in enumerate(lines):
        tail = "…" if cut and i == len(lines) - 1 else ""
        while line and _text_width(line + tail, s, weight) > width:
            line, tail = line[:-1].rstrip(), "…"
        lines[i] = line + tail
    return "\n".join(lines), s


def _line_height(size: float) -> float:
    return 1.25 * size / 72  # inches per line of text


def _show_image(ax, image) -> None:
    img = image.permute(1, 2, 0).numpy()
    if img.shape[2] == 1:
        ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(img)
    ax.set_xticks([])
    ax.set_yticks([])


def _run_indices(comparison, runs) -> list[int]:
    if runs is None:
        return list(range(len(comparison.runs)))
    names = [r.name for r in comparison.runs]
    return [names.index(r) if isinstance(r, str) else int(r) for r in runs]


def scale_statement(comparison, per_map: bool = False, percentile: float = ATTRIBUTION_PERCENTILE) -> str:
    """One sentence saying which colour scale :func:`plot_attribution_grid` draws ``comparison``'s maps on."""
    pct = f"{percentile:g}th percentile of |attribution|"
    if per_map:
        return (f"each map on its own scale (stretched to its own {pct}): shapes compare, magnitudes do not, and a "
                f"nearly flat map looks as strong as a sharp one")
    runs, n = len(comparison.runs), len(comparison.index)
    limit = attribution_limit([r.maps for r in comparison.runs], percentile)
    what = f"{runs * n} maps" + (f" ({runs} runs x {n} images)" if runs > 1 and n > 1 else "")
    if comparison.signed:
        return f"one symmetric scale for all {what}: ±{limit:.2g}, the {pct} over all of them"
    return f"one scale for all {what}: 0 to {limit:.2g}, the {pct} over all of them"


def plot_attribution_grid(comparison, *, runs=None, per_map: bool = False, percentile: float = ATTRIBUTION_PERCENTILE,
                          details: bool = True, panel: float | None = None, colorbar: str | None = None):
    """One row per image: the input, then each run's map overlaid on it (an ``AttributionComparison``).

    Colours: by default one scale for every map of every run and image (signed methods: symmetric around 0,
    red for the target and blue against; magnitudes: 0 up), ending at the ``percentile`` of |attribution|
    over all the comparison's maps (:func:`attribution_limit`), stated beside the colour bar; opacity grows
    with |value|, so a nearly flat map looks flat. ``per_map=True`` stretches each map to its own percentile
    instead (shapes compare, magnitudes do not).

    ``runs``: indices or names of the runs to draw (default all; the shared scale still covers every run, so
    picking runs does not change it). ``details``: IG's completeness delta and the deletion/insertion AUCs
    with their random-order references under each map (the app shows them in a table instead). ``panel``:
    the side of each image in inches (default: as large as fits ``FIT_WIDTH``, at least ``MIN_PANEL`` = 128
    px, at most 2). ``colorbar``: ``"right"`` or ``"top"`` (default: right unless that is wider than
    ``FIT_WIDTH``). Captions are fitted to their panels (two short lines, shrunk, then cut), so they never overlap.

    Returns ``(fig, axes)``: ``axes`` [N images, 1 + drawn runs], column 0 the inputs; each map's image carries
    its ``norm`` (the same object for every map unless ``per_map``).
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    drawn = [comparison.runs[j] for j in _run_indices(comparison, runs)]
    n, cols, signed = len(comparison.index), 1 + len(drawn), comparison.signed
    cmap = _attribution_cmap(signed)
    limit = attribution_limit([r.maps for r in comparison.runs], percentile)
    shared = Normalize(-limit if signed else 0.0, limit)
    bar_room = 1.15  # inches a vertical colour bar with its ticks and label takes
    if panel is None:
        panel = (FIT_WIDTH - 0.05 - _GAP * (cols - 1) - (bar_room if colorbar != "top" else 0)) / cols
        if colorbar is None and panel < MIN_PANEL:
            colorbar, panel = "top", (FIT_WIDTH - 0.05 - _GAP * (cols - 1)) / cols
        panel = min(max(panel, MIN_PANEL), 2.0)
    colorbar = colorbar or "right"

    # every caption is fitted first: the rows are as tall as their longest caption needs
    width_pt = panel * 72 - 2
    header = [_fit_lines(t, width_pt, 8.5, 2, "bold") for t in ["input"] + [r.name for r in drawn]]
    titles, notes = [], []
    for i in range(n):
        label = None if comparison.labels is None else int(comparison.labels[i])
        where = comparison.index[i]
        where = Path(where).name if isinstance(where, str) else f"#{where}"
        row = [_fit_lines(where + ("" if label is None else f" label {comparison.runs[0].classes[label]}"),
                          width_pt, 8, 2)]
        note_row = [None]
        for r in drawn:
            pred, target = int(r.predictions[i]), int(r.targets[i])
            text = f"pred {r.classes[pred]} ({float(r.probabilities[i]):.2f})"
            row.append(_fit_lines(text + ("" if target == pred else f", map for {r.classes[target]}"), width_pt, 8, 2))
            if details:
                rec = r.image_record(i)
                lines = ([] if rec["delta"] is None else [f"δ {rec['delta']:.1e}"]) + [
                    f"del {rec['deletion_auc']:.2f} (rnd {rec['deletion_auc_random']:.2f})",
                    f"ins {rec['insertion_auc']:.2f} (rnd {rec['insertion_auc_random']:.2f})"]
                fitted = [_fit_lines(line, width_pt, 7.5, 1) for line in lines]
                note_row.append(("\n".join(t for t, _ in fitted), min(s for _, s in fitted)))
            else:
                note_row.append(None)
        titles.append(row)
        notes.append(note_row)

    def block(fitted):  # inches a list of fitted texts needs
        return max((_line_height(s) * (t.count("\n") + 1) for t, s in fitted if t), default=0.0)

    head_h = block(header) + 0.04
    title_h = max(block(row) for row in titles) + 0.05 if titles else 0.0
    note_h = max((block([x for x in row if x]) for row in notes), default=0.0)
    note_h = note_h + 0.05 if note_h else 0.0
    row_h = title_h + panel + note_h + 0.08
    grid_w = cols * panel + (cols - 1) * _GAP
    what = "red: evidence for the target, blue: against it" if signed else "brighter: larger"
    top_text = f"{comparison.method}: {what}; opacity grows with |attribution|"
    if details:
        top_text += ". Faithful maps: del(etion) AUC below, ins(ertion) AUC above rnd (a random pixel order)"
    top_text, top_size = _fit_lines(top_text, (grid_w + (bar_room if colorbar == "right" else 0)) * 72, 8.5, 2)
    top_h = _line_height(top_size) * (top_text.count("\n") + 1) + 0.06
    bar_text = scale_statement(comparison, per_map, percentile) if not per_map else \
        f"each map on its own scale: {'±' if signed else ''}own = that map's own {percentile:g}th percentile of " \
        f"|attribution|"
    top_bar_h = 0.0
    if colorbar == "top":
        bar_len = min(grid_w - panel - _GAP, 4.5)
        bar_text, bar_size = _fit_lines(bar_text, bar_len * 72, 8, 2)
        top_bar_h = _line_height(bar_size) * (bar_text.count("\n") + 1) + 0.12 + 0.3
    fig_w = 0.05 + grid_w + (bar_room if colorbar == "right" else 0)
    fig_h = top_h + top_bar_h + head_h + n * row_h
    fig = plt.figure(figsize=(fig_w, fig_h))

    def frac(x, y, w, h):  # inches from the top-left corner -> figure fractions
        return [x / fig_w, 1 - (y + h) / fig_h, w / fig_w, h / fig_h]

    fig.text(0.05 / fig_w, 1 - 0.03 / fig_h, top_text, fontsize=top_size, ha="left", va="top")
    y0 = top_h + top_bar_h
    axes = np.empty((n, cols), dtype=object)
    for c, (text, size) in enumerate(header):
        x = 0.05 + c * (panel + _GAP)
        fig.text((x + panel / 2) / fig_w, 1 - (y0 + head_h - 0.03) / fig_h, text, fontsize=size, fontweight="bold",
                 ha="center", va="bottom", linespacing=1.1)
    for i in range(n):
        y = y0 + head_h + i * row_h
        label = None if comparison.labels is None else int(comparison.labels[i])
        for c in range(cols):
            x = 0.05 + c * (panel + _GAP)
            ax = axes[i, c] = fig.add_axes(frac(x, y + title_h, panel, panel))
            text, size = titles[i][c]
            colour = "black"
            if c == 0:
                _show_image(ax, comparison.inputs[i])
            else:
                r = drawn[c - 1]
                _show_image(ax, r.inputs[i])
                amap = r.maps[i].numpy()
                norm = shared
                if per_map:
                    own = attribution_limit([amap], percentile)
                    norm = Normalize(-own if signed else 0.0, own)
                ax.imshow(amap, cmap=cmap, norm=norm, alpha=_opacity(amap, norm.vmax))
                if label is not None:
                    colour = "tab:green" if int(r.predictions[i]) == label else "tab:red"
                if notes[i][c]:
                    ax.set_xlabel(notes[i][c][0], fontsize=notes[i][c][1], labelpad=2, linespacing=1.15)
            ax.set_title(text, fontsize=size, color=colour, pad=3, linespacing=1.1)

    mappable = ScalarMappable(Normalize(-1 if signed else 0, 1) if per_map else shared, cmap)
    ticks = ([-1, 0, 1] if signed else [0, 1]) if per_map else ([-limit, 0, limit] if signed else [0, limit])
    grid_top, grid_h = y0 + head_h + title_h, n * row_h - title_h - note_h - 0.08
    if colorbar == "right":
        bar_h = min(max(grid_h, 1.0), 3.5)
        cax = fig.add_axes(frac(0.05 + grid_w + 0.15, grid_top + (grid_h - bar_h) / 2, 0.14, bar_h))
        bar_text, bar_size = _fit_lines(bar_text, max(bar_h, 1.0) * 72 + 40, 8, 3)
        bar = fig.colorbar(mappable, cax=cax, orientation="vertical", ticks=ticks)
        bar.set_label(bar_text, fontsize=bar_size, linespacing=1.15)
    else:
        x = 0.05 + panel + _GAP + (grid_w - panel - _GAP - bar_len) / 2
        cax = fig.add_axes(frac(x, top_h + top_bar_h - 0.32, bar_len, 0.12))
        bar = fig.colorbar(mappable, cax=cax, orientation="horizontal", ticks=ticks)
        bar.set_label(bar_text, fontsize=bar_size, linespacing=1.15, labelpad=3)
        cax.xaxis.set_label_position("top")
    labels = ["−own", "0", "+own"] if per_map and signed else ["0", "own"] if per_map else \
        [f"{t:+.2g}".replace("-", "−") if t else "0" for t in ticks]
    bar.set_ticklabels(labels, fontsize=8)
    return fig, axes


def plot_deletion_insertion(comparison, *, runs=None):
    """Mean deletion and insertion curves per run (solid) against a random pixel order (dashed, same colour).

    ``runs``: indices or names of the runs to draw (default all); a run keeps its colour C{k} (k: its place in
    the comparison) whichever runs are drawn. One legend below both panels, one entry per run with its mean
    AUCs, so it never covers a curve.
    """
    from matplotlib.lines import Line2D

    drawn = _run_indices(comparison, runs)
    fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.1 + 0.2 * -(-len(drawn) // 2)), layout="constrained")
    handles = []
    for k in drawn:
        r = comparison.runs[k]
        f, colour = r.faithfulness, f"C{k % 10}"
        x = f.fractions.numpy()
        for ax, curve in zip(axes, ("deletion", "insertion")):
            ax.plot(x, getattr(f, curve).mean(0).numpy(), color=colour)
            ax.plot(x, getattr(f, f"{curve}_random").mean(0).numpy(), color=colour, ls="--", alpha=0.6)
        auc = {c: float(f.auc(c).mean()) for c in ("deletion", "deletion_random", "insertion", "insertion_random")}
        handles.append(Line2D([], [], color=colour, label=f"{r.name}: del {auc['deletion']:.2f} (rnd "
                                                          f"{auc['deletion_random']:.2f}), ins {auc['insertion']:.2f} "
                                                          f"(rnd {auc['insertion_random']:.2f})"))
    handles.append(Line2D([], [], color="0.4", ls="--", label="dashed: the same run, random pixel order (rnd)"))
    for ax, curve in zip(axes, ("deletion", "insertion")):
        ax.set(xlabel=f"fraction of pixels {'removed' if curve == 'deletion' else 'inserted'}",
               ylabel="probability of the target", ylim=(0, 1.02), xlim=(0, 1),
               title=f"{curve} ({comparison.method}): {'lower' if curve == 'deletion' else 'higher'} is more faithful")
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3)
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=8, frameon=False,
               title="mean AUC over the images", title_fontsize=8)
    return fig, axes


def plot_sanity_check(result):
    """Spearman correlation with the trained model's maps as layers are randomised from the output down."""
    fig, ax = plt.subplots(figsize=(max(5, 0.45 * len(result.layers) + 2), 3.8))
    x = np.arange(len(result.layers))
    spread = result.per_image.std(1) if result.per_image.size else np.zeros(len(x))
    ax.errorbar(x, result.correlations, yerr=spread, marker="o", capsize=3)
    ax.axhline(result.threshold, color="tab:red", ls="--", lw=1, label=f"threshold {result.threshold}")
    ax.set_xticks(x, result.layers, rotation=60, ha="right", fontsize=7)
    ax.set(ylim=(-0.2, 1.05), ylabel="rank correlation (|maps|)", xlabel="randomised down to layer",
           title=f"sanity check, {result.method}: {result.verdict}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax


def plot_similarity(result):
    """Heatmap of a :class:`~xaicnn.analysis.similarity.Similarity`: linear CKA of every layer of run a (rows)
    with every layer of run b (columns), first layers at the top left, colour fixed to 0..1 so heatmaps of
    different pairs read alike. Values are written up to 12 x 12 layers; beyond 40 only every k-th name is."""
    m = np.asarray(result.cka, dtype=float)
    rows, cols = m.shape
    fig, ax = plt.subplots(figsize=(min(max(5.0, 0.22 * cols + 3), 16), min(max(4.2, 0.22 * rows + 2.2), 16)),
                           layout="constrained")
    cmap = plt.get_cmap("magma").with_extremes(bad="0.8")  # grey: a layer without variance has no CKA
    image = ax.imshow(np.ma.masked_invalid(m), cmap=cmap, vmin=0, vmax=1, interpolation="nearest", aspect="auto")
    for axis, names, rotate in ((ax.set_yticks, result.layers_a, False), (ax.set_xticks, result.layers_b, True)):
        step = max(1, -(-len(names) // 40))  # at most ~40 labelled layers per axis
        ticks = np.arange(0, len(names), step)
        kwargs = {"rotation": 90} if rotate else {}
        axis(ticks, [names[i] for i in ticks], fontsize=_tick_fontsize(len(ticks)), **kwargs)
    if rows <= 12 and cols <= 12:
        for i in range(rows):
            for j in range(cols):
                if np.isfinite(m[i, j]):
                    ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="black" if m[i, j] > 0.6 else "white")
    a, b = result.names
    ax.set(ylabel=f"{a}: {result.layer_kind} (first at the top)", xlabel=f"{b}: {result.layer_kind}",
           title=f"linear CKA, {a} with itself" if result.self_similarity else f"linear CKA, {a} vs {b}")
    fig.colorbar(image, ax=ax, shrink=0.8, label="linear CKA")
    fig.text(0.5, 0, f"{result.images} validation images, {result.estimator}, minibatches of up to {result.batch_size}",
             ha="center", va="top", fontsize=8, color="0.3")
    return fig, ax


# --- receptive fields: theoretical per layer, effective maps (xaicnn receptive-field) ---


def plot_receptive_fields(fields, labels: list[str] | None = None):
    """Theoretical receptive field size per spatial layer, one line per architecture, on one axis.

    ``fields``: :class:`~xaicnn.models.receptive_field.ReceptiveFields` (one or several, e.g. a 3x3 stack and
    its 7x7 twin). x is the position among the leaf modules that change the field (forward order), y the
    field's height in input pixels; the dotted line is the input height. Returns ``(fig, ax)``.
    """
    fields = _as_list(fields)
    labels = list(labels) if labels else [f"net {i + 1}" for i in range(len(fields))]
    fig, ax = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
    heights = set()
    for k, (rf, label) in enumerate(zip(fields, labels)):
        names = [r.name for r in rf.layers]
        leaves = []
        for r in rf.layers:  # leaf modules that change the field (a 1x1 conv or a ReLU does not)
            if r.spatial and r.name and not any(n.startswith(r.name + ".") for n in names) and \
                    (not leaves or (r.receptive_field, r.jump) != (leaves[-1].receptive_field, leaves[-1].jump)):
                leaves.append(r)
        if not leaves:  # flattened at once (fc20): nothing to draw for this net
            ax.plot([], [], color=f"C{k % 10}", label=f"{label}: no spatial layer")
            continue
        sizes = [r.receptive_field[0] for r in leaves]
        x = np.arange(1, len(leaves) + 1)
        ax.plot(x, sizes, marker="o", ms=3, color=f"C{k % 10}", drawstyle="steps-post",
                label=f"{label}: {sizes[-1]} px at {leaves[-1].name} (jump {leaves[-1].jump[0]})")
        heights.add(rf.input_size[1])
    heights = heights or {rf.input_size[1] for rf in fields}
    for h in sorted(heights):
        ax.axhline(h, color="0.4", ls=":", lw=1)
        ax.annotate(f"input height {h}", (1, h), xytext=(2, 2), textcoords="offset points", fontsize=7, color="0.3")
    ax.set(xlabel="layer that changes the field (forward order)",
           ylabel="theoretical receptive field (input pixels)", title="receptive field growth per layer")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig, ax


def plot_effective_rf(erfs, labels: list[str] | None = None, columns: int = 4):
    """Effective receptive field maps (:class:`~xaicnn.analysis.effective_rf.EffectiveRF`) side by side on ONE
    colour scale (square root, so the tails show), each with its unit's theoretical window (solid box) and the
    square holding ``share`` of the gradient mass (dashed). Returns ``(fig, axes)``; axes is 2-D."""
    from matplotlib.colors import PowerNorm
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    erfs = _as_list(erfs)
    labels = list(labels) if labels else [e.label or e.layer for e in erfs]
    ncols = min(columns, len(erfs))
    nrows = -(-len(erfs) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.1 * ncols + 1.2, 3.5 * nrows), squeeze=False, layout="constrained")
    norm = PowerNorm(0.5, vmin=0, vmax=max(float(e.map.max()) for e in erfs))
    image = None
    for ax, erf, label in zip(axes.flat, erfs, labels):
        h, w = erf.map.shape
        image = ax.imshow(erf.map.numpy(), cmap="magma", norm=norm, interpolation="nearest")
        (cy, cx), (sh, sw) = erf.centre, erf.theoretical_size
        ax.add_patch(Rectangle((cx - sw / 2, cy - sh / 2), sw, sh, fill=False, ec="tab:cyan", lw=1.5))
        side = 2 * erf.radius + 1
        ax.add_patch(Rectangle((cx - side / 2, cy - side / 2), side, side, fill=False, ec="white", lw=1.2, ls="--"))
        ax.plot([cx], [cy], marker="+", color="white", ms=6)
        ax.set(xlim=(-0.5, w - 0.5), ylim=(h - 0.5, -0.5), xticks=[], yticks=[])
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(f"{erf.layer}: {erf.share:.0%} of |grad| within r = {erf.radius:g} px\n"
                      f"= {erf.fraction:.0%} of the theoretical half-size ({erf.theoretical_size[0]}/2)\n"
                      f"{erf.images} images x {erf.models} model{'s' if erf.models > 1 else ''}", fontsize=8)
    for ax in axes.flat[len(erfs):]:
        ax.axis("off")
    fig.colorbar(image, ax=axes, shrink=0.8, label="share of the gradient mass per pixel (sqrt scale, shared)")
    fig.legend(handles=[Line2D([], [], color="tab:cyan", lw=1.5, label="theoretical receptive field"),
                        Line2D([], [], color="0.3", lw=1.2, ls="--", label="effective: square holding the share")],
               loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    return fig, axes


# --- inside the network: learned filters, feature maps, unit health (xaicnn features) ---


def plot_filters(filters, labels: list[str] | None = None):
    """First-layer kernels (:class:`~xaicnn.analysis.features.Filters`) of each run side by side, each drawn by
    :func:`~xaicnn.analysis.features.filter_grid` on that run's ONE symmetric scale (0 = grey; RGB for 3-channel
    inputs, grey for 1, the channel mean otherwise), which the caption under each grid states. Returns
    ``(fig, axes)``; axes is 1-D."""
    filters = _as_list(filters)
    labels = list(labels) if labels else [f.label or f"run {i + 1}" for i, f in enumerate(filters)]
    grids = [f.grid() for f in filters]
    fig, axes = plt.subplots(1, len(filters), figsize=(3.6 * len(filters) + 0.4, 4.2), squeeze=False,
                             layout="constrained")
    for ax, f, grid, label in zip(axes[0], filters, grids, labels):
        ax.imshow(grid, interpolation="nearest")
        ax.set(xticks=[], yticks=[])
        ax.set_title(f"{label}\n{f.module}", fontsize=9)
        ax.set_xlabel(f.caption(), fontsize=8)
    fig.suptitle("first-layer filters (one scale per run)", fontsize=10)
    return fig, axes[0]


def plot_feature_maps(maps, labels: list[str] | None = None, columns: int | None = None, scales: dict | None = None):
    """Feature maps (:class:`~xaicnn.analysis.features.FeatureMaps`) of one image per run: each run a panel with
    the image first, then its most active channels (most active first, channel index and mean in the corner).
    Every run shown at the same layer shares ONE colour scale (:func:`feature_map_scales`, on its colour bar).
    ``scales`` ({layer: (vmin, vmax)}) sets those scales instead, so runs drawn in separate figures can still
    share them (the app draws one figure per run). Returns ``(fig, subfigures)``."""
    from .analysis.features import feature_map_scales

    maps = _as_list(maps)
    labels = list(labels) if labels else [m.label or f"run {i + 1}" for i, m in enumerate(maps)]
    scales = scales or feature_map_scales(maps)
    cells = max(len(m.channels) for m in maps) + 1
    cols = columns or int(np.ceil(np.sqrt(cells)))
    rows = -(-cells // cols)
    fig = plt.figure(figsize=(len(maps) * (1.3 * cols + 0.9), 1.35 * rows + 1.0), layout="constrained")
    panels = np.atleast_1d(fig.subfigures(1, len(maps)))
    for panel, m, label in zip(panels, maps, labels):
        axes = panel.subplots(rows, cols, squeeze=False)
        _show_image(axes[0, 0], m.image)
        axes[0, 0].set_title("image" if m.image_index is None else f"image {m.image_index}", fontsize=7)
        vmin, vmax = scales[m.layer]
        image = None
        for ax, fmap, channel, mean in zip(axes.flat[1:], m.maps, m.channels, m.means):
            image = ax.imshow(fmap, cmap="magma", vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_title(f"ch {channel}: {mean:.2g}", fontsize=7)
            ax.set(xticks=[], yticks=[])
        for ax in axes.flat[1 + len(m.channels):]:
            ax.axis("off")
        panel.suptitle(f"{label}: {m.layer}, top {len(m.channels)} of {m.layer_channels} channels", fontsize=9)
        if image is not None:
            panel.colorbar(image, ax=axes, shrink=0.7,
                           label=f"activation ({vmin:.2g} to {vmax:.2g}, shared at {m.layer})")
    return fig, panels


def plot_unit_health(health, labels: list[str] | None = None):
    """Dead share per layer (:class:`~xaicnn.analysis.features.UnitHealth`), one line per run, depth (layer
    position in forward order) on x; layer names label the ticks when every run has the same layers. Returns
    ``(fig, ax)``."""
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    health = _as_list(health)
    labels = list(labels) if labels else [h.label or f"run {i + 1}" for i, h in enumerate(health)]
    longest = max(len(h.rows) for h in health)
    fig, ax = plt.subplots(figsize=(min(max(6.0, 0.3 * longest + 3), 16), 4.2), layout="constrained")
    for k, (h, label) in enumerate(zip(health, labels)):
        share = [r.dead_share for r in h.rows]
        dead, units = sum(r.dead for r in h.rows), sum(r.units for r in h.rows)
        ax.plot(np.arange(1, len(share) + 1), share, marker="o", ms=3, color=f"C{k % 10}",
                label=f"{label}: {dead} of {units} units dead, {h.images} images")
    names = [[r.layer for r in h.rows] for h in health]
    if all(n == names[0] for n in names):
        step = max(1, -(-len(names[0]) // 40))
        ticks = np.arange(1, len(names[0]) + 1, step)
        ax.set_xticks(ticks, [names[0][i - 1] for i in ticks], rotation=90, fontsize=_tick_fontsize(len(ticks)))
        ax.set_xlabel(f"layer ({health[0].layer_kind}, forward order)")
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(f"layer depth ({health[0].layer_kind} layers, forward order)")
    ax.set(ylim=(-0.03, 1.03), ylabel="dead share (never > 0 on any image)", title="dead units per layer")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig, ax


# --- inside the network: top images per channel (Zeiler & Fergus's dataset examples) ---


def plot_top_images(result, images, classes=None, *, crops: bool = True):
    """Top images per channel (:class:`~xaicnn.analysis.top_images.TopImages`): one row per channel, best first.

    ``images``: the uint8 [N, C, H, W] image set the result's indices point into (``run.val_data().images``);
    ``classes``: class names for the captions (default the result's). For a spatial layer each cell is the
    receptive-field crop where the channel peaks (``crops=True``) or the whole image with that window drawn;
    otherwise the whole image. Captions: class and value. Returns ``(fig, axes)``; axes is 2-D."""
    from matplotlib.patches import Rectangle

    classes = list(classes) if classes is not None else list(result.classes)
    rows, k = result.indices.shape
    fig, axes = plt.subplots(rows, k, figsize=(1.25 * k + 1.0, 1.45 * rows + 0.6), squeeze=False, layout="constrained")
    for r, channel in enumerate(result.channels):
        for j in range(k):
            ax = axes[r, j]
            index, label = int(result.indices[r, j]), int(result.labels[r, j])
            _show_image(ax, images[index])
            if result.spatial:
                top, left, bottom, right = result.boxes[r, j].tolist()
                if crops:
                    ax.set(xlim=(left - 0.5, right - 0.5), ylim=(bottom - 0.5, top - 0.5))
                else:
                    ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False,
                                           ec="tab:orange", lw=1.2))
            name = classes[label] if label < len(classes) else str(label)
            ax.set_title(f"{name[:10]} {float(result.values[r, j]):.3g}", fontsize=7, pad=2)
        axes[r, 0].set_ylabel(f"ch {channel}\nmean {float(result.mean_values[r]):.3g}", fontsize=8)
    what = ("receptive-field crop at the channel's peak" if crops else "window of the peak drawn") if result.spatial \
        else "whole image"
    fig.suptitle(f"{result.name + ': ' if result.name else ''}top {k} of {result.images} images per channel, "
                 f"layer {result.layer}", fontsize=10)
    fig.text(0.5, 0, f"{what}; caption: class and {result.value}; {result.selection}", ha="center", va="top", fontsize=8,
             color="0.3")
    return fig, axes
