"""State safety: saved detector state that does not verify is refused (the model starts afresh, a `system`
alert says so). An outbox left by a crash is tested in test_outbox_recovery.py."""

import pytest
import redis

from agents.keys import RedisKeys
from detectors.config import MonitoringConfig
from detectors.monitor import ModelMonitor
from detectors.snapshot import MonitorState, SnapshotError, encode_snapshot
from driftline.settings import Settings
from schemas import DriftAlert, PredictionEvent
from schemas.events import AlertKind
from tests.live import WorkerProcess, collect, monitor_state, produce, wait_for_events, wait_until

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
