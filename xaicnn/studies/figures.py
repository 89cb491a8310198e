"""A study's figures, as the original reports used them; every kind is one function over the study's runs.

The figures themselves come from :mod:`xaicnn.plots` and :mod:`xaicnn.analysis` (the same functions
the CLI and the app call); this module only picks the runs (one per condition: its lowest finished seed,
so every figure shows the same runs) and names the files. A figure kind may also check what it shows
(``attributions`` runs the randomisation sanity check and reports deletion/insertion AUCs): it appends
markdown lines to ``ctx.sections`` and JSON-able results to ``ctx.data``. A figure that fails is reported
in one line and skipped: a study's numbers never depend on its pictures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
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
    sections: list[str] = field(default_factory=list)  # markdown lines the report appends
    data: dict = field(default_factory=dict)  # JSON-able results, kept in study.json

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
    """Integrated Gradients heatmaps of every condition side by side on the same validation images, and
    checks of those maps per condition (:func:`attribution_checks`): ``ctx.data["attribution_checks"]`` and
    the section "Are the attributions faithful?"."""
    from ..analysis.compare_attributions import compare_attributions

    options = {"n": 6, **ctx.options.get("attributions", {})}
    comparison = compare_attributions(list(ctx.runs.values()), method="ig", **options)
    checks = attribution_checks(ctx, comparison)  # before anything is written: a failure leaves no half result
    saved = comparison.save(ctx.folder / "figures" / "attributions")  # png + npz + json
    pngs = [Path(p) for p in saved.values() if Path(p).suffix == ".png"]
    ctx.data["attribution_checks"] = checks
    ctx.sections += attribution_section(checks, baseline=comparison.options.get("baseline", "black"))
    return [p.relative_to(ctx.folder).as_posix() for p in pngs]


def _mean(value: float) -> float | None:
    return value if math.isfinite(value) else None


@figure("receptive_fields")
def receptive_fields(ctx: FigureContext) -> list[str]:
    """The receptive-field argument, measured: each condition's theoretical field per layer (Araujo et al.
    2019) on one axis, and its effective field (Luo et al. 2016) trained and at initialisation, on ``n``
    validation images and one colour scale; a table in the section "How far does each net see?"."""
    from ..analysis.effective_rf import trained_vs_init
    from ..models.receptive_field import receptive_fields as theoretical
    from ..plots import plot_effective_rf, plot_receptive_fields

    options = {"n": 64, "seeds": (0, 1, 2), "stage": None, **ctx.options.get("receptive_fields", {})}
    fields = {label: theoretical(run.model, run.input_size) for label, run in ctx.runs.items()}
    paths = [ctx.save(plot_receptive_fields(list(fields.values()), ctx.labels)[0], "receptive-fields")]
    stage = options["stage"] or _deepest_fitting_stage(next(iter(fields.values())))
    measured = {}
    for label, run in ctx.runs.items():
        layer = fields[label].stage_ends()[stage - 1].name
        ctx.log(f"receptive_fields: effective field of {label} at {layer} (stage {stage}) on {options['n']} images "
                f"(trained, and {len(options['seeds'])} initialisations)")
        measured[label] = trained_vs_init(run, run.val_data(size=options["n"]).images, layer=layer,
                                          seeds=tuple(options["seeds"]))
    maps = [m for pair in measured.values() for m in (pair.trained, pair.init)]
    names = [f"{ctx.spec.condition(label).name}, {which}" for label in measured for which in ("trained", "init")]
    paths.append(ctx.save(plot_effective_rf(maps, names, columns=2)[0], "effective-rf"))
    ctx.data["receptive_fields"] = {label: {"stage": stage, "net_field": fields[label].net and
                                            fields[label].net.receptive_field, **measured[label].to_json()}
                                    for label in measured}
    ctx.sections += receptive_field_section(ctx, fields, measured)
    return paths


def _radius_holding(erf, share: float) -> float:
    """The smallest radius on the measured grid whose centred square holds ``share`` of the gradient mass."""
    return next((r for r, mass in erf.mass_within if mass >= share), float("nan"))


def _deepest_fitting_stage(fields) -> int:
    """The deepest stage whose theoretical field is at most half the image (so the window of its centre unit lies
    inside the image with room around it and the effective field is not cut off by the image's edge); at least 1."""
    side = min(fields.input_size[1:])
    fitting = [k for k, row in enumerate(fields.stage_ends(), 1) if max(row.receptive_field) <= side / 2]
    return fitting[-1] if fitting else 1


def receptive_field_section(ctx: FigureContext, fields: dict, measured: dict) -> list[str]:
    from ..models.receptive_field import pair_text

    first = next(iter(measured.values())).trained
    lines = ["## How far does each net see?", "",
             f"Measured at the end of the same stage in every net (the deepest stage at which the first condition's "
             f"field is at most half the image, so its window fits inside the image). "
             f"Theoretical field: the input window one unit of that layer depends on (largest over paths). "
             f"Effective field: the radius of the centred square holding {first.share:.0%} of the mean |gradient| of "
             f"that layer's centre unit with respect to the input, over {first.images} validation images; at "
             f"initialisation averaged over {next(iter(measured.values())).init.models} random-weight models. "
             f"A fraction of 1 means the effective field fills the theoretical one. The 50% radius shows how "
             f"concentrated the gradient is inside that square (Luo et al.: a stack of small kernels concentrates it "
             f"towards the centre, like a Gaussian).", "",
             f"| condition | layer | theoretical field (pixels) | {first.share:.0%} radius, trained | at init | fraction "
             f"of the theoretical half-size, trained | trained / init | 50% radius, trained | at init |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, pair in measured.items():
        t = pair.trained
        clipped = "" if t.window_inside_input else " (window wider than the image)"
        lines.append(f"| {ctx.spec.condition(label).name} | {t.layer} | {pair_text(t.theoretical_size)}{clipped} | "
                     f"{t.radius:.1f} | {pair.init.radius:.1f} | {t.fraction:.2f} | {pair.growth:.2f} | "
                     f"{_radius_holding(t, 0.5):.1f} | {_radius_holding(pair.init, 0.5):.1f} |")
    return lines + [""]


@figure("similarity")
def similarity(ctx: FigureContext) -> list[str]:
    """What the layers represent: linear CKA (minibatch unbiased HSIC, Nguyen et al. 2021) of every block
    output of each condition with every other one of the same run, on ``n`` validation images, plus the
    condition pairs named in the options (``pairs``: ((a, b), ...)); the section "Do deep layers repeat
    each other?" reads the adjacent-block similarities."""
    from ..analysis.similarity import layer_similarity
    from ..plots import plot_similarity

    options = {"n": 256, "pairs": (), **ctx.options.get("similarity", {})}
    results, paths = {}, []
    for label, run in ctx.runs.items():
        ctx.log(f"similarity: {label} with itself on {options['n']} images")
        results[label] = layer_similarity(run, n=options["n"], progress=False)
        paths.append(ctx.save(plot_similarity(results[label])[0], f"similarity-{label}"))
    for a, b in options["pairs"]:
        if a in ctx.runs and b in ctx.runs:
            ctx.log(f"similarity: {a} vs {b} on {options['n']} images")
            pair = layer_similarity(ctx.runs[a], ctx.runs[b], n=options["n"], progress=False)
            results[f"{a}_vs_{b}"] = pair
            paths.append(ctx.save(plot_similarity(pair)[0], f"similarity-{a}-vs-{b}"))
    ctx.data["similarity"] = {key: r.to_json() for key, r in results.items()}
    ctx.sections += similarity_section(ctx, {k: r for k, r in results.items() if r.self_similarity})
    return paths


@figure("filters")
def filters(ctx: FigureContext) -> list[str]:
    """Each condition's learned first-layer filters side by side (one symmetric scale per run, stated)."""
    from ..analysis.features import first_conv_filters
    from ..plots import plot_filters

    found = [first_conv_filters(run, label=ctx.spec.condition(label).name) for label, run in ctx.runs.items()]
    return [ctx.save(plot_filters(found, [f.label for f in found])[0], "filters")]


@figure("unit_health")
def unit_health(ctx: FigureContext) -> list[str]:
    """Dead units per layer (never above zero on the validation images) of every condition on one axis; the
    section "Where do units die?" tabulates the dead share per condition."""
    from ..analysis.features import unit_health as measure
    from ..plots import plot_unit_health

    options = {"n": None, **ctx.options.get("unit_health", {})}
    health = {}
    for label, run in ctx.runs.items():
        ctx.log(f"unit_health: {label} over {options['n'] or 'all'} validation images")
        health[label] = measure(run, n=options["n"], label=ctx.spec.condition(label).name)
    ctx.data["unit_health"] = {label: h.to_json() for label, h in health.items()}
    first = next(iter(health.values()))
    ctx.sections += ["## Where do units die?", "",
                     f"A unit is dead when it is never above zero on any of the {first.images} validation images (read "
                     f"after each block's activation): it passes no gradient. Per condition, over its {first.layer_kind} "
                     f"layers (the logits left out).", "",
                     "| condition | layers | dead units | dead share | layers more than half dead | deepest such layer |",
                     "|---|---:|---:|---:|---:|---|"]
    for label, h in health.items():
        units, dead = sum(r.units for r in h.rows), sum(r.dead for r in h.rows)
        half = [r for r in h.rows if r.dead_share > 0.5]
        ctx.sections.append(f"| {ctx.spec.condition(label).name} | {len(h.rows)} | {dead:,} of {units:,} | "
                            f"{dead / units if units else float('nan'):.1%} | {len(half)} | "
                            f"{half[-1].layer if half else '-'} |")
    ctx.sections.append("")
    return [ctx.save(plot_unit_health(list(health.values()), [h.label for h in health.values()])[0], "unit-health")]


def similarity_section(ctx: FigureContext, selves: dict) -> list[str]:
    import numpy as np

    first = next(iter(selves.values()))
    lines = ["## Do deep layers repeat each other?", "",
             f"Linear CKA between each block's output and the next one's in the same trained run ({first.images} "
             f"validation images, {first.estimator}). CKA is 1 for representations equal up to rotation and "
             f"scale; a long run of adjacent blocks near 1 means those blocks pass their input on nearly unchanged. "
             f"What this shows is similarity, not usefulness: a net at chance can have any CKA pattern.", "",
             "| condition | blocks | mean adjacent CKA | adjacent pairs with CKA > 0.9 | lowest adjacent CKA |",
             "|---|---:|---:|---:|---:|"]
    for label, r in selves.items():
        adjacent = r.neighbour_similarity()
        adjacent = adjacent[np.isfinite(adjacent)]
        if not len(adjacent):
            lines.append(f"| {ctx.spec.condition(label).name} | {len(r.layers_a)} | - | - | - |")
            continue
        lines.append(f"| {ctx.spec.condition(label).name} | {len(r.layers_a)} | {adjacent.mean():.3f} | "
                     f"{int((adjacent > 0.9).sum())} of {len(adjacent)} | {adjacent.min():.3f} |")
    return lines + [""]


def attribution_checks(ctx: FigureContext, comparison) -> dict:
    """Per condition, on the comparison's images and targets: the cascading model-randomisation check
    (Adebayo et al. 2018; :meth:`AttributionComparison.sanity_check`, same method options) and the mean
    over the images of the deletion/insertion AUCs and their random-order references (Petsiuk et al. 2018)."""
    from ..analysis.attribution import METHODS

    runs = comparison.runs
    resolved = METHODS.get(comparison.method)(runs[0].run.model).resolve_options(dict(comparison.options))
    models = {}
    for k, (label, r) in enumerate(zip(ctx.runs, runs)):
        ctx.log(f"attributions: sanity check of {label} ({comparison.method}, {len(r.targets)} images)")
        sanity = comparison.sanity_check(k)
        models[label] = {"title": ctx.spec.condition(label).name, "sanity": sanity.to_json(),
                         **{key: _mean(v) for key, v in r.faithfulness.summary().items()}}
    return {"method": comparison.method, "images": len(comparison.index), "steps": resolved["steps"], "models": models}


def _versus(ours, random, better: str) -> str:
    if ours is None or random is None:
        return "n/a"
    sign = "<" if ours < random else ">" if ours > random else "="
    digits = next((d for d in range(3, 7) if f"{ours:.{d}f}" != f"{random:.{d}f}"), 3)  # show the difference
    return f"{ours:.{digits}f} {sign} {random:.{digits}f}" + (" (beats random)" if sign == better else "")


def attribution_section(checks: dict, baseline="black") -> list[str]:
    """The markdown section of :func:`attribution_checks`: one row per model, then what the numbers mean."""
    models = checks["models"].values()
    n, m = checks["images"], len(checks["models"])
    passed = sum(e["sanity"]["verdict"] == "passes" for e in models)
    deletion = sum(None not in (e["deletion_auc"], e["deletion_auc_random"])
                   and e["deletion_auc"] < e["deletion_auc_random"] for e in models)
    insertion = sum(None not in (e["insertion_auc"], e["insertion_auc_random"])
                    and e["insertion_auc"] > e["insertion_auc_random"] for e in models)
    threshold = next(iter(models))["sanity"]["threshold"] if m else 0.5
    baseline = baseline if isinstance(baseline, str) else "custom"
    lines = ["## Are the attributions faithful?", "",
             f"Integrated Gradients ({baseline} baseline, {checks['steps']} steps) of each model's run in the "
             f"figure, on the same {n} validation image(s) and target classes.", "",
             "| Model | Sanity check: final correlation | Deletion AUC vs random (lower is better) | "
             "Insertion AUC vs random (higher is better) |",
             "|---|---|---|---|"]
    for e in models:
        s = e["sanity"]
        lines.append(f"| {e['title']} | {s['final_correlation']:.3f} ({s['verdict']}) | "
                     f"{_versus(e['deletion_auc'], e['deletion_auc_random'], '<')} | "
                     f"{_versus(e['insertion_auc'], e['insertion_auc_random'], '>')} |")
    lines += ["",
              f"Sanity check (Adebayo et al. 2018): the layers are re-initialised one after another from the output "
              f"down and the maps recomputed; the column is the mean Spearman correlation of the absolute maps with "
              f"the trained model's once every layer is random - above {threshold} the maps barely depend on the "
              f"weights and the check fails. {passed} of {m} model(s) pass. Adebayo et al. found that Integrated "
              f"Gradients with a black baseline often fails this check, because its maps keep the structure of the "
              f"input, so a failure says as much about the method as about the model.",
              "",
              f"Deletion / insertion (Petsiuk et al. 2018): the target's probability as pixels are removed from, or "
              f"put back into, the image in the order the map ranks them; a deletion AUC below, or an insertion AUC "
              f"above, the same curve in random pixel order means the ranking points at pixels the model uses. "
              f"Deletion beats the random order (by any margin) for {deletion} of {m} model(s), insertion for "
              f"{insertion} of {m}.",
              "",
              f"These are checks on {n} image(s) of one seed per model: they say whether these maps track these "
              f"models, not which architecture is easier to explain; with so few images a difference between two "
              f"models is no evidence that one model's maps are more faithful.", ""]
    return lines


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


@dataclass
class FigureOutput:
    """What :func:`make_figures` drew and checked: ``paths`` relative to the study folder, ``errors`` one line
    per figure kind that failed (kept in study.json so a missing figure is never silent), ``sections``
    markdown lines for the report, ``data`` JSON-able results for study.json (e.g. ``attribution_checks``)."""

    paths: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)


def make_figures(spec: StudySpec, folder: Path, records: list[dict], *, options: dict | None = None,
                 log: Callable = print) -> FigureOutput:
    """Draw every figure kind ``spec.figures`` names, with the checks some kinds run (:class:`FigureOutput`)."""
    runs = figure_runs(spec, folder, records)
    if not runs:
        return FigureOutput()
    ctx = FigureContext(spec, folder, runs, log, options or {})
    out = FigureOutput(sections=ctx.sections, data=ctx.data)
    for kind in spec.figures:
        try:
            out.paths += FIGURES.get(kind)(ctx)
        except Exception as err:  # noqa: BLE001 - one broken figure must not lose the study's numbers
            out.errors.append(f"{kind}: {type(err).__name__}: {err}")
            log(f"figure {kind} failed ({type(err).__name__}: {err}); the numbers are unaffected")
    return out
