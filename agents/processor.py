"""One batch of Kafka messages in, state and alerts out: the worker's whole job, minus Faust.

Order of work, chosen so a crash at any point neither loses nor double-counts an event:
1. decode; bad messages become dead letters (sent, counted) and are skipped;
2. load the batch's models from Redis if not cached, first sending anything left in their outbox;
3. run every event through the shared MonitorFleet, skipping events at or below the offsets the
   model's snapshot already covers (a replay after a crash);
4. one MULTI/EXEC: snapshots with their new offsets, label-join changes, windows, outbox, counters;
5. send the outbox to Kafka, wait for delivery, clear it; only then does the caller ack the batch.
A crash before 4 replays the batch from the last committed offsets; after 4, the outbox is sent
when the model is next loaded. Alert and request ids are deterministic, so the only duplicate a
consumer can see is an alert re-sent after Kafka confirmed it but before the outbox was cleared.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import redis

from agents.label_buffer import BatchLabelBuffer, Key
from agents.store import BatchWrite, ModelWrite, Offsets, OutboxItem, StateStore, partition_key
from detectors.config import MonitoringConfig
from detectors.fleet import MonitorFleet
from detectors.monitor import Clock, MonitorOutput
from detectors.snapshot import SnapshotError, decode_snapshot, encode_snapshot
from driftline.settings import Settings
from schemas.codec import DecodeError, decode_batch_elements, decode_events, encode_event
from schemas.dead_letter import DeadLetter, DeadLetterReason
from schemas.events import FeatureEvent, InboundEvent, LabelEvent, ModelDeployed, PredictionEvent

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class InboundMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


class Publisher(Protocol):
    async def send(self, topic: str, key: str, value: bytes) -> Awaitable[object]:
        """Queue one message; the returned awaitable completes when Kafka confirms it."""


@dataclass
class BatchReport:
    messages: int = 0
    events: int = 0
    skipped_replays: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    alerts: int = 0
    retrain_requests: int = 0
    stale_events: int = 0
    stale_labels: int = 0


class BatchProcessor:
    def __init__(self, settings: Settings, config: MonitoringConfig, store: StateStore, publisher: Publisher,
                 *, clock: Clock | None = None, retry_max_seconds: float = 5.0) -> None:
        self.settings = settings
        self.topics = settings.topics
        self.config = config
        self.store = store
        self.publisher = publisher
        self.state_key = settings.state_key.get_secret_value().encode()
        self.fleet = MonitorFleet(config, BatchLabelBuffer({}, {}, settings.label_ttl_seconds), clock=clock)
        self.offsets: dict[str, Offsets] = {}
        self.event_types: dict[str, type[InboundEvent]] = {
            self.topics.predictions: PredictionEvent,
            self.topics.features: FeatureEvent,
            self.topics.labels: LabelEvent,
            self.topics.deployments: ModelDeployed,
        }
        self.retry_max_seconds = retry_max_seconds
        self.reset_snapshots = 0

    def forget_models(self) -> None:
        """Drop cached monitors (on rebalance): the next owner reloads them from Redis."""
        self.fleet.monitors.clear()
        self.offsets.clear()

    async def process(self, messages: Sequence[InboundMessage]) -> BatchReport:
        report = BatchReport(messages=len(messages))
        write = BatchWrite()
        decoded = self._decode(messages, report)
        await self._ensure_loaded({e.model_id for _, events in decoded for e in events})
        buffer = await self._label_buffer(decoded)
        self.fleet.labels = buffer
        outputs: dict[str, list[MonitorOutput]] = {}
        for message, events in decoded:
            tp = partition_key(message.topic, message.partition)
            applied: set[str] = set()
            for event in events:
                offsets = self.offsets[event.model_id]
                if message.offset <= offsets.get(tp, -1):
                    report.skipped_replays += 1
                    continue
                try:
                    outputs.setdefault(event.model_id, []).append(self.fleet.handle(event))
                except Exception as exc:  # a bug must not stop the worker; the message is kept
                    log.exception("processing %s failed", _where(message))
                    report.dead_letters.append(_dead_letter(message, DeadLetterReason.PROCESSING_ERROR,
                                                            f"{type(exc).__name__}: {exc}"))
                    break
                applied.add(event.model_id)
                report.events += 1
            for model_id in applied:
                self.offsets[model_id][tp] = message.offset
            write.count(f"events:{message.topic}", len(events))
        write.labels = buffer.changes
        for model_id, model_outputs in outputs.items():
            write.models[model_id] = self._model_write(model_id, model_outputs, report)
        for letter in report.dead_letters:
            write.count(f"dead_letters:{letter.reason.value}")
        write.count("alerts", report.alerts)
        write.count("retrain_requests", report.retrain_requests)
        write.count("stale_events", report.stale_events)  # of a version a deployment replaced
        write.count("stale_labels", report.stale_labels)  # for predictions made before the last reset
        await self._send_dead_letters(report.dead_letters)
        await self._retry(lambda: self.store.commit(write), "saving state to Redis")
        await self._send_outbox([(m, item) for m, w in write.models.items() for item in w.outbox])
        return report

    def _decode(self, messages: Sequence[InboundMessage], report: BatchReport
                ) -> list[tuple[InboundMessage, list[InboundEvent]]]:
        decoded = []
        for message in messages:
            event_type = self.event_types.get(message.topic)
            if event_type is None:
                continue
            try:
                events: list[InboundEvent] = decode_events(  # type: ignore[assignment]
                    message.value, event_type, max_bytes=self.settings.max_message_bytes)
            except DecodeError as exc:
                split = None
                if exc.failure.reason in (DeadLetterReason.SCHEMA_VIOLATION, DeadLetterReason.NON_FINITE_NUMBER):
                    split = decode_batch_elements(message.value, event_type)
                if split is None:
                    report.dead_letters.append(_dead_letter(message, exc.failure.reason, exc.failure.detail))
                    continue
                events = split[0]  # type: ignore[assignment]
                for rejected in split[1]:
                    report.dead_letters.append(_dead_letter(message, rejected.failure.reason, rejected.failure.detail,
                                                            payload=rejected.payload))
            known = [e for e in events if self.config.knows(e.model_id)]
            for unknown in (e for e in events if not self.config.knows(e.model_id)):
                report.dead_letters.append(_dead_letter(
                    message, DeadLetterReason.UNKNOWN_MODEL,
                    f"model {unknown.model_id!r} is not in allowed_models; add it to the config to monitor it",
                    payload=encode_event(unknown)))
            decoded.append((message, known))
        return decoded

    async def _ensure_loaded(self, model_ids: set[str]) -> None:
        missing = model_ids - self.offsets.keys()
        if not missing:
            return
        saved = await self._retry(lambda: self.store.load_models(missing), "loading state from Redis")
        owed = []
        for model_id, model in saved.items():
            self.offsets[model_id] = dict(model.offsets)
            owed += [(model_id, item) for item in model.outbox]
            if model.snapshot is None:
                continue
            policy = self.config.policy_for(model_id)
            try:
                self.fleet.monitors[model_id] = decode_snapshot(model.snapshot, self.state_key, policy,
                                                                clock=self.fleet.clock)
            except SnapshotError as exc:
                self.reset_snapshots += 1
                log.error("model %s: its saved state is refused (%s); monitoring it afresh", model_id, exc)
        await self._send_outbox(owed)

    async def _label_buffer(self, decoded: list[tuple[InboundMessage, list[InboundEvent]]]) -> BatchLabelBuffer:
        wanted_predictions: list[Key] = []
        wanted_labels: list[Key] = []
        for _, events in decoded:
            for event in events:
                if isinstance(event, LabelEvent):
                    wanted_predictions.append((event.model_id, event.event_id))
                elif isinstance(event, PredictionEvent) and event.label is None:
                    wanted_labels.append((event.model_id, event.event_id))
        predictions, labels = await self._retry(
            lambda: self.store.load_labels(wanted_predictions, wanted_labels), "reading the label join")
        return BatchLabelBuffer(predictions, labels, self.settings.label_ttl_seconds)

    def _model_write(self, model_id: str, outputs: list[MonitorOutput], report: BatchReport) -> ModelWrite:
        monitor = self.fleet.monitors[model_id]
        write = ModelWrite(snapshot=encode_snapshot(monitor, self.state_key), offsets=dict(self.offsets[model_id]))
        for out in outputs:
            for alert in out.alerts:
                write.outbox.append(OutboxItem(alert.alert_id, len(write.outbox), self.topics.alerts, model_id,
                                               alert.model_dump_json()))
            for request in out.retrain_requests:
                write.outbox.append(OutboxItem(request.request_id, len(write.outbox), self.topics.retrain, model_id,
                                               request.model_dump_json()))
            write.windows += out.windows
            report.alerts += len(out.alerts)
            report.retrain_requests += len(out.retrain_requests)
            report.stale_events += out.stale_events
            report.stale_labels += out.stale_labels
        return write

    async def _send_dead_letters(self, letters: list[DeadLetter]) -> None:
        if letters:
            await self._retry(lambda: self._deliver([(self.topics.dlq, letter.key or "", letter.model_dump_json())
                                                     for letter in letters]), "sending dead letters")

    async def _send_outbox(self, owed: list[tuple[str, OutboxItem]]) -> None:
        if not owed:
            return
        await self._retry(lambda: self._deliver([(item.topic, item.key, item.value) for _, item in owed]),
                          "sending alerts to Kafka")
        await self._retry(lambda: self.store.clear_outbox((m, item.id) for m, item in owed), "clearing the outbox")

    async def _deliver(self, messages: list[tuple[str, str, str]]) -> None:
        pending = [await self.publisher.send(topic, key, value.encode()) for topic, key, value in messages]
        await asyncio.gather(*pending)

    async def _retry(self, operation: Callable[[], Awaitable[T]], what: str) -> T:
        """Retry with exponential backoff: an outage pauses the worker, it does not crash it or lose data."""
        delay = 0.1
        while True:
            try:
                return await operation()
            except Exception as exc:
                if not _is_transient(exc):
                    raise
                log.warning("%s failed (%s: %s); retrying in %.1fs", what, type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max_seconds)


def _is_transient(exc: Exception) -> bool:
    """Failures of the network or a server that are worth waiting out."""
    if isinstance(exc, OSError | TimeoutError | redis.ConnectionError | redis.TimeoutError | redis.BusyLoadingError):
        return True
    module = type(exc).__module__
    return module.startswith(("aiokafka", "kafka")) and "Error" in type(exc).__name__


def _where(message: InboundMessage) -> str:
    return f"{message.topic}[{message.partition}]@{message.offset}"


def _dead_letter(message: InboundMessage, reason: DeadLetterReason, detail: str,
                 payload: bytes | None = None) -> DeadLetter:
    log.warning("dead letter %s: %s: %s", _where(message), reason.value, detail[:300])
    return DeadLetter.of(reason=reason, detail=detail, payload=message.value if payload is None else payload,
                         topic=message.topic, partition=message.partition, offset=message.offset, key=message.key)

