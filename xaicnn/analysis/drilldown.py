"""From a number to its images: the validation images behind a confusion-matrix cell, and the images two runs
disagree on - what the app's Confusion page opens when a cell or a run pair is picked.

Pure functions over :class:`xaicnn.analysis.metrics.Evaluation` objects (labels, predictions and softmax
probabilities of each run on its validation split); nothing is recomputed. Runs compared image by image
must have been scored on the same images: same labels in the same order (:func:`check_same_images`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError


def check_same_images(evaluations) -> None:
    """One sentence unless every evaluation scored the same labels in the same order (same data, same subset)."""
    first = evaluations[0]
    for ev in evaluations[1:]:
        if ev.classes != first.classes or len(ev.y_true) != len(first.y_true) or not np.array_equal(ev.y_true,
                                                                                                  first.y_true):
            raise UserError(f"{ev.name} and {first.name} were not scored on the same validation images; compare runs "
                            f"trained on the same dataset and subset.")


def cell_indices(evaluation, true_class: int, predicted_class: int) -> np.ndarray:
    """Validation indices [M] of the images of ``true_class`` that the run predicted as ``predicted_class``
    (the confusion matrix's cell [true_class, predicted_class] counts exactly these)."""
    return np.flatnonzero((evaluation.y_true == true_class) & (evaluation.y_pred == predicted_class))


@dataclass(frozen=True)
class Disagreement:
    """Images two runs (a, b) scored on the same validation split disagree on, as validation indices."""

    a: str
    b: str
    a_right_b_wrong: np.ndarray
    b_right_a_wrong: np.ndarray
    both_wrong: np.ndarray  # wrong in both (possibly with different predictions)
    images: int  # size of the split

    def counts(self) -> dict:
        return {f"{self.a} right, {self.b} wrong": int(len(self.a_right_b_wrong)),
                f"{self.b} right, {self.a} wrong": int(len(self.b_right_a_wrong)),
                "both wrong": int(len(self.both_wrong)), "images": self.images}


def disagreement(a, b) -> Disagreement:
    """Where run ``a`` is right and ``b`` wrong, and the reverse (McNemar's discordant pairs)."""
    check_same_images([a, b])
    right_a, right_b = a.y_pred == a.y_true, b.y_pred == b.y_true
    return Disagreement(a.name, b.name, np.flatnonzero(right_a & ~right_b), np.flatnonzero(right_b & ~right_a),
                        np.flatnonzero(~right_a & ~right_b), len(a.y_true))


def predictions_table(evaluations, indices) -> list[dict]:
    """One row per image in ``indices``: its index and true class, then per run the predicted class and that
    prediction's probability (``None`` where the evaluation kept no probabilities)."""
    check_same_images(evaluations)
    classes = evaluations[0].classes
    rows = []
    for i in np.asarray(indices, dtype=np.int64):
        row = {"index": int(i), "label": classes[int(evaluations[0].y_true[i])]}
        for ev in evaluations:
            pred = int(ev.y_pred[i])
            prob = None if ev.probabilities is None else float(ev.probabilities[i, pred])
            row[f"{ev.name}: prediction"] = classes[pred]
            row[f"{ev.name}: probability"] = prob
        rows.append(row)
    return rows
