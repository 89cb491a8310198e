"""A run's facts, computed once from its checkpoint: what the app's Overview, ``xaicnn inspect`` and the
studies all show, so a number means the same thing everywhere.

Timing has one definition here: **seconds per epoch = training time of a full epoch (forward, backward and
optimiser steps; validation excluded), averaged over the epochs after the first** - the first epoch also
pays one-off warm-up (oneDNN chooses kernels on the first batches, caches fill), and a run stopped by its
time budget leaves a partial epoch that is not an epoch's worth of work. With a single full epoch, that
epoch is the figure. Checkpoints written before ``train_seconds`` was recorded fall back to the epoch's
``seconds`` (which include validation); :attr:`RunSummary.timing_note` says which was used.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

SECONDS_PER_EPOCH = "training only (no validation), mean over the epochs after the first"


def whole_split(history: list[dict], meta: dict) -> list[dict]:
    """The epochs whose validation metrics cover the whole validation split: a ``--val-subset`` run evaluates
    a subset after each epoch but the last, a progress reading that best-of figures leave out."""
    n = meta.get("val_images")
    return [h for h in history if h.get("val_images") in (None, n)]


@dataclass(frozen=True)
class RunSummary:
    """The facts of one run. Accuracies are fractions (0..1), times seconds, gradients L2 norms."""

    arch: str
    dataset: str
    status: str
    seed: int | None
    epochs: int  # full epochs done
    params: int | None
    flops: int | None  # per image (2 x MACs)
    best_val_acc: float | None
    last_val_acc: float | None
    last_gain: float | None  # last epoch's val accuracy minus the best earlier one: > 0 while still improving
    macro_f1: float | None  # of the last epoch: the weights the checkpoint holds
    final_train_loss: float | None
    final_train_acc: float | None
    seconds_per_epoch: float | None  # see the module docstring (SECONDS_PER_EPOCH)
    total_time: float | None  # wall time of the whole run, validation and checkpointing included
    timing_note: str = SECONDS_PER_EPOCH
    gradient: dict = field(default_factory=dict)  # {"first"|"middle"|"last": (parameter name, last epoch's norm)}

    def to_dict(self) -> dict:
        return asdict(self)


def seconds_per_epoch(history: list[dict]) -> tuple[float | None, str]:
    """(seconds per epoch by the one definition, the note saying what was measured)."""
    full = [h for h in history if not h.get("partial")]
    key = "train_seconds" if full and all(h.get("train_seconds") is not None for h in full) else "seconds"
    values = [h[key] for h in full if h.get(key) is not None]
    values = values[1:] if len(values) > 1 else values
    note = SECONDS_PER_EPOCH if key == "train_seconds" else "whole epoch incl. validation (older checkpoint)"
    return (sum(values) / len(values) if values else None), note


def _gradient(state: dict) -> dict:
    gf = state.get("gradient_flow") or {}
    names, epochs = gf.get("names") or [], gf.get("epochs") or []
    if not names or not epochs:
        return {}
    from .gradient_flow import STATS

    k = STATS.index("norm")
    last = epochs[-1][k]
    picks = {"first": 0, "middle": len(names) // 2, "last": len(names) - 1}
    return {where: (names[i], float(last[i])) for where, i in picks.items()}


def summarize_run(state: dict) -> RunSummary:
    """``state``: a checkpoint dict as :func:`xaicnn.training.checkpoint.read_checkpoint` returns it (no model
    is built)."""
    meta, history = state["meta"], list(state.get("history") or [])
    full = [h for h in history if not h.get("partial")]
    accs = [h["val_acc"] for h in whole_split(history, meta) if h.get("val_acc") is not None]
    seconds, note = seconds_per_epoch(history)
    last = history[-1] if history else {}
    gain = accs[-1] - max(accs[:-1]) if len(accs) > 1 else None
    return RunSummary(
        arch=meta["arch"], dataset=meta["dataset"], status=meta["status"], seed=meta.get("seed"), epochs=len(full),
        params=meta.get("params"), flops=meta.get("flops"),
        best_val_acc=max(accs) if accs else None, last_val_acc=accs[-1] if accs else None, last_gain=gain,
        macro_f1=last.get("f1"), final_train_loss=last.get("train_loss"), final_train_acc=last.get("train_acc"),
        seconds_per_epoch=seconds, total_time=meta.get("wall_time"), timing_note=note, gradient=_gradient(state))
