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
from .spec import Claim, StudySpec


@dataclass(frozen=True)
class Metric:
    label: str  # column title in the report
    fmt: str  # format of one value ("{:.3f}")
    fn: Callable[[dict], float | None]  # raw checkpoint dict -> value (None: not available)
    exact: bool = False  # the same for every seed (params, FLOPs): shown once, checked exactly


def _last(key: str):
    return lambda s: s["history"][-1].get(key) if s["history"] else None


def _best(key: str):
    def fn(s):
        values = [h[key] for h in s["history"] if h.get(key) is not None]
        return max(values) if values else None

    return fn


def _sec_per_epoch(s: dict) -> float | None:
    # Training time of full epochs (a budget stop leaves a partial one), evaluation excluded, as a stopwatch
    # around the training loop measures it; the first epoch only when it is the only one, since it also
    # pays for one-off warm-up (oneDNN picks its kernels on the first batches).
    values = [h.get("train_seconds", h["seconds"]) for h in s["history"] if not h.get("partial")]
    values = values[1:] if len(values) > 1 else values
    return sum(values) / len(values) if values else None


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
    "sec_per_epoch": Metric("seconds/epoch", "{:.2f}", _sec_per_epoch),
    "total_time": Metric("training time (s)", "{:.1f}", lambda s: s["meta"].get("wall_time")),
    "grad_first": Metric("log10 mean |grad| of the first layer", "{:.2f}", _grad_first),
    "params": Metric("parameters", "{:,.0f}", lambda s: s["meta"].get("params"), exact=True),
    "flops": Metric("FLOPs/image", "{:,.0f}", lambda s: s["meta"].get("flops"), exact=True),
}
TABLE_METRICS = ("final_acc", "best_acc", "sec_per_epoch", "total_time", "params", "flops")


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


def _values(records: list[dict], label: str, metric: str) -> list[float]:
    return [r[metric] for r in records if r["condition"] == label and r.get(metric) is not None]


def evaluate_claim(claim: Claim, records: list[dict], exact_values: dict | None = None) -> dict:
    """The verdict of one claim against our runs (or, for exact claims, ``exact_values``: label -> value).

    Returns ``{claim, metric, a, b, direction, original, ours, p_value, verdict, test, difference}``;
    ``ours`` is a short human-readable statement of our numbers.
    """
    metric = METRICS[claim.metric]
    out = {"claim": claim.text, "metric": claim.metric, "a": claim.a, "b": claim.b, "direction": claim.direction,
           "original": claim.original, "kind": claim.kind, "p_value": None, "difference": None}
    if claim.kind == "exact":
        return {**out, **_exact(claim, metric, exact_values or {})}
    a = _values(records, claim.a, claim.metric)
    if claim.b == "chance" or isinstance(claim.b, (int, float)):
        classes = next((r["num_classes"] for r in records if r.get("num_classes")), None)
        threshold = float(claim.b) if claim.b != "chance" else (1 / classes if classes else math.nan) + claim.margin
        b = threshold
        b_text = f"chance + {claim.margin:g} = {threshold:.3f}" if claim.b == "chance" else f"{threshold:g}"
    else:
        b = _values(records, claim.b, claim.metric)
        b_text = _mean_text(metric, b)
    v = stats.verdict(a, b, claim.direction)
    ours = f"{_mean_text(metric, a)} vs {b_text}"
    return {**out, "ours": ours, "p_value": v.p_value, "verdict": v.verdict, "test": v.test, "difference": v.difference,
            "n": [len(a), len(b) if isinstance(b, list) else None]}


def _exact(claim: Claim, metric: Metric, values: dict) -> dict:
    ours = [values.get(claim.a)] + ([values.get(claim.b)] if isinstance(claim.b, str) else [])
    if any(v is None for v in ours):
        return {"ours": "not computed", "verdict": stats.NO_DATA, "test": "exact"}
    checks = [stats.exact_verdict(o, e, claim.rel_tol) == stats.CONFIRMED for o, e in zip(ours, claim.expected)]
    if isinstance(claim.b, (int, float)) and not isinstance(claim.b, bool):
        ours_b = float(claim.b)
        checks.append(ours[0] > ours_b if claim.direction == ">" else ours[0] < ours_b)
    elif len(ours) == 2:
        checks.append(ours[0] > ours[1] if claim.direction == ">" else ours[0] < ours[1])
    text = " vs ".join(metric.fmt.format(v) for v in ours)
    if isinstance(claim.b, (int, float)) and not isinstance(claim.b, bool):
        text += f" (limit {metric.fmt.format(claim.b)})"
    return {"ours": text, "verdict": stats.CONFIRMED if all(checks) else stats.REFUTED,
            "test": "exact" if not claim.rel_tol else f"exact within {claim.rel_tol:.0%}",
            "difference": ours[0] - ours[1] if len(ours) == 2 else None}


def _mean_text(metric: Metric, values: list[float]) -> str:
    if not values:
        return "no runs"
    s = stats.summarize(values)
    if s.n == 1:
        return f"{metric.fmt.format(s.mean)} (n=1)"
    return f"{metric.fmt.format(s.mean)} +- {metric.fmt.format(s.std)} (n={s.n})"


def exact_values(spec: StudySpec) -> dict:
    """label -> params / FLOPs of each condition's architecture at the original settings (full preset, the
    original dataset's input), measured on the meta device - what the exact claims compare."""
    from .. import data, models
    from ..analysis.complexity import complexity

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
