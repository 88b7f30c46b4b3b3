"""The worker's label-join buffer for one batch: what it records to write back to Redis."""

from agents.label_buffer import BatchLabelBuffer
from detectors.monitor import PendingPrediction
from schemas import LabelEvent


def pending(event_id: str, ts: float = 0.0) -> PendingPrediction:
    return PendingPrediction(event_id, "1", 0, 0, ts, 1.0)


def label(event_id: str) -> LabelEvent:
    return LabelEvent(model_id="m", event_id=event_id, label=1.0, ts=0.0)


def test_a_join_made_within_the_batch_writes_nothing_back() -> None:
    buffer = BatchLabelBuffer({}, {}, ttl_seconds=60.0)
    buffer.hold_prediction("m", pending("e1"))
    assert buffer.take_prediction("m", "e1", 1.0) == pending("e1")
    buffer.hold_label("m", label("e2"))
    assert buffer.take_label("m", "e2") == label("e2")
    changes = buffer.changes
    assert not (changes.predictions_held or changes.predictions_taken or changes.labels_held or changes.labels_taken)


def test_what_was_read_from_redis_is_deleted_when_taken_and_what_waits_is_written() -> None:
    buffer = BatchLabelBuffer({("m", "e1"): pending("e1")}, {("m", "e2"): label("e2")}, ttl_seconds=60.0)
    assert buffer.take_prediction("m", "e1", 1.0) == pending("e1")
    assert buffer.take_label("m", "e2") == label("e2")
    buffer.hold_prediction("m", pending("e3"))
    buffer.hold_label("m", label("e4"))
    changes = buffer.changes
    assert changes.predictions_taken == {("m", "e1")} and changes.labels_taken == {("m", "e2")}
    assert set(changes.predictions_held) == {("m", "e3")} and set(changes.labels_held) == {("m", "e4")}


def test_a_prediction_read_from_redis_held_again_and_taken_is_deleted() -> None:
    buffer = BatchLabelBuffer({("m", "e1"): pending("e1")}, {}, ttl_seconds=60.0)
    buffer.take_prediction("m", "e1", 1.0)
    buffer.hold_prediction("m", pending("e1", ts=5.0))
    assert buffer.take_prediction("m", "e1", 6.0) == pending("e1", ts=5.0)
    assert buffer.changes.predictions_taken == {("m", "e1")} and not buffer.changes.predictions_held


def test_an_expired_prediction_is_taken_and_counted_not_joined() -> None:
    buffer = BatchLabelBuffer({}, {}, ttl_seconds=60.0)
    buffer.hold_prediction("m", pending("e1", ts=0.0))
    assert buffer.take_prediction("m", "e1", 61.0) is None
    assert buffer.expired == 1 and not buffer.changes.predictions_held
