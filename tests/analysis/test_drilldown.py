"""Drill-down from a confusion cell or a run pair to the validation images behind it."""
import numpy as np
import pytest

from xaicnn.analysis.drilldown import cell_indices, disagreement, predictions_table
from xaicnn.analysis.metrics import evaluation_from_predictions
from xaicnn.errors import UserError

CLASSES = ["a", "b", "c"]
Y = np.array([0, 0, 1, 1, 2, 2, 2])


def ev(name, pred, probs=None):
    return evaluation_from_predictions(Y, np.array(pred), CLASSES, name=name, probabilities=probs)


def test_cell_indices_are_exactly_what_the_confusion_cell_counts():
    e = ev("r", [0, 1, 1, 2, 2, 0, 2])
    for t in range(3):
        for p in range(3):
            assert len(cell_indices(e, t, p)) == e.confusion[t, p]
    assert cell_indices(e, 0, 1).tolist() == [1] and cell_indices(e, 2, 0).tolist() == [5]


def test_disagreement_sets_partition_the_errors():
    a, b = ev("A", [0, 1, 1, 2, 2, 0, 2]), ev("B", [0, 0, 0, 0, 2, 2, 1])
    d = disagreement(a, b)
    assert d.a_right_b_wrong.tolist() == [2, 6] and d.b_right_a_wrong.tolist() == [1, 5]
    assert d.both_wrong.tolist() == [3]
    assert d.counts() == {"A right, B wrong": 2, "B right, A wrong": 2, "both wrong": 1, "images": 7}
    # every image A gets wrong is either right in B or wrong in both
    wrong_a = set(np.flatnonzero(a.y_pred != Y))
    assert wrong_a == set(d.b_right_a_wrong) | set(d.both_wrong)


def test_table_shows_each_runs_prediction_and_probability():
    probs = np.full((7, 3), 0.1, dtype=np.float32)
    probs[np.arange(7), [0, 1, 1, 2, 2, 0, 2]] = 0.8
    rows = predictions_table([ev("A", [0, 1, 1, 2, 2, 0, 2], probs), ev("B", [0, 0, 0, 1, 2, 2, 1])], [1, 5])
    assert rows[0] == {"index": 1, "label": "a", "A: prediction": "b", "A: probability": pytest.approx(0.8),
                       "B: prediction": "a", "B: probability": None}


def test_runs_on_other_images_are_refused_in_one_sentence():
    other = evaluation_from_predictions(Y[::-1].copy(), Y[::-1].copy(), CLASSES, name="other")
    with pytest.raises(UserError, match="not scored on the same validation images"):
        disagreement(ev("A", list(Y)), other)
