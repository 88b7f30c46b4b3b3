"""Performance metrics of labelled predictions, from counts: pure numpy.

Classification metrics come from per-class counts (right predictions, predictions of the class,
labels of the class), one row per window. Precision, recall and F1 follow scikit-learn's
`zero_division=0`: a class never predicted has precision 0, and macro averages run over the classes
that appear in the window's predictions or labels (the caller marks them). F1 of a class is
2 tp / (predicted + labelled), which equals 2PR / (P + R) wherever that is defined.

>>> import numpy as np
>>> from detectors.scoring import classification_scores
>>> tp, predicted, labelled = np.array([[8, 1]]), np.array([[10, 2]]), np.array([[9, 3]])
>>> scores = classification_scores(tp, predicted, labelled, averaged=(predicted + labelled) > 0)
>>> [round(float(v[0]), 4) for v in (scores.accuracy, scores.precision, scores.recall, scores.f1)]
[0.75, 0.65, 0.6111, 0.6211]
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Counts = npt.NDArray[np.int64]
Rows = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ClassificationScores:
    """One value per row."""

    accuracy: Rows
    precision: Rows
    recall: Rows
    f1: Rows


def classification_scores(tp: Counts, predicted: Counts, labelled: Counts, averaged: npt.NDArray[np.bool_]
                          ) -> ClassificationScores:
    """Accuracy, and precision, recall and F1 averaged over the classes marked in `averaged` (macro: the
    classes present in the row; one class: that class's own). Arrays are (rows, classes)."""
    n = labelled.sum(axis=1)
    accuracy = tp.sum(axis=1) / np.maximum(n, 1)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, labelled)
    f1 = _ratio(2 * tp, predicted + labelled)
    present = averaged
    classes = np.maximum(present.sum(axis=1), 1)
    return ClassificationScores(accuracy, (precision * present).sum(axis=1) / classes,
                                (recall * present).sum(axis=1) / classes, (f1 * present).sum(axis=1) / classes)


def _ratio(numerator: Counts, denominator: Counts) -> Rows:
    ratio: Rows = np.divide(numerator, denominator, out=np.zeros(numerator.shape), where=denominator > 0)
    return ratio


def mean_absolute_error(errors: Rows) -> float:
    return float(np.abs(errors).mean()) if errors.size else 0.0


def root_mean_squared_error(errors: Rows) -> float:
    return float(np.sqrt(np.square(errors).mean())) if errors.size else 0.0


def roc_auc(scores: Rows, positives: npt.NDArray[np.bool_]) -> float:
    """Area under the ROC curve: the chance a positive scores above a negative, ties counting half
    (Mann-Whitney from average ranks). 0.5 where either class is absent."""
    n_pos = int(positives.sum())
    n_neg = positives.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return 0.5
    order = np.argsort(scores, kind="mergesort")
    ranked = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    ends = np.r_[starts[1:], scores.size]
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0  # the average of 1-based ranks start+1 .. end
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
