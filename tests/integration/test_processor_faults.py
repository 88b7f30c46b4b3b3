"""The batch processor against a real Redis when something other than Redis fails: a bug outside one
event's detectors. The batch is applied again from Redis, acked only once saved, counted once, and
a `system` alert says what happened. Kafka is replaced by a recorder here: what crosses it is
tested with the real broker in test_redis_faults.py and test_fencing.py."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

import agents.processor as processor_module
from agents.keys import RedisKeys
from agents.processor import BatchProcessor, InboundMessage
from agents.store import StateStore
from detectors.config import MonitoringConfig
from detectors.monitor import SignalMonitor
from detectors.snapshot import open_snapshot
from driftline.redis_connect import async_client
from driftline.settings import Settings
from schemas import DriftAlert, PredictionEvent, encode_batch

pytestmark = pytest.mark.integration


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bytes]] = []

    async def send(self, topic: str, key: str, value: bytes) -> Any:
        self.sent.append((topic, key, value))

        async def confirmed() -> None:
            return None

        return confirmed()


@pytest.fixture
async def processor(settings: Settings, redis_client: object) -> AsyncIterator[BatchProcessor]:
    client = async_client(settings)
    store = StateStore(client, RedisKeys(settings.key_prefix), settings.label_ttl_seconds)
    yield BatchProcessor(settings, MonitoringConfig(), store, RecordingPublisher(), retry_max_seconds=0.05)
    await client.aclose()


async def test_a_bug_outside_the_detectors_retries_the_batch_from_redis_and_counts_it_once(
        processor: BatchProcessor, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    real = processor_module.encode_snapshot
    calls = 0

    def fails_once(*args: Any, **kwargs: Any) -> bytes:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug while encoding")
        return real(*args, **kwargs)

    monkeypatch.setattr(processor_module, "encode_snapshot", fails_once)
    events = [PredictionEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i), features={"x": 1.0},
                              prediction=1.0) for i in range(20)]
    message = InboundMessage(settings.topics.predictions, 0, 7, b"m", encode_batch(events))

    report = await processor.process([message])

    assert report.events == 20 and calls == 2
    blob = await processor.store.client.hget(RedisKeys(settings.key_prefix).monitor("m"), "snapshot")
    assert open_snapshot(blob, settings.state_key.get_secret_value().encode()).event_count == 20
    alerts = [DriftAlert.model_validate_json(value) for topic, _, value in processor.publisher.sent  # type: ignore[attr-defined]
              if topic == settings.topics.alerts]
    assert [(a.kind, a.signal, a.detector) for a in alerts] == [("system", "worker", "processing")]
    assert "RuntimeError: a bug while encoding" in (alerts[0].detail or "")
    assert processor.outage is None and processor.metrics.outage._value.get() == 0


async def test_a_detector_bug_on_one_event_dead_letters_only_its_message(
        processor: BatchProcessor, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns run a model's whole batch in one call; when that call fails, the batch is run again from
    Redis one event at a time, so the poison message alone is dead-lettered and the rest is saved."""
    real = SignalMonitor.update

    def poisoned(self: SignalMonitor, values: Any, *args: Any) -> None:
        if 666.0 in values:
            raise ZeroDivisionError("a detector bug")
        real(self, values, *args)

    monkeypatch.setattr(SignalMonitor, "update", poisoned)
    good = [PredictionEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i), features={"x": 1.0},
                            prediction=1.0) for i in range(20)]
    poison = PredictionEvent(model_id="m", model_version="1", event_id="bad", ts=20.0, features={"x": 666.0},
                             prediction=1.0)
    topic = settings.topics.predictions
    messages = [InboundMessage(topic, 0, 7, b"m", encode_batch(good)), InboundMessage(topic, 0, 8, b"m",
                                                                                      encode_batch([poison]))]

    report = await processor.process(messages)

    assert report.events == 20
    assert [(d.reason.value, d.offset) for d in report.dead_letters] == [("processing_error", 8)]
    assert "ZeroDivisionError: a detector bug" in report.dead_letters[0].detail
    blob = await processor.store.client.hget(RedisKeys(settings.key_prefix).monitor("m"), "snapshot")
    # the poison event took its event_index before its detector failed, as it did before the columnar engine
    assert open_snapshot(blob, settings.state_key.get_secret_value().encode()).event_count == 21
    later = [PredictionEvent(model_id="m", model_version="1", event_id=f"l{i}", ts=30.0 + i, features={"x": 1.0},
                             prediction=1.0) for i in range(5)]
    assert (await processor.process([InboundMessage(topic, 0, 9, b"m", encode_batch(later))])).events == 5
    assert not processor._one_event_at_a_time
