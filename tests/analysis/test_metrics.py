import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from xaicnn.analysis.metrics import evaluate, evaluation_from_predictions, format_evaluation, most_confused_pairs
from xaicnn.data import ImageData
from xaicnn.errors import UserError
from xaicnn.training import TrainConfig, load_checkpoint, train

CLASSES = ["cat", "dog", "fox", "owl"]
# Class 3 (owl) never occurs in y_true but is predicted once: it must still get a row and a column.
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 1, 0])
Y_PRED = np.array([0, 0, 1, 2, 1, 1, 0, 2, 2, 1, 1, 3, 1, 0])


def test_numbers_match_scikit_learn():
    ev = evaluation_from_predictions(Y_TRUE, Y_PRED, CLASSES, name="fixed")
    labels = list(range(4))
    assert np.array_equal(ev.confusion, confusion_matrix(Y_TRUE, Y_PRED, labels=labels))
    assert ev.confusion.sum() == len(Y_TRUE) and ev.confusion[3].sum() == 0 and ev.confusion[:, 3].sum() == 1
    p, r, f, s = precision_recall_fscore_support(Y_TRUE, Y_PRED, labels=labels, zero_division=0)
    assert [c.name for c in ev.per_class] == CLASSES
    assert np.allclose([c.precision for c in ev.per_class], p) and np.allclose([c.recall for c in ev.per_class], r)
    assert np.allclose([c.f1 for c in ev.per_class], f) and [c.support for c in ev.per_class] == list(s) == [5, 4, 5, 0]
    for average in ("macro", "weighted"):
        expected = precision_recall_fscore_support(Y_TRUE, Y_PRED, labels=labels, average=average, zero_division=0)[:3]
        assert [ev.__dict__[average][k] for k in ("precision", "recall", "f1")] == pytest.approx(list(expected))
    assert ev.accuracy == pytest.approx(8 / 14)
    # rows normalised by support; the absent class's row is zeros, not NaN
    assert np.allclose(ev.confusion_normalized[:3].sum(1), 1) and not ev.confusion_normalized[3].any()
    assert ev.confusion_normalized[2, 1] == pytest.approx(2 / 5)
    assert "owl" in ev.report and "macro avg" in ev.report


def test_to_dict_is_json_and_complete():
    ev = evaluation_from_predictions(Y_TRUE, Y_PRED, CLASSES, name="fixed", loss=0.5)
    doc = json.loads(json.dumps(ev.to_dict()))
    assert doc["size"] == 14 and doc["classes"] == CLASSES and doc["loss"] == 0.5
    assert doc["confusion"] == confusion_matrix(Y_TRUE, Y_PRED, labels=range(4)).tolist()
    assert set(doc["macro"]) == set(doc["weighted"]) == {"precision", "recall", "f1"}
    assert doc["per_class"][1] == {"name": "dog", "precision": ev.per_class[1].precision, "recall": 0.75,
                                   "f1": ev.per_class[1].f1, "support": 4}
    assert doc["most_confused"][0] == {"true": "fox", "predicted": "dog", "count": 2, "share": 0.4}
    text = format_evaluation(ev)
    assert "fox -> dog" in text and "57.14%" in text


def test_most_confused_pairs_on_a_hand_made_matrix():
    cm = np.array([[50, 3, 0, 7],
                   [3, 40, 1, 0],
                   [0, 9, 10, 0],
                   [1, 0, 3, 20]])
    pairs = most_confused_pairs(cm, ["a", "b", "c", "d"], k=4)
    assert [(p.true, p.predicted, p.count) for p in pairs] == [("c", "b", 9), ("a", "d", 7), ("d", "c", 3), ("b", "a", 3)]
    # the 3-3-3 tie is broken by share of the true class: d->c 3/24 > b->a 3/44 > a->b 3/60
    assert pairs[0].share == pytest.approx(9 / 19) and pairs[2].share == pytest.approx(3 / 24)
    everything = most_confused_pairs(cm, list("abcd"), k=100)
    assert len(everything) == 7  # the non-zero off-diagonal cells only, diagonal never
    assert most_confused_pairs(np.diag([5, 6]), ["x", "y"]) == []
    with pytest.raises(ValueError):
        most_confused_pairs(cm, ["a", "b"])


class _PixelModel(torch.nn.Module):
    """Predicts the class written in each image's first pixel: logits = one_hot(pixel)."""

    def __init__(self, k):
        super().__init__()
        self.k = k
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return torch.nn.functional.one_hot(x[:, 0, 0, 0].round().long(), self.k).float() * 5 + self.dummy


def _fake_run_and_data(classes=CLASSES):
    images = torch.zeros(len(Y_PRED), 1, 2, 2, dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.from_numpy(Y_PRED).to(torch.uint8)
    data = ImageData("fake", "val", images, torch.from_numpy(Y_TRUE), tuple(classes), (0.0,), (1.0,))
    run = SimpleNamespace(model=_PixelModel(4), normalize=lambda x: x.float(), classes=list(CLASSES), name="fake",
                          meta={"dataset": "fake"}, val_data=lambda: data)
    return run, data


def test_evaluate_uses_the_models_predictions():
    run, data = _fake_run_and_data()
    ev = evaluate(run, batch_size=5)  # several batches; data defaults to run.val_data()
    assert np.array_equal(ev.y_pred, Y_PRED) and np.array_equal(ev.y_true, Y_TRUE)
    assert np.array_equal(ev.confusion, confusion_matrix(Y_TRUE, Y_PRED, labels=range(4)))
    expected_loss = torch.nn.functional.cross_entropy(torch.nn.functional.one_hot(torch.from_numpy(Y_PRED), 4).float() * 5,
                                                      torch.from_numpy(Y_TRUE))
    assert ev.loss == pytest.approx(expected_loss.item(), rel=1e-5)


def test_evaluate_refuses_data_of_other_classes_and_empty_data():
    run, data = _fake_run_and_data(classes=["a", "b", "c", "d"])
    with pytest.raises(UserError, match="not the classes"):
        evaluate(run, data)
    with pytest.raises(UserError, match="no examples"):
        evaluation_from_predictions([], [], CLASSES)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("metrics") / "vgg_block.pt"
    config = TrainConfig(arch="vgg_block", dataset="digits", epochs=2, batch_size=32, train_size=200, val_size=100,
                         precision="fp32", out=str(out))
    return load_checkpoint(train(config, progress=False, log=lambda *a, **k: None))


def test_evaluate_a_trained_run_reproduces_its_last_validation_scores(tiny_run):
    ev = evaluate(tiny_run)
    last = tiny_run.history[-1]
    assert ev.size == 100 and ev.classes == [str(i) for i in range(10)]
    assert ev.accuracy == pytest.approx(last["val_acc"], abs=1e-6)
    assert ev.macro["f1"] == pytest.approx(last["f1"], abs=1e-6)
    assert ev.loss == pytest.approx(last["val_loss"], rel=1e-4)
