"""The client SDK against the real broker: producer batching and bounds, subscriber redelivery."""

import asyncio
import time
import uuid

import pytest
from confluent_kafka import Consumer

from driftline.embedded import free_port
from driftline.kafka_admin import ensure_topics
from driftline.sdk import DeliveryFailure, EventProducer, ProducerConfig, Subscriber
from driftline.settings import Settings
from schemas import DriftAlert, PredictionEvent, decode_events
from schemas.events import AlertKind, Severity
from tests.live import produce_raw

pytestmark = pytest.mark.integration


def read_messages(settings: Settings, topic: str, expected_events: int,
                  timeout: float = 60.0) -> list[tuple[str, list[PredictionEvent]]]:
    """(key, events) per Kafka message, read from the beginning until `expected_events` have arrived."""
    consumer = Consumer({**settings.kafka_client_config(), "group.id": f"read-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
    consumer.subscribe([topic])
    messages: list[tuple[str, list[PredictionEvent]]] = []
    try:
        deadline = time.monotonic() + timeout
        while sum(len(events) for _, events in messages) < expected_events and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error() or message.value() is None:
                continue
            key = (message.key() or b"").decode()
            messages.append((key, decode_events(message.value(), PredictionEvent)))  # type: ignore[arg-type]
    finally:
        consumer.close()
    return messages


def test_the_producer_batches_each_model_into_envelopes_and_flushes_on_close(settings: Settings) -> None:
    ensure_topics(settings, settings.topics.all(), partitions=2)
    with EventProducer(settings, ProducerConfig(batch_size=100, linger_seconds=0.5)) as producer:
        ids_a = [producer.log_prediction("a", "1", {"x": float(i), "n": i}, prediction=1, label=i % 2)
                 for i in range(250)]
        ids_b = [producer.log_prediction("b", "1", {"x": 0.5}, prediction="yes", score=[0.2, 0.8])
                 for _ in range(10)]
    assert producer.stats.snapshot() == {"queued": 260, "sent": 260, "failed": 0, "dropped": 0}

    messages = read_messages(settings, settings.topics.predictions, 260)
    sizes = sorted((key, len(events)) for key, events in messages)
    assert sizes == [("a", 50), ("a", 100), ("a", 100), ("b", 10)]
    assert all(event.model_id == key for key, events in messages for event in events)
    received_a = [e.event_id for key, events in messages if key == "a" for e in events]
    assert received_a == ids_a  # one partition per key keeps the model's order
    assert {e.event_id for key, events in messages if key == "b" for e in events} == set(ids_b)
    first = next(e for key, events in messages if key == "a" for e in events)
    assert first.features == {"x": 0.0, "n": 0.0} and first.label == 0.0 and first.score is None
    assert {e.score == [0.2, 0.8] for key, events in messages if key == "b" for e in events} == {True}


def test_bad_events_raise_in_the_caller_and_are_never_queued(settings: Settings) -> None:
    with EventProducer(settings) as producer:
        with pytest.raises(ValueError):
            producer.log_prediction("a", "1", {"x": float("nan")}, prediction=1.0)
        with pytest.raises(ValueError):
            producer.log_prediction("", "1", {}, prediction=1.0)
        with pytest.raises(ValueError):
            producer.log_prediction("a", "1", {}, prediction=1.0, score=1.5)  # not a probability
    assert producer.stats.snapshot()["queued"] == 0


def test_a_full_queue_drops_and_counts_and_delivery_errors_reach_the_callback() -> None:
    """No broker at all: librdkafka's buffer fills, then the queue, then events are dropped and counted."""
    unreachable = Settings(broker=f"kafka://127.0.0.1:{free_port()}")
    failures: list[DeliveryFailure] = []
    config = ProducerConfig(batch_size=1, max_queue=20, max_buffer_kbytes=1, delivery_timeout_seconds=2.0)
    producer = EventProducer(unreachable, config, on_error=failures.append)
    accepted = sum(producer.send(PredictionEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i),
                                                 features={"x": 1.0}, prediction=1.0))
                   for i in range(2_000))
    unconfirmed = producer.close(timeout=30)
    stats = producer.stats.snapshot()
    assert stats["dropped"] > 0 and stats["queued"] == accepted
    assert stats["queued"] + stats["dropped"] == 2_000
    assert unconfirmed == 0 and stats["failed"] == stats["queued"] and stats["sent"] == 0
    assert sum(f.events for f in failures) == stats["failed"]
    assert {f.model_id for f in failures} == {"m"}


def test_the_producer_works_from_asyncio(settings: Settings) -> None:
    ensure_topics(settings, [settings.topics.predictions], partitions=1)

    async def service() -> int:
        producer = EventProducer(settings)
        for i in range(20):
            producer.log_prediction("async", "1", {"x": float(i)}, prediction=float(i))
            await asyncio.sleep(0)
        unconfirmed = await producer.aflush()
        producer.close()
        return unconfirmed

    assert asyncio.run(service()) == 0
    assert sum(len(events) for _, events in read_messages(settings, settings.topics.predictions, 20)) == 20


def alert(model_id: str, n: int) -> DriftAlert:
    return DriftAlert(alert_id=f"{model_id}-{n}", model_id=model_id, model_version="1", signal="feature:x",
                      detector="adwin", kind=AlertKind.DATA, severity=Severity.DRIFT, event_index=n,
                      event_id=f"e{n}", ts=float(n), detected_at=float(n))


def test_the_subscriber_commits_only_what_was_handled(settings: Settings) -> None:
    """At least once: a crashed callback, or an iteration abandoned mid-way, leaves its event to redeliver."""
    settings = settings.model_copy(update={"kafka_session_timeout_seconds": 6.0})
    ensure_topics(settings, settings.topics.all(), partitions=1)
    produce_raw(settings, settings.topics.alerts, [alert("m", n).model_dump_json().encode() for n in range(5)],
                key=b"m")
    group = f"subscriber-{uuid.uuid4().hex}"
    seen: list[int] = []

    def fail_on_third(event: object) -> None:
        assert isinstance(event, DriftAlert)
        if event.event_index == 2:
            raise RuntimeError("handler crashed")
        seen.append(event.event_index)

    with Subscriber(settings, group_id=group, from_beginning=True) as subscriber, pytest.raises(RuntimeError):
        subscriber.run(fail_on_third, timeout=60)
    assert seen == [0, 1]

    with Subscriber(settings, group_id=group, from_beginning=True) as subscriber:
        iterated = []
        for event in subscriber.events(timeout=60):
            iterated.append(event)
            if len(iterated) == 2:
                break  # the second was handed out but never acknowledged by asking for a third
    assert [e.event_index for e in iterated if isinstance(e, DriftAlert)] == [2, 3]

    handled: list[int] = []
    with Subscriber(settings, group_id=group, from_beginning=True) as subscriber:
        subscriber.run(lambda e: handled.append(e.event_index) if isinstance(e, DriftAlert) else None,
                       max_events=2, timeout=60)
    assert handled == [3, 4]
