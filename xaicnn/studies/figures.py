"""A study's figures, as the original reports used them; every kind is one function over the study's runs.

The figures themselves come from :mod:`xaicnn.plots` and :mod:`xaicnn.analysis` (the same functions
the CLI and the app call); this module only picks the runs (one per condition: its lowest finished seed,
so every figure shows the same runs) and names the files. A figure that fails is reported in one line
and skipped: a study's numbers never depend on its pictures.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .._registry import Registry
from .spec import StudySpec


@dataclass
class FigureContext:
    spec: StudySpec
    folder: Path  # the study folder; figures go to folder / "figures"
    runs: dict  # condition label -> loaded Run (the lowest finished seed)
    log: Callable
    options: dict  # figure kind -> options, from the preset

    @property
    def labels(self) -> list[str]:
        return [self.spec.condition(label).name for label in self.runs]

    def save(self, fig, name: str) -> str:
        from ..plots import save_figure

        save_figure(fig, self.folder / "figures" / f"{name}.png")
        return f"figures/{name}.png"


FIGURES: Registry[Callable[[FigureContext], list[str]]] = Registry("figure kind")


def figure(name: str):
    def wrap(fn):
        FIGURES.add(name, fn)
        return fn

    return wrap


@figure("curves")
def curves(ctx: FigureContext) -> list[str]:
    """Loss and accuracy per epoch, train and validation, one colour per condition."""
    from ..plots import plot_curves

    fig, _ = plot_curves(list(ctx.runs.values()), ctx.labels)
    return [ctx.save(fig, "curves")]


def _flows(ctx: FigureContext):
    from ..analysis.gradient_flow import gradient_flow

    return {label: gradient_flow(run) for label, run in ctx.runs.items() if run.gradient_flow}


@figure("gradient_heatmap")
def gradient_heatmap(ctx: FigureContext) -> list[str]:
    """Gradient norm per layer (rows) per epoch (columns), one figure per condition."""
    from ..plots import plot_gradient_heatmap

    return [ctx.save(plot_gradient_heatmap(flow)[0], f"gradflow-heatmap-{label}")
            for label, flow in _flows(ctx).items()]


@figure("gradient_lines")
def gradient_lines(ctx: FigureContext) -> list[str]:
    """Gradient norm of the first, a middle and the last layer over epochs, one figure per condition."""
    from ..plots import plot_gradient_lines

    return [ctx.save(plot_gradient_lines(flow)[0], f"gradflow-lines-{label}") for label, flow in _flows(ctx).items()]


@figure("gradient_stages")
def gradient_stages(ctx: FigureContext) -> list[str]:
    """Mean gradient norm per stage over epochs, the conditions side by side on one log axis."""
    from ..plots import plot_gradient_stages

    flows = _flows(ctx)
    if not flows:
        return []
    fig, _ = plot_gradient_stages(list(flows.values()), [ctx.spec.condition(k).name for k in flows])
    return [ctx.save(fig, "gradflow-stages")]


@figure("confusion")
def confusion(ctx: FigureContext) -> list[str]:
    """Row-normalised confusion matrix on the validation split, one figure per condition."""
    from ..analysis.metrics import evaluate
    from ..plots import plot_confusion

    return [ctx.save(plot_confusion(evaluate(run))[0], f"confusion-{label}") for label, run in ctx.runs.items()]


@figure("attributions")
def attributions(ctx: FigureContext) -> list[str]:
    """Integrated Gradients heatmaps of every condition side by side on the same validation images."""
    from ..analysis.compare_attributions import compare_attributions

    options = {"n": 6, **ctx.options.get("attributions", {})}
    comparison = compare_attributions(list(ctx.runs.values()), method="ig", **options)
    saved = comparison.save(ctx.folder / "figures" / "attributions")  # png + npz + json
    pngs = [Path(p) for p in saved.values() if Path(p).suffix == ".png"]
    return [p.relative_to(ctx.folder).as_posix() for p in pngs]


def figure_runs(spec: StudySpec, folder: Path, records: list[dict]) -> dict:
    """Condition label -> the loaded Run of its lowest finished seed (conditions without one are left out)."""
    from ..training.checkpoint import load_checkpoint

    out = {}
    for c in spec.conditions:
        mine = sorted((r for r in records if r["condition"] == c.label and r.get("final_acc") is not None),
                      key=lambda r: r["seed"])
        if mine:
            out[c.label] = load_checkpoint(folder / "runs" / f"{mine[0]['run']}.pt")
    return out


def make_figures(spec: StudySpec, folder: Path, records: list[dict], *, options: dict | None = None,
                 log: Callable = print) -> tuple[list[str], list[str]]:
    """Draw every figure kind ``spec.figures`` names; returns (paths relative to ``folder``, errors: one
    line per figure kind that failed - kept in study.json so a missing figure is never silent)."""
    runs = figure_runs(spec, folder, records)
    if not runs:
        return [], []
    ctx = FigureContext(spec, folder, runs, log, options or {})
    paths: list[str] = []
    errors: list[str] = []
    for kind in spec.figures:
        try:
            paths += FIGURES.get(kind)(ctx)
        except Exception as err:  # noqa: BLE001 - one broken figure must not lose the study's numbers
            errors.append(f"{kind}: {type(err).__name__}: {err}")
            log(f"figure {kind} failed ({type(err).__name__}: {err}); the numbers are unaffected")
    return paths, errors
