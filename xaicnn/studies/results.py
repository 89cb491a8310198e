"""From a study's checkpoints to numbers: per-run metrics, the per-condition table, the claims' verdicts.

Checkpoints are read as plain dicts (no model is built), so a study of 100M-parameter runs tabulates
in seconds. Every metric is a function of one checkpoint; a condition's row is the summary
(:func:`xaicnn.studies.stats.summarize`) of its runs' values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import stats
from .spec import StudySpec


@dataclass(frozen=True)
class Metric:
    label: str  # column title in the report
    fmt: str  # format of one value ("{:.3f}")
    fn: Callable[[dict], float | None]  # raw checkpoint dict -> value (None: not available)
    exact: bool = False  # the same for every seed (params, FLOPs): shown once, checked exactly
    scale: str = "difference"  # how two conditions compare: "difference" or "ratio" (timings, sizes)
    learned: bool = True  # depends on what the net learned: meaningless for a net at chance or still improving
    timing: bool = False  # measured on this hardware: not comparable with another machine's figure


def _last(key: str):
    return lambda s: s["history"][-1].get(key) if s["history"] else None


def _best(key: str):
    def fn(s):
        values = [h[key] for h in s["history"] if h.get(key) is not None]
        return max(values) if values else None

    return fn


def _summary(key: str):
    """A fact of :func:`xaicnn.training.run_summary.summarize_run`: one definition for the app, inspect and here."""
    def fn(s: dict):
        from ..training.run_summary import summarize_run

        return getattr(summarize_run(s), key)

    return fn


def first_weight(state: dict) -> str | None:
    """Name of the first weight tensor of a conv or linear layer (the 'first layer' of gradient plots)."""
    gf = state.get("gradient_flow") or {}
    weights = state.get("model", {})
    for name in gf.get("names", []):
        t = weights.get(name)
        if t is not None and getattr(t, "ndim", 0) > 1:
            return name
    return None


def _grad_first(s: dict) -> float | None:
    """log10 of the mean |gradient| of the first layer's weights, averaged over epochs.

    Mean |g| rather than the L2 norm, so nets whose first layers have different widths compare on the
    same scale; log10 because vanishing gradients differ by orders of magnitude (and a t-test on logs
    compares ratios)."""
    gf = s.get("gradient_flow") or {}
    name = first_weight(s)
    if name is None or not gf.get("epochs"):
        return None
    i = gf["names"].index(name)
    from ..training.gradient_flow import STATS

    k = STATS.index("mean_abs")
    values = [epoch[k][i] for epoch in gf["epochs"]]
    mean = sum(values) / len(values)
    return math.log10(mean) if mean > 0 else -math.inf


METRICS: dict[str, Metric] = {
    "final_acc": Metric("final val accuracy", "{:.3f}", _last("val_acc")),
    "best_acc": Metric("best val accuracy", "{:.3f}", _best("val_acc")),
    "precision": Metric("final macro precision", "{:.3f}", _last("precision")),
    "recall": Metric("final macro recall", "{:.3f}", _last("recall")),
    "final_train_loss": Metric("final train loss", "{:.3f}", _last("train_loss")),
    "final_train_acc": Metric("final train accuracy", "{:.3f}", _last("train_acc")),
    "gap": Metric("train - val accuracy", "{:+.3f}", lambda s: (s["history"][-1]["train_acc"] - s["history"][-1]["val_acc"])
                  if s["history"] and s["history"][-1].get("train_acc") is not None
                  and s["history"][-1].get("val_acc") is not None else None),
    "last_gain": Metric("last epoch's gain in val accuracy", "{:+.3f}", _summary("last_gain"), learned=False),
    "sec_per_epoch": Metric("seconds/epoch (training only, after the first)", "{:.2f}", _summary("seconds_per_epoch"),
                            scale="ratio", learned=False, timing=True),
    "total_time": Metric("training time (s)", "{:.1f}", lambda s: s["meta"].get("wall_time"), scale="ratio",
                         learned=False, timing=True),
    "grad_first": Metric("log10 mean |grad| of the first layer", "{:.2f}", _grad_first),
    "params": Metric("parameters", "{:,.0f}", lambda s: s["meta"].get("params"), exact=True, scale="ratio",
                     learned=False),
    "flops": Metric("FLOPs/image", "{:,.0f}", lambda s: s["meta"].get("flops"), exact=True, scale="ratio",
                    learned=False),
}
TABLE_METRICS = ("final_acc", "best_acc", "last_gain", "final_train_loss", "sec_per_epoch", "total_time", "params",
                 "flops")


def run_record(state: dict, condition: str, path: Path) -> dict:
    """One run's row: condition, seed, status, epochs and every metric."""
    meta = state["meta"]
    row = {"condition": condition, "run": path.stem, "seed": meta.get("seed"), "status": meta.get("status"),
           "epochs": meta.get("epochs_done"), "arch": meta.get("arch"), "dataset": meta.get("dataset"),
           "train_images": meta.get("train_images"), "val_images": meta.get("val_images"),
           "num_classes": meta.get("num_classes")}
    for key, metric in METRICS.items():
        value = metric.fn(state)
        row[key] = None if value is None else float(value)
    return row


def condition_table(spec: StudySpec, records: list[dict]) -> list[dict]:
    """One row per condition: arch, n, and for each metric its mean, std, 95% CI (exact ones: the value)."""
    rows = []
    for c in spec.conditions:
        mine = [r for r in records if r["condition"] == c.label]
        row = {"condition": c.label, "title": c.name, "arch": c.arch, "augment": c.augment, "n": len(mine),
               "statuses": sorted({r["status"] for r in mine})}
        for key in TABLE_METRICS + ("grad_first",):
            s = stats.summarize([r[key] for r in mine if r.get(key) is not None])
            if METRICS[key].exact:
                row[key] = int(s.mean) if s.n else None
            else:
                row.update({f"{key}_{k}": v for k, v in s.to_dict().items()})
        rows.append(row)
    return rows


def exact_values(spec: StudySpec) -> dict:
    """label -> params / FLOPs of each condition's architecture at the original settings (full preset, the
    original dataset's input), measured on the meta device - what the exact claims compare."""
    from .. import data, models
    from ..models.complexity import complexity

    import torch

    needed = {(c.a, c.metric) for c in spec.claims if c.kind == "exact"}
    needed |= {(c.b, c.metric) for c in spec.claims if c.kind == "exact" and isinstance(c.b, str)}
    out = {}
    info = data.info(spec.dataset)
    for label, metric in sorted(needed):
        cond = spec.condition(label)
        _, options = spec.settings(cond, "full")
        size = spec.image_size or info.image_size[0]
        size = max(size, models.min_image_size(cond.arch, in_channels=info.in_channels, **options))
        with torch.device("meta"):
            model = models.create(cond.arch, in_channels=info.in_channels, num_classes=info.num_classes,
                                  image_size=size, **options)
        report = complexity(model, (info.in_channels, size, size))
        out.setdefault(metric, {})[label] = report.params if metric == "params" else report.flops
    return out
