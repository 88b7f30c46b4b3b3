"""System alerts: what a refused snapshot tells subscribers, with an id a replay reproduces."""

from agents.system_alerts import snapshot_refused
from schemas import LabelEvent, PredictionEvent
from schemas.events import AlertKind

EVENT = PredictionEvent(model_id="m", model_version="7", event_id="e1", ts=5.0, features={}, prediction=1.0)


def test_a_refused_snapshot_alert_names_the_model_the_event_and_the_reason() -> None:
    alert = snapshot_refused("m", EVENT, b"DLM1...", "snapshot signature does not match")
    assert (alert.kind, alert.signal, alert.detector) == (AlertKind.SYSTEM, "state", "snapshot")
    assert (alert.model_version, alert.event_id, alert.ts, alert.event_index) == ("7", "e1", 5.0, 0)
    assert alert.detail is not None and "signature does not match" in alert.detail


def test_the_same_refused_bytes_give_the_same_alert_id_and_other_bytes_another() -> None:
    first = snapshot_refused("m", EVENT, b"blob-a", "x").alert_id
    assert snapshot_refused("m", EVENT, b"blob-a", "y").alert_id == first, "a replayed batch repeats the id"
    assert snapshot_refused("m", EVENT, b"blob-b", "x").alert_id != first
    assert snapshot_refused("n", EVENT, b"blob-a", "x").alert_id != first


def test_a_label_which_carries_no_version_still_yields_a_valid_alert() -> None:
    label = LabelEvent(model_id="m", event_id="e1", label=1.0, ts=6.0)
    alert = snapshot_refused("m", label, b"blob", "x")
    assert alert.model_version == "unknown" and alert.event_id == "e1"
