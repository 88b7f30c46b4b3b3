"""The v1 wire contract: what is accepted, what is refused and why."""

import contextlib
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import (
    DecodeError,
    DriftAlert,
    FeatureEvent,
    LabelEvent,
    ModelDeployed,
    PredictionEvent,
    RetrainRequest,
    decode_events,
    encode_batch,
    encode_event,
)
from schemas.dead_letter import DeadLetter, DeadLetterReason
from schemas.limits import MAX_BATCH_EVENTS, MAX_FEATURES, MAX_MESSAGE_BYTES

PREDICTION = {
    "model_id": "churn",
    "model_version": "3",
    "event_id": "e-1",
    "ts": "2026-01-31T12:00:00Z",
    "features": {"age": 41, "plan": "pro", "score": None},
    "prediction": 0.8,
}


def raw(obj: object) -> bytes:
    return json.dumps(obj).encode()


def reason_of(payload: bytes, event_type: type = PredictionEvent) -> DeadLetterReason:
    with pytest.raises(DecodeError) as caught:
        decode_events(payload, event_type)
    return caught.value.failure.reason


def test_prediction_event_decodes_with_rfc3339_time_as_epoch_seconds() -> None:
    [event] = decode_events(raw(PREDICTION), PredictionEvent)
    assert event.ts == 1769860800.0
    assert event.features == {"age": 41.0, "plan": "pro", "score": None}


def test_epoch_seconds_are_accepted_and_milliseconds_are_refused_with_a_hint() -> None:
    assert decode_events(raw({**PREDICTION, "ts": 1769860800}), PredictionEvent)[0].ts == 1769860800.0
    with pytest.raises(DecodeError, match="milliseconds"):
        decode_events(raw({**PREDICTION, "ts": 1769860800000}), PredictionEvent)


def test_timestamp_without_offset_is_refused() -> None:
    with pytest.raises(DecodeError, match="UTC offset"):
        decode_events(raw({**PREDICTION, "ts": "2026-01-31T12:00:00"}), PredictionEvent)


@pytest.mark.parametrize(
    "event",
    [
        PredictionEvent.model_validate({**PREDICTION, "label": "yes"}),
        FeatureEvent(model_id="m", model_version="1", event_id="f", ts=5.0, features={"a": 1.0}),
        LabelEvent(model_id="m", event_id="e", label=1.0, ts=6.0),
        ModelDeployed(model_id="m", model_version="2", ts=7.0,
                      reference={"feature:a": {"count": 10, "mean": 0.0, "std": 1.0}}),
        DriftAlert(alert_id="a", model_id="m", model_version="1", signal="feature:a", detector="adwin",
                   kind="data", severity="drift", event_index=3, event_id="e", ts=8.0, detected_at=9.0,
                   evidence={"before": {"width": 10}, "after": {"width": 4}}),
        RetrainRequest(request_id="r", model_id="m", model_version="1", reasons=["a"],
                       window={"from_ts": 1.0, "to_ts": 2.0}, requested_at=3.0),
    ],
)
def test_every_event_round_trips_through_its_wire_form(event: object) -> None:
    event_type = type(event)
    assert decode_events(encode_event(event), event_type) == [event]  # type: ignore[arg-type]


def test_batch_envelope_decodes_to_all_its_events_in_order() -> None:
    events = [PredictionEvent.model_validate({**PREDICTION, "event_id": f"e-{i}"}) for i in range(5)]
    assert decode_events(encode_batch(events), PredictionEvent) == events


def test_event_of_another_type_in_a_batch_is_a_schema_violation() -> None:
    label = {"model_id": "m", "event_id": "e", "label": 1, "ts": 1}
    assert reason_of(raw({"v": 1, "batch": [PREDICTION, label]})) == DeadLetterReason.SCHEMA_VIOLATION


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused(bad: str) -> None:
    payload = raw(PREDICTION).replace(b'"prediction": 0.8', f'"prediction": {bad}'.encode())
    assert reason_of(payload) == DeadLetterReason.NON_FINITE_NUMBER


def test_boolean_is_not_a_number_but_a_feature_may_be_one_of_two_categories() -> None:
    assert reason_of(raw({**PREDICTION, "prediction": True})) == DeadLetterReason.SCHEMA_VIOLATION
    assert reason_of(raw({**PREDICTION, "label": False})) == DeadLetterReason.SCHEMA_VIOLATION
    (event,) = decode_events(raw({**PREDICTION, "features": {"flag": True, "x": 1.0}}), PredictionEvent)
    assert event.features == {"flag": True, "x": 1.0} and type(event.features["flag"]) is bool


def test_unknown_field_is_refused_and_named() -> None:
    with pytest.raises(DecodeError, match="feature_vector"):
        decode_events(raw({**PREDICTION, "feature_vector": [1]}), PredictionEvent)


def test_missing_field_is_named_in_the_error() -> None:
    payload = {k: v for k, v in PREDICTION.items() if k != "event_id"}
    with pytest.raises(DecodeError, match="event_id: Field required"):
        decode_events(raw(payload), PredictionEvent)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", DeadLetterReason.INVALID_JSON),
        (b'{"model_id": "m"', DeadLetterReason.INVALID_JSON),
        (b"\xff\xfe\x00{", DeadLetterReason.INVALID_JSON),
        (b"[" * 10_000 + b"]" * 10_000, DeadLetterReason.INVALID_JSON),
        (b"[1, 2]", DeadLetterReason.SCHEMA_VIOLATION),
        (raw({"v": 1, "batch": []}), DeadLetterReason.SCHEMA_VIOLATION),
        (raw({**PREDICTION, "v": 2}), DeadLetterReason.SCHEMA_VIOLATION),
        (raw({**PREDICTION, "model_id": ""}), DeadLetterReason.SCHEMA_VIOLATION),
        (raw({**PREDICTION, "model_id": "m" * 300}), DeadLetterReason.SCHEMA_VIOLATION),
        (raw({**PREDICTION, "features": {"x": {"nested": 1}}}), DeadLetterReason.SCHEMA_VIOLATION),
    ],
)
def test_malformed_input_gets_its_reason(payload: bytes, reason: DeadLetterReason) -> None:
    assert reason_of(payload) == reason


def test_too_many_features_are_refused() -> None:
    features = {f"f{i}": 1.0 for i in range(MAX_FEATURES + 1)}
    assert reason_of(raw({**PREDICTION, "features": features})) == DeadLetterReason.SCHEMA_VIOLATION


def test_oversized_message_is_refused_before_parsing() -> None:
    assert reason_of(b" " * (MAX_MESSAGE_BYTES + 1)) == DeadLetterReason.OVERSIZED


def test_batch_over_the_limit_is_refused() -> None:
    small = {"model_id": "m", "event_id": "e", "label": 1, "ts": 1}
    payload = raw({"v": 1, "batch": [small] * (MAX_BATCH_EVENTS + 1)})
    assert reason_of(payload, LabelEvent) == DeadLetterReason.BATCH_TOO_LARGE


def test_dead_letter_keeps_the_original_bytes() -> None:
    letter = DeadLetter.of(reason=DeadLetterReason.INVALID_JSON, detail="x", payload=b"\x00\xffabc",
                           topic="t", partition=1, offset=7, key=b"m")
    again = DeadLetter.model_validate_json(letter.model_dump_json())
    assert again.payload() == b"\x00\xffabc"
    assert (again.topic, again.partition, again.offset, again.key) == ("t", 1, 7, "m")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2_000))
def test_random_bytes_raise_nothing_but_decode_error(payload: bytes) -> None:
    for event_type in (PredictionEvent, FeatureEvent, LabelEvent, ModelDeployed):
        with contextlib.suppress(DecodeError):
            decode_events(payload, event_type)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from([*PREDICTION, "label", "v", "batch", "x"]), json_values, max_size=8))
def test_random_json_objects_raise_nothing_but_decode_error(obj: dict[str, object]) -> None:
    payload = json.dumps(obj, allow_nan=True).encode()
    try:
        events = decode_events(payload, PredictionEvent)
    except DecodeError:
        return
    for event in events:
        assert all(not isinstance(v, float) or math.isfinite(v) for v in event.features.values())


def test_a_bad_event_in_a_batch_can_be_split_from_the_good_ones() -> None:
    from schemas.codec import decode_batch_elements

    good = {**PREDICTION, "event_id": "good"}
    bad = {**PREDICTION, "event_id": "bad", "prediction": float("nan")}
    payload = json.dumps({"v": 1, "batch": [good, bad, good]}, allow_nan=True).encode()
    with pytest.raises(DecodeError):
        decode_events(payload, PredictionEvent)
    split = decode_batch_elements(payload, PredictionEvent)
    assert split is not None
    events, rejected = split
    assert [e.event_id for e in events] == ["good", "good"]
    assert [r.failure.reason for r in rejected] == [DeadLetterReason.NON_FINITE_NUMBER]
    assert rejected[0].failure.detail.startswith("batch[1]")
    assert json.loads(rejected[0].payload)["event_id"] == "bad"


def test_a_message_that_is_no_envelope_is_not_split() -> None:
    from schemas.codec import decode_batch_elements

    assert decode_batch_elements(b"{not json", PredictionEvent) is None
    assert decode_batch_elements(raw(PREDICTION), PredictionEvent) is None
    assert decode_batch_elements(raw({"v": 1, "batch": "x"}), PredictionEvent) is None


def test_a_prediction_may_carry_a_probability_or_one_per_class_and_nothing_else() -> None:
    head = {"model_id": "m", "model_version": "1", "event_id": "e", "ts": 1.0, "prediction": 1.0}
    assert PredictionEvent.model_validate({**head, "score": 0.3}).score == 0.3
    assert PredictionEvent.model_validate({**head, "score": [0.2, 0.8]}).score == [0.2, 0.8]
    assert PredictionEvent.model_validate(head).score is None
    for bad in (1.2, -0.1, [0.5], True, "0.3", [0.5, "x"]):
        with pytest.raises(ValueError, match="score"):
            PredictionEvent.model_validate({**head, "score": bad})
