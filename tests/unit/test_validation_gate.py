"""The validation gate's metrics and verdicts, the training data's join and fingerprint: pure logic."""

import numpy as np
import pytest

from driftline.sdk.validation import GateConfig, decide, evaluate
from driftline.training_data import Example, TrainingSet, _join, fingerprint
from schemas import LabelEvent, PredictionEvent, encode_batch, encode_event
from schemas.lineage import TrainingData


def test_classification_metrics_match_their_definitions() -> None:
    predictions = ["a", "a", "b", "b", "c", "a"]
    labels = ["a", "b", "b", "b", "a", "a"]
    assert evaluate("accuracy", predictions, labels) == pytest.approx(4 / 6)
    # per class F1 = 2 tp / (predicted + labelled): a 2*2/(3+3), b 2*2/(2+3), c 0; macro over the three present
    assert evaluate("f1", predictions, labels) == pytest.approx((4 / 6 + 4 / 5 + 0) / 3)
    assert evaluate("f1", predictions, labels, positive_class="b") == pytest.approx(4 / 5)


def test_roc_auc_is_the_chance_a_positive_outscores_a_negative_ties_counting_half() -> None:
    labels = [1.0, 0.0, 1.0, 0.0, 1.0]
    scores: list[float | None] = [0.9, 0.1, 0.5, 0.5, 0.3]
    pairs = [(p, n) for p in (0.9, 0.5, 0.3) for n in (0.1, 0.5)]
    expected = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)
    assert evaluate("roc_auc", labels, labels, scores) == pytest.approx(expected)
    with pytest.raises(ValueError, match="scores"):
        evaluate("roc_auc", labels, labels, None)


def test_regression_errors() -> None:
    assert evaluate("mae", [1.0, 2.0, 4.0], [1.0, 3.0, 1.0]) == pytest.approx(4 / 3)
    assert evaluate("rmse", [1.0, 2.0, 4.0], [1.0, 3.0, 1.0]) == pytest.approx(np.sqrt(10 / 3))


def test_the_gate_passes_within_the_margin_in_the_metric_s_direction() -> None:
    accuracy = GateConfig(metric="accuracy", margin=0.02, min_training_examples=10)
    assert decide(accuracy, 0.79, 0.80, 100, trained_on=50).passed
    assert not decide(accuracy, 0.77, 0.80, 100, trained_on=50).passed
    assert not decide(accuracy, 0.99, 0.80, 100, trained_on=5).passed  # too few examples, however good
    assert decide(accuracy, 0.10, None, 100, trained_on=50).passed  # nothing to compare with
    mae = GateConfig(metric="mae", margin=0.0, min_training_examples=1)
    assert decide(mae, 1.0, 1.0, 10, trained_on=1).passed and not decide(mae, 1.01, 1.0, 10, trained_on=1).passed


def prediction(i: int, version: str = "1", label: str | None = None, ts: float | None = None) -> PredictionEvent:
    return PredictionEvent(model_id="m", model_version=version, event_id=f"e{i}", ts=float(i) if ts is None else ts,
                           features={"x": float(i)}, prediction="a", label=label)


def test_the_join_takes_inline_labels_and_label_events_the_last_label_winning() -> None:
    records = [
        ("p.predictions", encode_batch([prediction(1, label="a"), prediction(2), prediction(3), prediction(9)])),
        ("p.predictions", encode_event(prediction(2))),  # a producer's resend: the first copy counts
        ("p.predictions", encode_event(PredictionEvent(model_id="other", model_version="1", event_id="e3", ts=3.0,
                                                       prediction="a", label="b"))),
        ("p.labels", encode_event(LabelEvent(model_id="m", event_id="e2", label="b", ts=10.0))),
        ("p.labels", encode_event(LabelEvent(model_id="m", event_id="e1", label="b", ts=11.0))),  # overrides inline
        ("p.labels", encode_event(LabelEvent(model_id="m", event_id="e2", label="c", ts=12.0))),
        ("p.predictions", b"not json"),
    ]
    examples = _join(records, "p.labels", "m", 1.0, 5.0)
    assert [(e.event_id, e.label) for e in examples] == [("e1", "b"), ("e2", "c")]  # e3 unlabelled, e9 outside


def test_the_fingerprint_depends_on_the_examples_not_their_order() -> None:
    a = Example(event_id="e1", model_version="1", ts=1.0, features={"x": 1.0}, prediction="a", label="a")
    b = Example(event_id="e2", model_version="1", ts=2.0, features={"x": 2.0}, prediction="a", label="b")
    assert fingerprint([a, b]) == fingerprint([b, a])
    assert fingerprint([a, b]) != fingerprint([a, b.model_copy(update={"label": "a"})])


def test_the_validation_slice_is_the_most_recent_examples() -> None:
    examples = [Example(event_id=f"e{i}", model_version="1", ts=float(i), features={}, prediction="a", label="a")
                for i in range(10)]
    found = TrainingSet("m", examples, TrainingData(from_ts=0.0, to_ts=9.0, ranges=[], examples=10,
                                                    validation_examples=0, fingerprint=fingerprint(examples)))
    training, validation = found.split(3)
    assert [e.event_id for e in validation] == ["e7", "e8", "e9"] and len(training) == 7
