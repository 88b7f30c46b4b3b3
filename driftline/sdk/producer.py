"""The producer SDK for live services.

`log_prediction`, `log_features` and `log_label` validate the event at once (a mistake raises in
the caller, where it can be fixed) and put it on a bounded queue; they never wait on the network.
A background thread groups events per topic and model into batch envelopes (DESIGN.md: a worker
pays a fixed cost per Kafka message, so batching is what makes throughput) and sends them with
confluent-kafka. When the queue is full, the event is dropped and counted, or the caller blocks
up to `block_timeout_seconds`, as configured: memory never grows without bound. Delivery errors are
counted and passed to `on_error`. `flush()` and `close()` wait for everything queued.

Safe from asyncio code: the log calls do not block (with when_full="drop"), and `aflush()` waits
in an executor.
"""

import asyncio
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from confluent_kafka import KafkaError, Message, Producer
from pydantic import BaseModel, ConfigDict, Field

from driftline.settings import Settings
from schemas import encode_event
from schemas.events import (
    FeatureEvent,
    InboundEvent,
    LabelEvent,
    ModelDeployed,
    ModelRejected,
    PredictionEvent,
    ReferenceStats,
)
from schemas.types import FeatureValue, Target, int_as_float

log = logging.getLogger(__name__)

KAFKA_MESSAGE_LIMIT = 900_000
"""Envelope bytes kept under librdkafka's default 1,000,000-byte message.max.bytes."""


class ProducerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(default=500, ge=1, le=10_000, description="events per envelope at most")
    linger_seconds: float = Field(default=0.05, ge=0, description="longest an event waits for its batch to fill")
    max_queue: int = Field(default=100_000, ge=1, description="events held before when_full applies")
    when_full: Literal["drop", "block"] = "drop"
    block_timeout_seconds: float = Field(default=5.0, gt=0)
    max_buffer_kbytes: int = Field(default=65_536, ge=1, description="encoded bytes librdkafka may hold unsent")
    delivery_timeout_seconds: float = Field(default=120.0, gt=0, description="then an envelope counts as failed")


@dataclass(frozen=True)
class DeliveryFailure:
    topic: str
    model_id: str
    events: int
    error: str


class ProducerStats:
    """Counters, in events: queued, sent (confirmed by the broker), failed, dropped (queue full)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.queued = self.sent = self.failed = self.dropped = 0

    def add(self, **by: int) -> None:
        with self._lock:
            for name, value in by.items():
                setattr(self, name, getattr(self, name) + value)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"queued": self.queued, "sent": self.sent, "failed": self.failed, "dropped": self.dropped}


_FLUSH = object()
_STOP = object()


class EventProducer:
    def __init__(self, settings: Settings | None = None, config: ProducerConfig | None = None, *,
                 on_error: Callable[[DeliveryFailure], None] | None = None) -> None:
        self.settings = settings or Settings()
        self.config = config or ProducerConfig()
        self.on_error = on_error
        self.stats = ProducerStats()
        topics = self.settings.topics
        self._topic_of: dict[type[InboundEvent], str] = {
            PredictionEvent: topics.predictions, FeatureEvent: topics.features,
            LabelEvent: topics.labels, ModelDeployed: topics.deployments, ModelRejected: topics.rejections,
        }
        self._queue: queue.Queue[object] = queue.Queue(maxsize=self.config.max_queue)
        # Both buffers are bounded: the queue in events, librdkafka's in bytes. When the broker is away,
        # librdkafka fills, the sender thread waits on it, the queue fills, and when_full applies.
        self._kafka = Producer({**self.settings.kafka_producer_config(), "linger.ms": 5,
                                "queue.buffering.max.kbytes": self.config.max_buffer_kbytes,
                                "message.timeout.ms": int(self.config.delivery_timeout_seconds * 1000),
                                "enable.idempotence": False})
        self._flushed = threading.Condition()
        self._flush_generation = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="driftline-producer", daemon=True)
        self._thread.start()

    # -- logging API -------------------------------------------------------------------------------

    def log_prediction(self, model_id: str, model_version: str, features: Mapping[str, FeatureValue | int],
                       prediction: Target | int, *, label: Target | int | None = None, event_id: str | None = None,
                       ts: float | None = None, score: float | Sequence[float] | None = None) -> str:
        """Log one prediction; returns its event_id (pass it to log_label when the truth is known).
        `score`: the probability of the positive class, or one probability per class."""
        event = PredictionEvent(model_id=model_id, model_version=model_version, event_id=event_id or _new_id(),
                                ts=time.time() if ts is None else ts, features=_numbers(features),
                                prediction=int_as_float(prediction), label=int_as_float(label),
                                score=_score(score))
        self.send(event)
        return event.event_id

    def log_features(self, model_id: str, model_version: str, features: Mapping[str, FeatureValue | int], *,
                     event_id: str | None = None, ts: float | None = None) -> str:
        event = FeatureEvent(model_id=model_id, model_version=model_version, event_id=event_id or _new_id(),
                             ts=time.time() if ts is None else ts, features=_numbers(features))
        self.send(event)
        return event.event_id

    def log_label(self, model_id: str, event_id: str, label: Target | int, *, ts: float | None = None) -> None:
        self.send(LabelEvent(model_id=model_id, event_id=event_id, label=int_as_float(label),
                             ts=time.time() if ts is None else ts))

    def log_deployment(self, model_id: str, model_version: str, *,
                       reference: Mapping[str, ReferenceStats] | None = None, request_id: str | None = None) -> None:
        self.send(ModelDeployed(model_id=model_id, model_version=model_version, ts=time.time(),
                                reference=dict(reference) if reference else None, request_id=request_id))

    def send(self, event: InboundEvent) -> bool:
        """Queue a validated event; False if it was dropped because the queue is full."""
        if self._closed:
            raise RuntimeError("this EventProducer is closed")
        try:
            if self.config.when_full == "block":
                self._queue.put(event, timeout=self.config.block_timeout_seconds)
            else:
                self._queue.put_nowait(event)
        except queue.Full:
            self.stats.add(dropped=1)
            return False
        self.stats.add(queued=1)
        return True

    # -- lifecycle ---------------------------------------------------------------------------------

    def flush(self, timeout: float = 30.0) -> int:
        """Send everything queued so far; returns the events still unconfirmed after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._flushed:
            target = self._flush_generation + 1
        try:
            self._queue.put(_FLUSH, timeout=timeout)
        except queue.Full:
            return self._unconfirmed()
        with self._flushed:
            while self._flush_generation < target and time.monotonic() < deadline:
                self._flushed.wait(max(0.0, deadline - time.monotonic()))
        self._kafka.flush(max(0.0, deadline - time.monotonic()))
        return self._unconfirmed()

    def _unconfirmed(self) -> int:
        stats = self.stats.snapshot()
        return stats["queued"] - stats["sent"] - stats["failed"]

    async def aflush(self, timeout: float = 30.0) -> int:
        return await asyncio.get_running_loop().run_in_executor(None, self.flush, timeout)

    def close(self, timeout: float = 30.0) -> int:
        if self._closed:
            return 0
        remaining = self.flush(timeout)
        self._closed = True
        try:
            self._queue.put(_STOP, timeout=1.0)
            self._thread.join(timeout)
        except queue.Full:
            log.warning("closing with %d events undelivered", remaining)
        return remaining

    def __enter__(self) -> "EventProducer":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- background thread -------------------------------------------------------------------------

    def _run(self) -> None:
        buffers: dict[tuple[str, str], list[bytes]] = {}
        started: dict[tuple[str, str], float] = {}
        while True:
            wait = self._next_deadline(started)
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._send_all(buffers, started)
                return
            if item is _FLUSH:
                self._send_all(buffers, started)
                with self._flushed:
                    self._flush_generation += 1
                    self._flushed.notify_all()
            elif isinstance(item, InboundEvent):
                key = (self._topic_of[type(item)], item.model_id)
                buffers.setdefault(key, []).append(encode_event(item))
                started.setdefault(key, time.monotonic())
                if len(buffers[key]) >= self.config.batch_size:
                    self._send(key, buffers.pop(key))
                    started.pop(key, None)
            now = time.monotonic()
            for key in [k for k, t in started.items() if now - t >= self.config.linger_seconds]:
                self._send(key, buffers.pop(key))
                started.pop(key)
            self._kafka.poll(0)

    def _next_deadline(self, started: dict[tuple[str, str], float]) -> float:
        if not started:
            return 0.1
        return max(0.0, min(started.values()) + self.config.linger_seconds - time.monotonic())

    def _send_all(self, buffers: dict[tuple[str, str], list[bytes]], started: dict[tuple[str, str], float]) -> None:
        for key in list(buffers):
            self._send(key, buffers.pop(key))
        started.clear()

    def _send(self, key: tuple[str, str], encoded: list[bytes]) -> None:
        """Envelopes of at most batch_size events and KAFKA_MESSAGE_LIMIT bytes; a lone event goes bare."""
        limit = min(self.settings.max_message_bytes, KAFKA_MESSAGE_LIMIT)
        chunk: list[bytes] = []
        size = 0
        for item in encoded:
            if chunk and size + len(item) + 1 > limit - 20:
                self._produce(key, chunk)
                chunk, size = [], 0
            chunk.append(item)
            size += len(item) + 1
        if chunk:
            self._produce(key, chunk)

    def _produce(self, key: tuple[str, str], chunk: list[bytes]) -> None:
        topic, model_id = key
        value = chunk[0] if len(chunk) == 1 else b'{"v":1,"batch":[' + b",".join(chunk) + b"]}"
        count = len(chunk)

        def delivered(err: KafkaError | None, message: Message) -> None:
            if err is None:
                self.stats.add(sent=count)
                return
            self.stats.add(failed=count)
            failure = DeliveryFailure(topic=topic, model_id=model_id, events=count, error=str(err))
            log.warning("could not deliver %d events of %s to %s: %s", count, model_id, topic, err)
            if self.on_error is not None:
                self.on_error(failure)

        while True:
            try:
                self._kafka.produce(topic, key=model_id.encode(), value=value, on_delivery=delivered)
                return
            except BufferError:
                self._kafka.poll(0.1)  # librdkafka's own queue is full: wait for deliveries to drain it
            except Exception as exc:
                self.stats.add(failed=count)
                if self.on_error is not None:
                    self.on_error(DeliveryFailure(topic=topic, model_id=model_id, events=count, error=str(exc)))
                return


def _new_id() -> str:
    return uuid.uuid4().hex


def _numbers(features: Mapping[str, FeatureValue | int]) -> dict[str, FeatureValue]:
    return {name: int_as_float(value) for name, value in features.items()}


def _score(score: float | Sequence[float] | None) -> Any:
    """Integers as floats, as for the other numbers; a bool stays a bool, to be refused by validation."""
    if score is None or isinstance(score, float | int):
        return int_as_float(score)
    return [int_as_float(p) for p in score]
