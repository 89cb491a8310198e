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
    from .data._cache import atomic_write

    path = Path(path)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=DPI, bbox_inches="tight"))
    plt.close(fig)
    return path


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


def _heat_rgba(amap: np.ndarray, signed: bool) -> np.ndarray:
    """An attribution map [H, W] -> RGBA whose opacity grows with |value| (zero is transparent, so the input
    shows through). Scaled by the 99.5th percentile of |value| so one hot pixel does not wash out the rest."""
    scale = float(np.percentile(np.abs(amap), 99.5)) or float(np.abs(amap).max()) or 1.0
    if signed:
        v = np.clip(amap / scale, -1, 1)
        rgba = plt.get_cmap("RdBu_r")((v + 1) / 2)  # red: evidence for the target, blue: against
    else:
        v = np.clip(amap / scale, 0, 1)
        rgba = plt.get_cmap("inferno")(0.35 + 0.65 * v)
    rgba[..., 3] = 0.9 * np.abs(v) ** 0.8
    return rgba


def _show_image(ax, image) -> None:
    img = image.permute(1, 2, 0).numpy()
    if img.shape[2] == 1:
        ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(img)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_attribution_grid(comparison):
    """One row per image: the input, then each run's map overlaid on it (an ``AttributionComparison``).

    Panel titles: predicted class and its probability (green when it matches the label, red when not);
    small text: IG's completeness delta, and the deletion/insertion AUCs with the random-order reference.
    """
    n, runs = len(comparison.index), comparison.runs
    fig, axes = plt.subplots(n, 1 + len(runs), figsize=(2.5 * (1 + len(runs)), 2.75 * n), squeeze=False)
    for i in range(n):
        ax = axes[i, 0]
        _show_image(ax, comparison.inputs[i])
        where = comparison.index[i]
        where = Path(where).name if isinstance(where, str) else f"#{where}"
        label = None if comparison.labels is None else int(comparison.labels[i])
        ax.set_title(f"{where}" + ("" if label is None else f"  label {runs[0].classes[label]}"), fontsize=9)
        for j, r in enumerate(runs):
            ax = axes[i, 1 + j]
            _show_image(ax, r.inputs[i])
            ax.imshow(_heat_rgba(r.maps[i].numpy(), comparison.signed))
            pred, prob = int(r.predictions[i]), float(r.probabilities[i])
            colour = "black" if label is None else ("tab:green" if pred == label else "tab:red")
            target = "" if int(r.targets[i]) == pred else f", map for {r.classes[int(r.targets[i])]}"
            ax.text(0.5, 1.02, f"pred {r.classes[pred]} ({prob:.2f}){target}", transform=ax.transAxes, ha="center",
                    va="bottom", fontsize=9, color=colour)
            if i == 0:
                ax.set_title(r.name, fontsize=10, fontweight="bold", pad=16)
            rec = r.image_record(i)
            delta = "" if rec["delta"] is None else f"δ {rec['delta']:.1e}  "
            ax.set_xlabel(f"{delta}del {rec['deletion_auc']:.2f} (rnd {rec['deletion_auc_random']:.2f})\n"
                          f"ins {rec['insertion_auc']:.2f} (rnd {rec['insertion_auc_random']:.2f})", fontsize=7)
    fig.suptitle(f"{comparison.method}: {'red for, blue against the target' if comparison.signed else 'brighter = larger'}\n"
                 f"faithful: del(etion) AUC below, ins(ertion) AUC above rnd (random order)", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    return fig, axes


def plot_deletion_insertion(comparison):
    """Mean deletion and insertion curves per run (solid) against a random pixel order (dashed)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for k, r in enumerate(comparison.runs):
        f, colour = r.faithfulness, f"C{k}"
        x = f.fractions.numpy()
        for ax, curve in zip(axes, ("deletion", "insertion")):
            ax.plot(x, getattr(f, curve).mean(0).numpy(), color=colour,
                    label=f"{r.name} (AUC {float(f.auc(curve).mean()):.2f})")
            ax.plot(x, getattr(f, f"{curve}_random").mean(0).numpy(), color=colour, ls="--", alpha=0.6,
                    label=f"random order (AUC {float(f.auc(curve + '_random').mean()):.2f})")
    for ax, curve in zip(axes, ("deletion", "insertion")):
        ax.set(xlabel=f"fraction of pixels {'removed' if curve == 'deletion' else 'inserted'}",
               ylabel="probability of the target", title=f"{curve} ({comparison.method})", ylim=(0, 1.02), xlim=(0, 1))
        ax.legend(fontsize=7)
    fig.tight_layout()
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
