"""State safety: saved detector state that does not verify is refused (the model starts afresh, a `system`
alert says so), and an outbox left by a crash is sent without duplicating what Kafka already has."""

import pytest
import redis

from agents.keys import RedisKeys
from agents.store import OutboxItem
from detectors.config import MonitoringConfig
from detectors.monitor import ModelMonitor
from detectors.snapshot import MonitorState, SnapshotError, encode_snapshot
from driftline.settings import Settings
from schemas import DriftAlert, PredictionEvent
from schemas.events import AlertKind, Severity
from tests.live import WorkerProcess, collect, monitor_state, produce, produce_raw, wait_for_events, wait_until

pytestmark = pytest.mark.integration


def events(model_id: str, start: int, count: int) -> list[PredictionEvent]:
    return [PredictionEvent(model_id=model_id, model_version="3", event_id=f"e{i}", ts=float(i),
                            features={"x": float(i % 7)}, prediction=float(i % 3)) for i in range(start, start + count)]


def readable_state(settings: Settings, model_id: str) -> MonitorState | None:
    try:
        return monitor_state(settings, model_id)
    except SnapshotError:
        return None


def test_a_tampered_snapshot_is_refused_the_monitor_reset_and_a_system_alert_published(
        live_worker: WorkerProcess, model_id: str) -> None:
    settings = live_worker.settings
    monitor = ModelMonitor(model_id, MonitoringConfig().defaults)
    for event in events(model_id, 0, 500):
        monitor.observe(event)
    blob = bytearray(encode_snapshot(monitor, settings.state_key.get_secret_value().encode()))
    blob[-10] ^= 0x40  # one bit of the compressed state: what an attacker or a bad restore would change
    client = redis.Redis.from_url(settings.redis_url)
    try:
        client.hset(RedisKeys(settings.key_prefix).monitor(model_id), "snapshot", bytes(blob))
    finally:
        client.close()

    produce(settings, settings.topics.predictions, events(model_id, 500, 40), batch=10)

    wait_until(lambda: readable_state(settings, model_id) is not None, timeout=60, what="state rewritten")
    state = wait_for_events(settings, model_id, 40)
    assert state.event_count == 40, "the 500 events of the refused state are not counted: it started from scratch"
    alerts = collect(settings, settings.topics.alerts, DriftAlert, lambda a: a.model_id == model_id,  # type: ignore[attr-defined]
                     until=lambda found: len(found) >= 1, timeout=60)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.kind == AlertKind.SYSTEM and alert.signal == "state" and alert.detector == "snapshot"  # type: ignore[attr-defined]
    assert "signature does not match" in (alert.detail or "")  # type: ignore[attr-defined]
    assert alert.event_id == "e500" and alert.model_version == "3"  # type: ignore[attr-defined]
    log = live_worker.log_path.read_text()
    assert f"model {model_id}: its saved detector state is refused" in log


def owed_alert(model_id: str, alert_id: str) -> DriftAlert:
    return DriftAlert(alert_id=alert_id, model_id=model_id, model_version="3", signal="feature:x", detector="adwin",
                      kind=AlertKind.DATA, severity=Severity.DRIFT, event_index=7, event_id="e7", ts=7.0,
                      detected_at=1.0)


def test_an_outbox_left_by_a_crash_is_sent_once_even_if_kafka_already_had_part_of_it(
        live_worker: WorkerProcess, model_id: str) -> None:
    """The crash window: Kafka confirmed the first alert, the worker died before clearing its outbox."""
    settings = live_worker.settings
    confirmed, unsent = owed_alert(model_id, f"a-{model_id}-1"), owed_alert(model_id, f"a-{model_id}-2")
    produce_raw(settings, settings.topics.alerts, [confirmed.model_dump_json().encode()], key=model_id.encode())
    outbox = RedisKeys(settings.key_prefix).outbox(model_id)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        client.hset(outbox, mapping={a.alert_id: OutboxItem(a.alert_id, i, settings.topics.alerts, model_id,
                                                            a.model_dump_json()).encode()
                                     for i, a in enumerate((confirmed, unsent))})
        produce(settings, settings.topics.predictions, events(model_id, 0, 5))  # the worker loads the model
        wait_for_events(settings, model_id, 5)
        wait_until(lambda: client.hlen(outbox) == 0, timeout=30, what="outbox cleared")
    finally:
        client.close()
    published = collect(settings, settings.topics.alerts, DriftAlert, lambda a: a.model_id == model_id,  # type: ignore[attr-defined]
                        until=lambda found: len(found) >= 2, timeout=60, settle=3.0)
    assert sorted(a.alert_id for a in published) == sorted([confirmed.alert_id, unsent.alert_id])  # type: ignore[attr-defined]
