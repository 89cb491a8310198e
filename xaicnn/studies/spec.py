"""What a study is: a declarative :class:`StudySpec` (conditions x presets x claims x figures) in a registry.

A study reproduces one experiment of the reports the project grew out of. Its spec says *what* was
compared (the conditions: an architecture, its options, augmentation and training overrides), *how
much* to train (presets: ``full`` follows the original settings, ``quick`` fits 10 minutes on 2 CPU
cores, ``smoke`` exercises the machinery in seconds), *what the original found* (claims, each naming a
metric, two conditions and a direction, with the original's numbers) and *which figures* show it.
Nothing here trains or imports torch; :mod:`xaicnn.studies.runner` turns a spec into runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .._registry import Registry

# TrainConfig fields a study, a condition or a preset may set (the trainer's own defaults fill the rest);
# arch, dataset, seed, out and model_options come from the spec itself.
TRAIN_FIELDS = ("epochs", "batch_size", "lr", "optimizer", "schedule", "weight_decay", "label_smoothing", "augment",
                "train_size", "val_size", "image_size", "time_budget", "precision", "grad_flow_every", "threads")


# Training images of each dataset's whole train split, for cost estimates without loading anything.
TRAIN_IMAGES = {"cifar10": 50_000, "mnist": 60_000, "glyphs": 41_600, "digits": 1_347}


@dataclass(frozen=True)
class Condition:
    """One arm of the experiment, e.g. VGG-16 with 7x7 kernels. ``label`` names its runs (``<label>-seed<k>.pt``)."""

    label: str  # short, file-name safe: letters, digits, '_' and '.'
    arch: str  # registered architecture
    options: dict = field(default_factory=dict)  # model options at the original settings
    augment: str = "none"  # none | basic | strong
    config: dict = field(default_factory=dict)  # other TrainConfig overrides for this condition (lr, ...)
    title: str = ""  # how the report names it ("VGG-16 3x3"); defaults to the label

    @property
    def name(self) -> str:
        return self.title or self.label


@dataclass(frozen=True)
class Preset:
    """How much to train. Sizes are image counts (class-balanced subsets); ``None`` means the whole split."""

    epochs: int
    seeds: int  # runs per condition (seeds 0..seeds-1)
    train_size: int | None = None
    val_size: int | None = None
    config: dict = field(default_factory=dict)  # TrainConfig overrides for every condition (batch_size, lr, ...)
    options: dict = field(default_factory=dict)  # model options for every condition whose arch takes them (width=0.25)
    condition_options: dict = field(default_factory=dict)  # label -> model options for that condition only
    figure_options: dict = field(default_factory=dict)  # figure kind -> options (attributions: n, steps, ...)
    notes: tuple[str, ...] = ()  # reductions the numbers don't show, and why the effect should survive them
    # wall minutes on 2 idle CPU cores (2 runs at a time), for --list: scaled from idle measurements of this
    # study's runs (images x epochs x seeds); a report's own "Total time" is what its run measured
    minutes: float | None = None
    limits: str = ""  # what this preset can and cannot say, beyond what the verdicts compute


@dataclass(frozen=True)
class Claim:
    """One checkable statement of the original report (or of a reference it relies on).

    ``kind="runs"``: a statement about our runs across seeds - ``metric(a) <direction> metric(b)`` with
    ``direction`` ``">"`` or ``"<"`` (an ordering) or ``"~"`` (about the same: equivalent within +-``margin``).
    ``b`` is another condition's label, a number, or ``"chance"`` (1 / classes). ``values`` are the
    original's figures for (a, b) (b left out when ``b`` is a number): its effect, a - b (a / b for ratio
    metrics such as timings), is what *effect reproduced* looks for in our interval. ``original_runs``: the
    original's own per-seed values ``((a...), (b...))`` where it gives them, tested the same way.

    ``kind="exact"``: a deterministic quantity (``params``/``flops``, or what a computed study measures) of
    the architectures at the original settings: each of ``values`` must match ours (within ``rel_tol``); with
    ``match="ratio"`` the ratio values[0] / values[1] must match ours instead (our nets are not the
    original's, their proportion is the claim).

    ``source`` names the file and section; ``reference`` is set when the figures come from a paper or a
    reference implementation instead of the original report, so they are never called "the original's".
    """

    text: str  # the statement, as the source makes it
    metric: str  # a key of xaicnn.studies.results.METRICS (or a computed study's own quantity)
    a: str  # condition label
    direction: str = ">"  # ">", "<" or "~"
    b: str | float | None = None
    original: str = ""  # the source's figures, quoted ("0.8691 vs 0.8247 (5 seeds each)")
    source: str = ""  # "000_17c1f6e4dcaf675a.txt §2 (table)"
    reference: str = ""  # "Simonyan & Zisserman 2015, §4.1": figures from a reference, not the original
    kind: str = "runs"  # runs | exact
    values: tuple = ()  # the source's numbers for (a,) or (a, b)
    original_runs: tuple = ()  # ((a per seed...), (b per seed...)) as the original lists them
    margin: float = 0.0  # "~": equivalence margin in the metric's units
    rel_tol: float = 0.0  # exact claims: accepted relative deviation ("about 25M" -> 0.1)
    match: str = "values"  # exact claims: "values" or "ratio"
    at_chance: tuple[str, ...] = ()  # conditions the source itself reports at chance (not a preset artefact)
    note: str = ""  # e.g. where the source contradicts itself and which reading this claim tests

    @property
    def source_label(self) -> str:
        return f"{self.source}; figures from {self.reference}" if self.reference else self.source


@dataclass(frozen=True)
class StudySpec:
    """A whole experiment. ``presets`` holds at least ``smoke``, ``quick`` and ``full``."""

    name: str
    description: str  # one line for `xaicnn study --list`
    dataset: str  # the original's dataset
    fallback: str  # embedded dataset suggested when the original is missing (digits | glyphs)
    conditions: tuple[Condition, ...] = ()
    presets: dict = field(default_factory=dict)  # name -> Preset
    train: dict = field(default_factory=dict)  # the original's training settings (TrainConfig fields)
    claims: tuple[Claim, ...] = ()
    figures: tuple[str, ...] = ("curves",)  # keys of xaicnn.studies.figures.FIGURES
    image_size: int | None = None  # input side the original used; other datasets are resized to it
    original: str = ""  # the original's setting in a sentence, for the report
    compute: Callable | None = None  # studies that train nothing: () -> ComputedStudy (see lecture_shapes)
    departures: tuple[str, ...] = ()  # every way our architectures / data differ from the original's, at any preset

    def condition(self, label: str) -> Condition:
        for c in self.conditions:
            if c.label == label:
                return c
        raise KeyError(f"{self.name} has no condition {label!r}")

    def preset(self, name: str) -> Preset:
        from ..errors import UserError

        if name not in self.presets:
            raise UserError(f"{self.name} has presets {', '.join(self.presets)}; got {name!r}.")
        return self.presets[name]

    def settings(self, condition: Condition, preset: str) -> tuple[dict, dict]:
        """(TrainConfig overrides, model options) of ``condition`` under ``preset``: study, then condition,
        then preset settings, later ones winning. Preset-wide options apply only where the arch takes them."""
        from ..models import get_spec

        p = self.preset(preset)
        config = {**self.train, "augment": condition.augment, **condition.config, "epochs": p.epochs,
                  "train_size": p.train_size, "val_size": p.val_size, **p.config}
        accepted = get_spec(condition.arch).options
        # A preset-wide option reaches an arch only if it means the same there: fc20's `width` is a layer
        # size (int), not the multiplier (float) the conv nets take.
        shared = {k: v for k, v in p.options.items()
                  if k in accepted and (accepted[k] is None or isinstance(v, type(accepted[k])))}
        options = {**condition.options, **shared, **p.condition_options.get(condition.label, {})}
        return config, options

    def reductions(self, preset: str) -> list[str]:
        """Every way ``preset`` departs from ``full``, one phrase each, then the preset's notes."""
        from ..models import get_spec

        if preset == "full" or "full" not in self.presets:
            return []
        p, full = self.preset(preset), self.presets["full"]
        out = []
        if p.seeds != full.seeds:
            out.append(f"{p.seeds} seeds per condition instead of {full.seeds}")
        per_condition: dict[str, list[str]] = {}
        for c in self.conditions:
            (cfg, opts), (cfg_full, opts_full) = self.settings(c, preset), self.settings(c, "full")
            diffs = [f"{_phrase(k)} {_show(cfg_full.get(k), k)} -> {_show(cfg.get(k), k)}"
                     for k in sorted(set(cfg) | set(cfg_full)) if cfg.get(k) != cfg_full.get(k) and k != "threads"]
            defaults = get_spec(c.arch).options
            for k in sorted(set(opts) | set(opts_full)):
                old, new = opts_full.get(k, defaults.get(k)), opts.get(k, defaults.get(k))
                if old != new:
                    diffs.append(f"model option {k} {_show(old)} -> {_show(new)}")
            for d in diffs:
                per_condition.setdefault(d, []).append(c.label)
        for d, labels in per_condition.items():
            out.append(d if len(labels) == len(self.conditions) else f"{d} ({', '.join(labels)})")
        return out + list(p.notes)

    def runs(self, preset: str, seeds: int | None = None) -> int:
        return len(self.conditions) * (seeds or self.preset(preset).seeds)

    def cost(self, preset: str) -> str:
        """'10 runs (2 conditions x 5 seeds) x 8 epochs x 2,000 images, ~9 min on 2 CPU cores' - for
        ``xaicnn study --list``."""
        p = self.preset(preset)
        images = p.train_size or TRAIN_IMAGES.get(self.dataset)
        epochs = f"{p.epochs} epoch{'s' * (p.epochs != 1)}"
        text = (f"{self.runs(preset)} runs ({len(self.conditions)} conditions x {p.seeds} seeds) x {epochs} x "
                f"{f'{images:,}' if images else 'all'} images")
        return text + (f", ~{p.minutes:g} min on 2 idle CPU cores (2 runs at a time)" if p.minutes else "")


def _phrase(key: str) -> str:
    return {"train_size": "training images", "val_size": "validation images", "batch_size": "batch size",
            "lr": "learning rate", "time_budget": "time budget (min)", "image_size": "image size"}.get(key, key)


def _show(v, key: str = "") -> str:
    if v is None:
        return "the dataset's own" if key == "image_size" else "all"
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 1000:
        return f"{v:,}"
    return str(v)


@dataclass
class ComputedStudy:
    """What a study that trains nothing (``StudySpec.compute``) returns for its report."""

    table: list[dict]  # one row per item (model, module), written to results.csv
    claims: list[dict]  # evaluated claims, same keys as xaicnn.studies.results.evaluate_claim's
    sections: list[str] = field(default_factory=list)  # markdown lines added to report.md


STUDIES: Registry[StudySpec] = Registry("study")


def register_study(spec: StudySpec) -> StudySpec:
    """Add ``spec`` to the registry (a duplicate name raises); returns it, so a module can write
    ``SPEC = register_study(StudySpec(...))``."""
    for required in ("smoke", "quick", "full"):
        if spec.compute is None and required not in spec.presets:
            raise ValueError(f"study {spec.name!r} has no {required!r} preset")
    configs = [spec.train] + [c.config for c in spec.conditions] + [p.config for p in spec.presets.values()]
    unknown = {k for config in configs for k in config} - set(TRAIN_FIELDS)
    if unknown:
        raise ValueError(f"study {spec.name!r} sets {', '.join(sorted(unknown))}, which no study may set")
    labels = [c.label for c in spec.conditions]
    if len(set(labels)) != len(labels):
        raise ValueError(f"study {spec.name!r} repeats a condition label")
    for claim in spec.claims:
        if claim.direction not in (">", "<", "~"):
            raise ValueError(f"claim {claim.text!r} of {spec.name!r}: direction must be '>', '<' or '~'")
        if not claim.source:
            raise ValueError(f"claim {claim.text!r} of {spec.name!r} names no source")
        for side in (claim.a, claim.b):
            if isinstance(side, str) and side != "chance" and side not in labels and spec.compute is None:
                raise ValueError(f"claim {claim.text!r} of {spec.name!r} names unknown condition {side!r}")
    return STUDIES.add(spec.name, spec)


def available() -> dict[str, str]:
    """Study names -> one-line descriptions, in registration order."""
    return {name: spec.description for name, spec in STUDIES.items()}


def get(name: str) -> StudySpec:
    """The registered :class:`StudySpec` called ``name`` (unknown names: one-sentence UserError)."""
    return STUDIES.get(name)
