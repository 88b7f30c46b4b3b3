"""Validated training: read the request's labelled data from Kafka, hold out its most recent slice,
fit a candidate on the rest, and promote it only if it scores no worse on that slice than the
serving version did (driftline/sdk/validation.py).

The serving version's score is that of the predictions it actually made on the slice, as logged with
each event: no copy of the serving model is needed, and it is scored on exactly what users saw.
A promoted version's deployment carries the validation slice as its reference, with the candidate's
own predictions and errors on it, so its monitoring starts mature and the post-deployment watch
knows the error rate it was validated at.
"""

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from detectors.reference import references_of
from driftline.sdk.registry import ModelRegistry
from driftline.sdk.trainer import RejectedModel, TrainedModel
from driftline.sdk.validation import GateConfig, decide, evaluate
from driftline.settings import Settings
from driftline.training_data import Example, TrainingSet, wait_for_examples
from schemas.events import PredictionEvent, RetrainRequest
from schemas.lineage import Lineage, Validation
from schemas.types import Target

log = logging.getLogger(__name__)


class Learner(Protocol):
    """How to fit a model and ask it for predictions."""

    def fit(self, examples: Sequence[Example]) -> Any: ...

    def predict(self, model: Any, example: Example) -> Target: ...

    def score(self, model: Any, example: Example) -> float | None:
        """The positive class's probability (ROC AUC), or None."""
        ...


ReadData = Callable[[RetrainRequest], TrainingSet]


class ValidatedTraining:
    """A Trainer function (`train`) and rollback function (`rollback`) over a Learner and a registry."""

    def __init__(self, learner: Learner, registry: ModelRegistry, gate: GateConfig | None = None, *,
                 settings: Settings | None = None, training_examples: int = 1_000, max_wait_seconds: float = 120.0,
                 skew_seconds: float = 300.0,
                 error_threshold: float | None = None, read: ReadData | None = None) -> None:
        self.settings = settings or Settings()
        self.learner = learner
        self.registry = registry
        self.gate = gate or GateConfig()
        self.training_examples = training_examples
        self.max_wait_seconds = max_wait_seconds
        self.skew_seconds = skew_seconds
        self.error_threshold = error_threshold
        self._read = read or self._from_kafka

    def _from_kafka(self, request: RetrainRequest) -> TrainingSet:
        """The earliest labelled examples since the request's window began (the new regime)."""
        return wait_for_examples(self.settings, request.model_id, request.window.from_ts,
                                 count=self.training_examples + self.gate.validation_examples,
                                 max_wait_seconds=self.max_wait_seconds, skew_seconds=self.skew_seconds)

    def train(self, request: RetrainRequest) -> TrainedModel | RejectedModel:
        found = self._read(request)
        if len(found.examples) < 2:
            raise RuntimeError(f"{len(found.examples)} labelled examples of {request.model_id} since "
                               f"{request.window.from_ts}: nothing to train and validate on")
        held_out = min(self.gate.validation_examples, len(found.examples) // 2)
        training, validation = found.split(held_out)
        data = found.data.model_copy(update={"validation_examples": len(validation)})
        model = self.learner.fit(training)
        registered = self.registry.register(request.model_id, model, request)
        verdict, guesses = self._validate(model, validation, len(training))
        lineage = Lineage(parent_version=request.model_version, request_id=request.request_id,
                          alert_ids=request.reasons[:100], training=data, validation=verdict)
        self.registry.conclude(request.model_id, registered, lineage, promoted=verdict.passed)
        log.info("%s %s version %s: %s %.4f against the serving %s on %d held-out examples (trained on %d)",
                 "promoting" if verdict.passed else "rejecting", request.model_id, registered.version,
                 verdict.metric, verdict.candidate_score, verdict.serving_score, verdict.slice_size, len(training))
        if not verdict.passed:
            return RejectedModel(candidate_version=registered.version, validation=verdict, lineage=lineage,
                                 model_uri=registered.uri, reason=_reason(verdict, len(training), self.gate))
        reference = references_of([_as_scored(request.model_id, registered.version, e, g)
                                   for e, g in zip(validation, guesses, strict=True)],
                                  error_threshold=self.error_threshold)
        return TrainedModel(model_version=registered.version, reference=reference or None, lineage=lineage,
                            model_uri=registered.uri)

    def rollback(self, request: RetrainRequest) -> TrainedModel:
        """Bring the recommended earlier version back: the registry's alias moves to it."""
        assert request.rollback_to is not None
        uri = self.registry.promote(request.model_id, request.rollback_to)
        return TrainedModel(model_version=request.rollback_to, model_uri=uri,
                            lineage=Lineage(parent_version=request.model_version, request_id=request.request_id,
                                            alert_ids=request.reasons[:100], rollback=True))

    def _validate(self, model: Any, validation: list[Example], trained_on: int) -> tuple[Validation, list[Target]]:
        gate = self.gate
        labels = [e.label for e in validation]
        guesses = [_target(self.learner.predict(model, e)) for e in validation]
        scores = [self.learner.score(model, e) for e in validation] if gate.metric == "roc_auc" else None
        candidate = evaluate(gate.metric, guesses, labels, scores, gate.positive_class)
        served_scores = [e.score if isinstance(e.score, float) else None for e in validation]
        try:
            serving: float | None = evaluate(gate.metric, [e.prediction for e in validation], labels,
                                             served_scores if gate.metric == "roc_auc" else None, gate.positive_class)
        except (TypeError, ValueError) as exc:  # e.g. no logged scores for ROC AUC
            log.warning("the serving version cannot be scored on the validation slice: %s", exc)
            serving = None
        return decide(gate, candidate, serving, len(validation), trained_on), guesses


def _target(guess: object) -> Target:
    """A learner's prediction as the wire takes it: numbers (numpy's, ints, bools) as floats, else text."""
    if isinstance(guess, str):
        return guess
    try:
        return float(guess)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(guess)


def _reason(verdict: Validation, trained_on: int, gate: GateConfig) -> str:
    if trained_on < gate.min_training_examples:
        return (f"trained on {trained_on} examples, fewer than the gate's minimum of {gate.min_training_examples} "
                f"({verdict.metric} {verdict.candidate_score:.4f} on {verdict.slice_size} held-out examples)")
    return (f"{verdict.metric} {verdict.candidate_score:.4f} on {verdict.slice_size} held-out examples is worse than "
            f"the serving version's {verdict.serving_score:.4f} by more than the margin {verdict.margin:g} "
            f"(trained on {trained_on} examples)")


def _as_scored(model_id: str, version: str, example: Example, guess: Target) -> PredictionEvent:
    """The example as the candidate would have logged it: its own prediction, the known label."""
    return PredictionEvent(model_id=model_id, model_version=version, event_id=example.event_id, ts=example.ts,
                           features=example.features, prediction=guess, label=example.label)
