"""Helpers for tests against the real broker, Redis and a real `driftline worker` process."""

__all__ = ["MetricSamples", "WorkerProcess", "cli_env", "collect", "dumps", "http_get", "metric_samples",
           "monitor_state", "produce", "produce_raw", "signal_updates", "wait_for_events", "wait_until"]

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import get_args

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel

from agents.keys import RedisKeys
from detectors.snapshot import MonitorState, open_snapshot
from driftline.redis_connect import sync_client
from driftline.settings import Settings
from driftline.worker_process import WorkerProcess
from schemas import decode_events, encode_batch, encode_event
from schemas.events import InboundEvent


def produce(settings: Settings, topic: str, events: Sequence[InboundEvent], *, batch: int = 1) -> None:
    """Send events keyed by model_id, `batch` per message (1 = single-event messages)."""
    producer = Producer(settings.kafka_producer_config())
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        value = encode_event(chunk[0]) if batch == 1 else encode_batch(chunk)
        producer.produce(topic, key=chunk[0].model_id.encode(), value=value)
        producer.poll(0)
    assert producer.flush(30) == 0, "broker did not confirm every message"


def produce_raw(settings: Settings, topic: str, values: Sequence[bytes], key: bytes) -> None:
    producer = Producer(settings.kafka_producer_config())
    for value in values:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def collect(settings: Settings, topic: str, model: type[BaseModel], keep: Callable[[BaseModel], bool], *,
            until: Callable[[list[BaseModel]], bool], timeout: float = 60.0, settle: float = 2.0) -> list[BaseModel]:
    """Read `topic` from the start until `until(found)` holds, then `settle` seconds more to catch extras."""
    consumer = Consumer({**settings.kafka_client_config(), "group.id": "test-collect", "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    found: list[BaseModel] = []
    deadline = time.monotonic() + timeout
    settle_until: float | None = None
    try:
        while time.monotonic() < (settle_until or deadline):
            message = consumer.poll(0.2)
            if message is not None and not message.error() and message.value() is not None:
                for item in _items(model, message.value()):  # type: ignore[arg-type]
                    if keep(item):
                        found.append(item)
            if settle_until is None and until(found):
                settle_until = time.monotonic() + settle
    finally:
        consumer.close()
    return found


def _items(model: type[BaseModel], value: bytes) -> list[BaseModel]:
    """One event, or the events of a batch envelope (inbound topics carry both: the codec reads either)."""
    if model in get_args(InboundEvent):
        return list(decode_events(value, model))  # type: ignore[type-var]
    return [model.model_validate_json(value)]


def monitor_state(settings: Settings, model_id: str) -> MonitorState | None:
    client = sync_client(settings)
    try:
        blob = client.hget(RedisKeys(settings.key_prefix).monitor(model_id), "snapshot")
    finally:
        client.close()
    return open_snapshot(blob, settings.state_key.get_secret_value().encode()) if isinstance(blob, bytes) else None


def wait_until(condition: Callable[[], bool], *, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not hold within {timeout}s")
        time.sleep(0.2)


def signal_updates(settings: Settings, model_id: str, signal: str) -> int:
    state = monitor_state(settings, model_id)
    found = [s.updates for s in state.signals if s.signal == signal] if state else []
    return found[0] if found else 0


def wait_for_events(settings: Settings, model_id: str, count: int, timeout: float = 60.0) -> MonitorState:
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = monitor_state(settings, model_id)
        if state is not None and state.event_count >= count:
            return state
        time.sleep(0.2)
    raise TimeoutError(f"model {model_id} reached {state.event_count if state else 0} of {count} events")


def dumps(obj: object) -> bytes:
    return json.dumps(obj).encode()


def cli_env(worker: WorkerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point `driftline` commands and SDK classes run in this test at the session's worker."""
    for name, value in worker.environment().items():
        if name.startswith("DRIFTLINE_"):
            monkeypatch.setenv(name, value)


def http_get(worker: WorkerProcess, path: str) -> tuple[int, bytes]:
    """Status and body of a GET on the worker's HTTP endpoint; an error status is returned, not raised."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}{path}", timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


MetricSamples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
"""(sample name, sorted labels) -> value, as scraped from /metrics."""


def metric_samples(worker: WorkerProcess) -> MetricSamples:
    status, body = http_get(worker, "/metrics")
    assert status == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}
