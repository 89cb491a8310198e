"""Evaluation of a trained run: accuracy, macro/weighted and per-class precision/recall/F1, the
confusion matrix (counts and row-normalised) and the most confused class pairs.

scikit-learn computes every number (``precision_recall_fscore_support``, ``confusion_matrix``,
``classification_report``), so the figures here are the ones a reader can reproduce with it.
``evaluate(run)`` predicts on the run's validation split; ``evaluation_from_predictions`` is the pure
part (labels and predictions in, :class:`Evaluation` out) and ``most_confused_pairs`` the pure summary
of a confusion matrix.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError


@dataclass
class ClassMetrics:
    """One class's row of the report (support = number of true examples of the class)."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class ConfusedPair:
    """``count`` examples of class ``true`` were predicted as ``predicted``; ``share`` = count / support of ``true``."""

    true: str
    predicted: str
    count: int
    share: float


@dataclass
class Evaluation:
    """Everything ``xaicnn evaluate`` reports about one run on one split.

    ``confusion`` is int64 [K, K] (rows: true class, columns: predicted class, in ``classes`` order);
    ``confusion_normalized`` is float [K, K], each row divided by its support (a row of zeros for a class
    absent from the data). ``y_true`` / ``y_pred`` are int64 [N].
    """

    name: str
    classes: list[str]
    y_true: np.ndarray = field(repr=False)
    y_pred: np.ndarray = field(repr=False)
    accuracy: float
    macro: dict[str, float]  # precision, recall, f1 (unweighted mean over classes)
    weighted: dict[str, float]  # the same, weighted by support
    per_class: list[ClassMetrics]
    confusion: np.ndarray = field(repr=False)
    confusion_normalized: np.ndarray = field(repr=False)
    most_confused: list[ConfusedPair]
    loss: float | None = None  # mean cross-entropy, when logits were available
    report: str = field(default="", repr=False)  # scikit-learn's classification_report text
    probabilities: np.ndarray | None = field(default=None, repr=False)  # float32 [N, K] softmax, when logits were available

    @property
    def size(self) -> int:
        return int(len(self.y_true))

    def to_dict(self) -> dict:
        """JSON-able record: every number above (not the raw predictions)."""
        return {
            "name": self.name, "size": self.size, "classes": list(self.classes), "accuracy": self.accuracy,
            "loss": self.loss, "macro": dict(self.macro), "weighted": dict(self.weighted),
            "per_class": [vars(c).copy() for c in self.per_class],
            "confusion": self.confusion.tolist(),
            "confusion_normalized": [[round(float(v), 6) for v in row] for row in self.confusion_normalized],
            "most_confused": [vars(p).copy() for p in self.most_confused],
        }


def most_confused_pairs(confusion, classes: list[str], k: int = 10) -> list[ConfusedPair]:
    """The ``k`` largest off-diagonal cells of ``confusion`` [K, K] (rows true, columns predicted).

    Ties are broken by the larger share of the true class, then by class order, so the list is
    deterministic. Cells with a zero count are never listed (a perfect classifier gives ``[]``).
    """
    cm = np.asarray(confusion)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(classes):
        raise ValueError(f"confusion must be [K, K] with K = {len(classes)} classes; got shape {cm.shape}")
    support = cm.sum(axis=1)
    cells = [(int(cm[i, j]), cm[i, j] / support[i], i, j)
             for i in range(len(classes)) for j in range(len(classes)) if i != j and cm[i, j] > 0]
    cells.sort(key=lambda c: (-c[0], -c[1], c[2], c[3]))
    return [ConfusedPair(classes[i], classes[j], count, float(share)) for count, share, i, j in cells[:k]]


def evaluation_from_predictions(y_true, y_pred, classes: list[str], *, name: str = "", loss: float | None = None,
                                top_k: int = 10, probabilities=None) -> Evaluation:
    """:class:`Evaluation` of integer predictions ``y_pred`` [N] against labels ``y_true`` [N] (class indices
    into ``classes``). Classes missing from the data still get a row (support 0, scores 0)."""
    from sklearn.metrics import classification_report, confusion_matrix, precision_recall_fscore_support

    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if len(y_true) == 0:
        raise UserError("There are no examples to evaluate; pass a data split with at least one image.")
    labels = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    averages = {}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average, zero_division=0)
        averages[average] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    rows = cm.sum(axis=1, keepdims=True)
    normalized = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    per_class = [ClassMetrics(str(c), float(p), float(r), float(f), int(s))
                 for c, p, r, f, s in zip(classes, precision, recall, f1, support)]
    report = classification_report(y_true, y_pred, labels=labels, target_names=[str(c) for c in classes],
                                   digits=4, zero_division=0)
    return Evaluation(name=name, classes=[str(c) for c in classes], y_true=y_true, y_pred=y_pred,
                      accuracy=float((y_true == y_pred).mean()), macro=averages["macro"], weighted=averages["weighted"],
                      per_class=per_class, confusion=cm, confusion_normalized=normalized,
                      most_confused=most_confused_pairs(cm, [str(c) for c in classes], top_k), loss=loss, report=report,
                      probabilities=None if probabilities is None else np.asarray(probabilities, dtype=np.float32))


def evaluate(run, data=None, *, batch_size: int | None = None) -> Evaluation:
    """Evaluate ``run`` (a :class:`~xaicnn.training.Run`) on ``data`` (an :class:`~xaicnn.data.ImageData`;
    default: ``run.val_data()``, the same validation subset the run was scored on during training).

    Predictions are the argmax of the model's logits [N, K] for ``run.normalize(data.images)``.
    """
    import torch
    import torch.nn.functional as F

    from ..training.evaluation import predict

    data = data if data is not None else run.val_data()
    if list(map(str, data.classes)) != list(map(str, run.classes)):
        raise UserError(f"The data's classes ({len(data.classes)}, {data.name}) are not the classes {run.name} was "
                        f"trained on ({len(run.classes)}, {run.meta.get('dataset')}); evaluate on the run's own dataset.")
    if len(data) == 0:
        raise UserError(f"There are no images to evaluate {run.name} on; pass a data split with at least one image.")
    with torch.no_grad():
        logits = predict(run.model, data.images, run.normalize, batch_size=batch_size)
    labels = data.labels.long()
    loss = float(F.cross_entropy(logits, labels).item())
    return evaluation_from_predictions(labels.numpy(), logits.argmax(1).numpy(), run.classes, name=run.name, loss=loss,
                                       probabilities=logits.float().softmax(1).numpy())


def format_evaluation(ev: Evaluation) -> str:
    """Terminal rendering: headline scores, the most confused pairs, the per-class table."""
    pct = lambda v: f"{100 * v:6.2f}%"  # noqa: E731
    lines = [f"{ev.name}: {ev.size:,} images, {len(ev.classes)} classes",
             f"  accuracy {pct(ev.accuracy)}" + (f"   loss {ev.loss:.4f}" if ev.loss is not None else ""),
             "                precision  recall      F1"]
    for key, scores in (("macro", ev.macro), ("weighted", ev.weighted)):
        lines.append(f"  {key:<12} {pct(scores['precision'])} {pct(scores['recall'])} {pct(scores['f1'])}")
    lines += ["", "  most confused pairs (true -> predicted, count, share of the true class):"]
    if not ev.most_confused:
        lines.append("    none: every image was classified correctly")
    for p in ev.most_confused:
        lines.append(f"    {p.true:>12} -> {p.predicted:<12} {p.count:>6}  {pct(p.share)}")
    width = max(8, *(len(c.name) for c in ev.per_class))
    lines += ["", f"  {'class':<{width}}  precision  recall      F1  support"]
    for c in ev.per_class:
        lines.append(f"  {c.name:<{width}}  {pct(c.precision)} {pct(c.recall)} {pct(c.f1)}  {c.support:>7}")
    return "\n".join(lines)
