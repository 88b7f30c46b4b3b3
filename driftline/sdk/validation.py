"""The validation gate: a candidate version is promoted only if, on the same held-out slice, it is not
worse than the version it would replace by more than a margin.

Scores use the monitor's own metric code (detectors/scoring.py): accuracy, and F1 as the performance
windows compute it (macro over the classes present, or the positive class alone); ROC AUC from a
positive-class score; MAE and RMSE for regression.
"""

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from detectors.scoring import classification_scores, mean_absolute_error, roc_auc, root_mean_squared_error
from schemas.lineage import LOWER_IS_BETTER, Metric, Validation
from schemas.types import Target


class GateConfig(BaseModel):
    """How a candidate is validated before it is promoted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: Metric = "accuracy"
    margin: float = Field(default=0.0, ge=0.0, description="how much worse than the serving version still passes")
    validation_examples: int = Field(default=500, ge=1, description="the most recent labelled examples, held out")
    min_training_examples: int = Field(default=100, ge=1, description="a candidate trained on fewer is rejected")
    positive_class: str | float | None = Field(default=None, description="F1 of this class alone; ROC AUC's positive")


def evaluate(metric: Metric, predictions: Sequence[Target], labels: Sequence[Target],
             scores: Sequence[float | None] | None = None, positive_class: str | float | None = None) -> float:
    """`metric` of predictions against labels (`scores`: each prediction's positive-class probability,
    for ROC AUC; a missing score counts as 0.5)."""
    if len(predictions) != len(labels):
        raise ValueError(f"{len(predictions)} predictions for {len(labels)} labels")
    if not labels:
        raise ValueError("nothing to score: the validation slice is empty")
    if metric in ("mae", "rmse"):
        errors = np.array([float(p) - float(y) for p, y in zip(predictions, labels, strict=True)])  # type: ignore[arg-type]
        return mean_absolute_error(errors) if metric == "mae" else root_mean_squared_error(errors)
    if metric == "roc_auc":
        if scores is None:
            raise ValueError("ROC AUC needs scores: the learner's score() gave none")
        positive = positive_class if positive_class is not None else _positive_of(labels)
        given = np.array([0.5 if s is None else s for s in scores], dtype=np.float64)
        return roc_auc(given, np.array([y == positive for y in labels]))
    classes = {c: k for k, c in enumerate(dict.fromkeys([*labels, *predictions]))}
    tp, predicted, labelled = (np.zeros((1, len(classes)), dtype=np.int64) for _ in range(3))
    for p, y in zip(predictions, labels, strict=True):
        predicted[0, classes[p]] += 1
        labelled[0, classes[y]] += 1
        tp[0, classes[y]] += p == y
    present = (predicted + labelled) > 0
    if positive_class is not None:
        present[:] = False
        if positive_class in classes:
            present[0, classes[positive_class]] = True
    result = classification_scores(tp, predicted, labelled, present)
    return float(result.accuracy[0] if metric == "accuracy" else result.f1[0])


def _positive_of(labels: Sequence[Target]) -> Target:
    """Without a configured positive class: 1.0 for 0/1 labels, else the rarer of two classes."""
    seen = set(labels)
    if seen <= {0.0, 1.0}:
        return 1.0
    if len(seen) != 2:
        raise ValueError("ROC AUC needs two classes, or a positive_class")
    return min(seen, key=lambda c: (list(labels).count(c), str(c)))


def decide(config: GateConfig, candidate: float, serving: float | None, slice_size: int, trained_on: int
           ) -> Validation:
    """Passed when the candidate was trained on enough examples and there is no serving score to beat, or
    the candidate is within the margin of it."""
    if trained_on < config.min_training_examples:
        passed = False
    elif serving is None:
        passed = True
    elif config.metric in LOWER_IS_BETTER:
        passed = candidate <= serving + config.margin
    else:
        passed = candidate >= serving - config.margin
    return Validation(metric=config.metric, candidate_score=candidate, serving_score=serving, slice_size=slice_size,
                      margin=config.margin, passed=passed)
