"""One batch of Kafka messages in, state and alerts out: the worker's whole job, minus Faust.

Order of work, chosen so a crash at any point neither loses nor double-counts an event:
1. decode; bad messages become dead letters (sent, counted) and are skipped;
2. load the batch's models from Redis if not cached, first sending anything left in their outbox;
3. run every event through the shared MonitorFleet, skipping events at or below the offsets the
   model's snapshot already covers (a replay after a crash);
4. one MULTI/EXEC: snapshots with their new offsets, label-join changes, windows, outbox, counters;
5. send the outbox to Kafka, wait for delivery, clear it; only then does the caller ack the batch.
A crash before 4 replays the batch from the last committed offsets; after 4, the outbox is sent
when the model is next loaded. An outbox found on loading, or a send being retried, may already be
partly in Kafka (a crash after Kafka confirmed it, before the outbox was cleared): those ids are
looked up in the topic first (agents/published.py) and not sent twice.

Redis itself may lose state: emptied, or restored from an older snapshot. A write that finds a
model's state gone or older than what this worker wrote re-claims it with the state in memory
(agents/store.py), and a `state` alert says so. Where Redis may have lost what no worker holds
(the saved progress of a partition behind what the group processed, found on assignment or by a
write), the partition's lost range is read again from Kafka before the next batch
(agents/recovery.py); models that are current skip it, the others rebuild their state from it.

`process` returns only once the batch is saved and its alerts are confirmed, so the caller acks
nothing that was not saved. Whatever fails meanwhile (Redis, Kafka, a bug) is retried with backoff
while `/ready` says why; a failure that is not a lost connection also raises a `system` alert. A
write refused by fencing (another worker claimed the model) drops that model's cached state and
applies the batch again on top of what the other worker saved.
"""

import asyncio
import itertools
import logging
import operator
import os
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

import redis
from confluent_kafka import KafkaException

from agents import system_alerts
from agents.label_buffer import BatchLabelBuffer, Key
from agents.messages import InboundMessage, partition_key
from agents.metrics import WorkerMetrics
from agents.recovery import PartitionSource, Rewind, plan_rewinds
from agents.store import (
    BatchWrite,
    CommitResult,
    FencedError,
    ModelWrite,
    Offsets,
    OutboxItem,
    SavedModel,
    StateStore,
)
from detectors.config import MonitoringConfig
from detectors.fleet import MonitorFleet
from detectors.monitor import Clock, ModelMonitor, MonitorOutput
from detectors.performance import PerformanceWindow
from detectors.snapshot import SnapshotError, decode_snapshot, encode_snapshot
from driftline.settings import Settings
from schemas.codec import DecodeError, decode_batch_elements, decode_events, encode_event
from schemas.dead_letter import DeadLetter, DeadLetterReason
from schemas.events import (
    DriftAlert,
    FeatureEvent,
    InboundEvent,
    LabelEvent,
    ModelDeployed,
    ModelRejected,
    PredictionEvent,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
E = TypeVar("E", bound=InboundEvent)
FENCE_ALERT_EVERY_SECONDS = 3_600.0  # per model and worker: the log and the counter have every refusal


class Publisher(Protocol):
    async def send(self, topic: str, key: str, value: bytes) -> Awaitable[object]:
        """Queue one message; the returned awaitable completes when Kafka confirms it."""


class PublishedLog(Protocol):
    async def find(self, ids_by_topic: Mapping[str, Set[str]]) -> set[str]:
        """The ids, among those given per topic, that the topic already holds."""


@dataclass
class BatchReport:
    messages: int = 0
    events: int = 0
    skipped_replays: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    alerts: int = 0
    system_alerts: int = 0
    retrain_requests: int = 0
    stale_events: int = 0
    stale_labels: int = 0
    published: list[DriftAlert] = field(default_factory=list)  # alerts (system ones too) in the outbox
    requests_by_model: dict[str, int] = field(default_factory=dict)
    stale_by_model: dict[str, int] = field(default_factory=dict)
    performance: list[PerformanceWindow] = field(default_factory=list)  # closed performance windows, saved
    progress: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> the batch's last offset there


class _DetectorBug(Exception):
    """A model's monitor failed on a batch's columns; the batch is re-run one event at a time."""

    def __init__(self, model_id: str) -> None:
        super().__init__(model_id)
        self.model_id = model_id


class BatchProcessor:
    def __init__(self, settings: Settings, config: MonitoringConfig, store: StateStore, publisher: Publisher,
                 *, clock: Clock | None = None, retry_max_seconds: float = 5.0,
                 metrics: WorkerMetrics | None = None, published: PublishedLog | None = None,
                 partitions: PartitionSource | None = None) -> None:
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
            self.topics.rejections: ModelRejected,
        }
        self.retry_max_seconds = retry_max_seconds
        self.metrics = metrics or WorkerMetrics()
        self.published = published
        self.outage: str | None = None  # what the worker is waiting for, while Redis or Kafka is down
        self.system_alerts: dict[str, list[DriftAlert]] = {}  # raised while handling, published with the next write
        self.generations: dict[str, int] = {}  # owner token of each cached model (agents/store.py)
        self.worker_name = f"{socket.gethostname()}-{os.getpid()}"
        self._write_ids = itertools.count()
        self._unsent_alerts: dict[str, DriftAlert] = {}  # system alerts sent straight to Kafka once it answers
        self._sending_alerts = asyncio.Lock()  # a send started at the fault and one after the batch: one at a time
        self._batch_events: dict[str, InboundEvent] = {}  # first event of each model in the batch at hand
        self._fault_started: float | None = None
        self._layout_checked = False
        self._split_reported: set[tuple[str, str]] = set()  # (model, topic): said once per worker
        self._fence_reported: dict[str, float] = {}  # model -> when its last fencing alert was raised
        self._one_event_at_a_time = False  # after a detector bug, until the batch is saved
        self.partitions = partitions  # where lost state is read again from; None: never re-read
        self.assigned: set[str] = set()  # inbound partitions this worker owns ("topic:partition")
        self.positions: dict[str, int] = {}  # next offset of each partition, after the batches handled
        self.seqs: dict[str, str] = {}  # seq each cached model was loaded with or last written with
        self._lock = asyncio.Lock()  # one batch at a time: the agent's, or a re-read started on assignment
        self._rewind_due: set[str] = set()  # partitions whose saved progress must be checked before a batch
        self._progress_before: dict[str, int | None] = {}  # progress a loss-finding write overwrote
        self._progress_written: dict[str, int] = {}  # progress in Redis as this worker last wrote or found it
        self._loaded_now: dict[str, SavedModel] = {}  # models loaded by the batch at hand, as loaded
        self._rebuilding: Rewind | None = None  # the range being read again, while it is
        self._rebuilt: set[str] = set()  # models told of in the range being read again
        self._tasks: set[asyncio.Task[object]] = set()

    def forget_models(self, model_ids: Iterable[str] | None = None) -> None:
        """Drop cached monitors (on rebalance, or after a failure): they are reloaded from Redis when next seen."""
        for model_id in list(self.offsets) if model_ids is None else list(model_ids):
            self.fleet.monitors.pop(model_id, None)
            self.offsets.pop(model_id, None)
            self.generations.pop(model_id, None)
            self.seqs.pop(model_id, None)
            self.system_alerts.pop(model_id, None)  # not written: the next load raises them again

    def partitions_assigned(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Every assigned partition's saved progress is checked against the group's committed offset before
        the next batch, and at once: a worker restarted beside a Redis restored from an older snapshot must
        re-read what the snapshot misses, whether or not more messages come."""
        inbound = set(self.event_types)
        self.assigned = {partition_key(topic, p) for topic, p in partitions if topic in inbound}
        self.positions = {}
        self._progress_written = {}
        self._rewind_due |= self.assigned
        self._start_soon()

    def partitions_revoked(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Forget the cached models (their partitions' next owners load them) and stop re-reading these."""
        self.forget_models()
        self.assigned -= {partition_key(topic, p) for topic, p in partitions}

    def _start_soon(self) -> None:
        """Re-read what is due now, not at the next batch (which may never come)."""
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(self._rewind_soon())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _rewind_soon(self) -> None:
        """Try the due re-reads until they pass, holding the worker only while a try runs: a batch that
        comes meanwhile does them itself, patiently, with a fault's `system` alert naming its models."""
        delay = 0.1
        while self._rewind_due & self.assigned:
            async with self._lock:
                try:
                    await self._rewind(patient=False)
                except Exception as exc:
                    log.warning("reading again what Redis lost failed (%s); trying again in %.1fs",
                                describe_error(exc), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max_seconds)

    async def process(self, messages: Sequence[InboundMessage]) -> BatchReport:
        """Handle a batch until it is saved; never raises but for cancellation (see the module's docstring)."""
        async with self._lock:
            report = await self._handle(messages)
            for tp, offset in report.progress.items():
                self.positions[tp] = max(self.positions.get(tp, 0), offset + 1)
        if self._rewind_due:
            self._start_soon()
        return report

    async def _rewind(self, *, patient: bool) -> None:
        """Read again, through the usual batch path, each due partition's range that Redis's state misses.

        Patient: each read of Redis or Kafka is retried until it passes, as a batch's are. A loss found
        meanwhile (a write of the range itself) makes its partitions due again, for the next call."""
        self._rewind_due &= self.assigned
        due, self._rewind_due = self._rewind_due, set()
        hints = {tp: self._progress_before.pop(tp) for tp in due if tp in self._progress_before}
        if self.partitions is None or not due:
            return
        source = self.partitions
        try:
            resume_at = {tp: self.positions[tp] for tp in due if tp in self.positions}
            unknown = due - resume_at.keys()
            async def read(operation: Callable[[], Awaitable[T]], what: str, system: Literal["redis", "kafka"]) -> T:
                return await (self._retry(operation, what, system) if patient else operation())

            if unknown:
                resume_at |= await read(lambda: source.committed(unknown), "reading the group's committed offsets",
                                        "kafka")
            saved_to = dict(hints)
            saved_to |= await read(lambda: self.store.load_progress(tp for tp in due if tp not in hints),
                                   "reading the partitions' saved progress", "redis")
            earliest = await read(lambda: source.earliest(due), "reading the partitions' earliest offsets", "kafka")
            for rewind in plan_rewinds(resume_at, saved_to, earliest):
                log.warning("%s: %s; models whose state is current skip it", rewind.partition, rewind.describe(),
                            extra={"partition": rewind.partition})
                self.metrics.state_rewinds.inc()
                self._rebuilt = set()
                async for chunk in source.read(rewind, self.settings.worker_batch_messages):
                    if rewind.partition not in self.assigned:
                        break  # revoked meanwhile: its next owner checks it too
                    self._rebuilding = rewind
                    try:
                        await self._handle(chunk)
                    finally:
                        self._rebuilding = None
                    hints.pop(rewind.partition, None)  # Redis's progress now says how far the re-read got
                due.discard(rewind.partition)
        except BaseException:
            self._rewind_due |= due & self.assigned
            for tp, before in hints.items():
                self._progress_before.setdefault(tp, before)
            raise

    async def _handle(self, messages: Sequence[InboundMessage]) -> BatchReport:
        with self.metrics.batch_seconds.time():
            delay = 0.1
            failures = 0
            while True:
                try:
                    report = await self._process(messages)
                except FencedError as exc:
                    self._fenced(exc)
                    continue
                except _DetectorBug as bug:
                    log.warning("model %s: a detector failed on this batch (%s); running it again one event at a "
                                "time to set the failing event aside", bug.model_id, bug.__cause__)
                    self.forget_models()
                    self._one_event_at_a_time = True
                    continue
                except Exception as exc:  # a bug or an unclassified failure: start the batch again from Redis
                    failures += 1
                    self.forget_models()
                    self._fault("handling a batch", "worker", "processing", exc, failures, delay, alert=True)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_max_seconds)
                    continue
                self._fault_cleared("handling a batch", failures)
                self._one_event_at_a_time = False
                await self._send_unsent_alerts()
                return report

    async def _process(self, messages: Sequence[InboundMessage]) -> BatchReport:
        report = BatchReport(messages=len(messages))
        taken_in: dict[tuple[str, str], int] = {}
        for message in messages:
            tp = partition_key(message.topic, message.partition)
            if message.offset > report.progress.get(tp, -1):
                report.progress[tp] = message.offset
        write = BatchWrite(progress=report.progress, progress_expected={
            tp: self._progress_written[tp] for tp in report.progress if tp in self._progress_written})
        self._loaded_now = {}
        decoded = self._decode(messages, report)
        first_events: dict[str, InboundEvent] = {}
        for _, events in decoded:
            for event in events:
                first_events.setdefault(event.model_id, event)
        self._batch_events = first_events
        if self._rewind_due and self._rebuilding is None:  # lost ranges first: no model takes in a newer event
            await self._rewind(patient=True)                # before the older ones it lost
            self._batch_events = first_events
        if not self._layout_checked:
            moved = await self._retry(self.store.migrate_legacy_layout, "renaming Redis keys to the cluster layout",
                                      "redis")
            if moved:
                log.info("renamed %d Redis keys to the hash-tagged layout", moved)
            self._layout_checked = True
        await self._ensure_loaded(first_events)
        buffer = await self._label_buffer(decoded)
        self.fleet.labels = buffer
        outputs = self._apply(decoded, report, taken_in, write)
        if self._rebuilding is not None:
            self._tell_rebuilt(self._rebuilding, {model_id for _, model_id in taken_in})
            report.dead_letters = []  # they were sent when these messages were first read
        write.labels = buffer.changes
        for model_id in itertools.chain(self.system_alerts, _models_of(buffer)):
            outputs.setdefault(model_id, [])
        for model_id, model_outputs in outputs.items():
            write.models[model_id] = self._model_write(model_id, model_outputs, report)
        for letter in report.dead_letters:
            write.count(f"dead_letters:{letter.reason.value}")
        write.count("alerts", report.alerts)
        write.count("system_alerts", report.system_alerts)
        write.count("retrain_requests", report.retrain_requests)
        write.count("stale_events", report.stale_events)  # of a version a deployment replaced
        write.count("stale_labels", report.stale_labels)  # for predictions made before the last reset
        await self._send_dead_letters(report.dead_letters)
        result = await self._retry(lambda: self.store.commit(write), "saving state to Redis", "redis")
        await self._after_commit(write, result)
        await self._send_outbox([(m, item) for m, w in write.models.items() for item in w.outbox],
                                recovering=self._rebuilding is not None)
        self._count(report, taken_in)
        return report

    def _tell_rebuilt(self, rewind: Rewind, models: Set[str]) -> None:
        """A model that takes in an event of a range read again had lost it: a `state` alert, written with it."""
        for model_id in models - self._rebuilt:
            self._rebuilt.add(model_id)
            log.error("model %s: its state in Redis was lost; rebuilding it from Kafka: %s", model_id,
                      rewind.describe(), extra={"model": model_id})
            self.metrics.state_lost.labels("rebuild").inc()
            self.system_alerts.setdefault(model_id, []).append(system_alerts.state_rebuilt(
                model_id, self._batch_events.get(model_id), rewind.partition, rewind.start, rewind.end,
                rewind.describe()))

    async def _after_commit(self, write: BatchWrite, result: CommitResult) -> None:
        """Learn from a saved batch whether Redis had lost state, and if so re-read what it may have lost.

        A model this worker held is already whole again (its write re-claimed it). Others may have lost
        state too, so every owned partition is checked before the next batch. Models loaded by this very
        batch are put back as loaded: what the batch added to them missed what was lost before it."""
        for model_id, model_write in write.models.items():
            self.seqs[model_id] = model_write.seq
        regressed = set()
        for tp, before in result.progress_before.items():
            expected = write.progress_expected.get(tp)
            if expected is None or before == expected:
                self._progress_written[tp] = write.progress[tp]
                continue
            if before is None or before < expected:
                regressed.add(tp)  # not advanced: Redis keeps the offset to re-read from
            if before is None:
                self._progress_written.pop(tp, None)
            else:
                self._progress_written[tp] = before
        for model_id, how in result.lost.items():
            log.error("model %s: its state in Redis was lost (%s); this worker wrote back the state it holds",
                      model_id, how, extra={"model": model_id})
            self.metrics.state_lost.labels("rewrite").inc()
            self._queue_alert(system_alerts.state_rewritten(model_id, self._batch_events.get(model_id),
                                                            self.worker_name, how, write.models[model_id].seq))
        if not result.lost and not regressed:
            return
        log.error("Redis lost state (%s); checking every owned partition for what to read again",
                  ", ".join(sorted(regressed)) or "found by model writes")
        for tp, before in result.progress_before.items():
            if tp not in self._progress_before:
                self._progress_before[tp] = before
        self._rewind_due |= self.assigned
        suspect = {m: saved for m, saved in self._loaded_now.items() if m in write.models and m not in result.lost}
        for model_id, saved in suspect.items():
            await self._retry(lambda m=model_id, s=saved: self.store.put_back(m, s),  # type: ignore[misc]
                              "putting back a model loaded as Redis lost state", "redis")
        self.forget_models(suspect)

    def _apply(self, decoded: list[tuple[InboundMessage, list[InboundEvent]]], report: BatchReport,
               taken_in: dict[tuple[str, str], int], write: BatchWrite) -> dict[str, list[MonitorOutput]]:
        """Each model's events of the batch go to its monitor in one call (columns, detectors/monitor.py).

        A failure there is a bug in some event's detectors: it is raised as `_DetectorBug`, and the
        batch runs again from Redis one event at a time, so that only the failing event's message is
        dead-lettered and the worker goes on."""
        per_model: dict[str, list[InboundEvent]] = {}
        outputs: dict[str, list[MonitorOutput]] = {}
        for message, events in decoded:
            tp = partition_key(message.topic, message.partition)
            write.count(f"events:{message.topic}", len(events))
            if self._one_event_at_a_time:
                self._apply_one_at_a_time(message, tp, events, outputs, report, taken_in)
                continue
            for model_id, model_events in by_model(events).items():
                if self._is_replay(message.offset, tp, model_id):
                    report.skipped_replays += len(model_events)
                    continue
                per_model.setdefault(model_id, []).extend(model_events)
                self._taken_in(message, tp, model_id, len(model_events), report, taken_in)
        update_seconds = self.metrics.detector_update_seconds
        for model_id, model_events in per_model.items():
            started = time.perf_counter()
            try:
                outputs[model_id] = [self.fleet.handle_many(model_id, model_events)]
            except Exception as exc:
                raise _DetectorBug(model_id) from exc
            update_seconds.observe(time.perf_counter() - started)
        return outputs

    def _apply_one_at_a_time(self, message: InboundMessage, tp: str, events: list[InboundEvent],
                             outputs: dict[str, list[MonitorOutput]], report: BatchReport,
                             taken_in: dict[tuple[str, str], int]) -> None:
        """After a detector bug: each event on its own; the first that fails dead-letters its message."""
        handled: dict[str, int] = {}
        for event in events:
            if self._is_replay(message.offset, tp, event.model_id):
                report.skipped_replays += 1
                continue
            try:
                outputs.setdefault(event.model_id, []).append(self.fleet.handle(event))
            except Exception as exc:  # a bug must not stop the worker; the message is kept
                log.exception("processing %s failed", _where(message))
                report.dead_letters.append(_dead_letter(message, DeadLetterReason.PROCESSING_ERROR,
                                                        f"{type(exc).__name__}: {exc}"))
                break
            handled[event.model_id] = handled.get(event.model_id, 0) + 1
        for model_id, count in handled.items():
            self._taken_in(message, tp, model_id, count, report, taken_in)

    def _taken_in(self, message: InboundMessage, tp: str, model_id: str, count: int, report: BatchReport,
                  taken_in: dict[tuple[str, str], int]) -> None:
        """Count a model's events of a message as taken in, and move its offset past the message."""
        report.events += count
        taken_in[(message.topic, model_id)] = taken_in.get((message.topic, model_id), 0) + count
        self._check_partitioning(model_id, message, tp)
        self.offsets[model_id][tp] = message.offset

    def _count(self, report: BatchReport, taken_in: dict[tuple[str, str], int]) -> None:
        """Metrics move only once the batch is saved, so they count what a crash cannot take back."""
        m = self.metrics
        for (topic, model_id), count in taken_in.items():
            m.events_in.labels(topic, model_id).inc(count)
        for letter in report.dead_letters:
            m.dead_letters.labels(letter.reason.value).inc()
        for alert in report.published:
            m.alert(alert)
        for model_id, count in report.requests_by_model.items():
            m.retrain_requests.labels(model_id).inc(count)
        for model_id, count in report.stale_by_model.items():
            m.stale_events.labels(model_id).inc(count)
        if report.skipped_replays:
            m.skipped_replays.inc(report.skipped_replays)
        for window in report.performance:
            m.performance_window(window)

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
            events = self._without_repeats(message, events, report)
            if self.config.allowed_models is None:
                decoded.append((message, events))
                continue
            known = [e for e in events if self.config.knows(e.model_id)]
            for unknown in (e for e in events if not self.config.knows(e.model_id)):
                report.dead_letters.append(_dead_letter(
                    message, DeadLetterReason.UNKNOWN_MODEL,
                    f"model {unknown.model_id!r} is not in allowed_models; add it to the config to monitor it",
                    payload=encode_event(unknown)))
            decoded.append((message, known))
        return decoded

    def _without_repeats(self, message: InboundMessage, events: list[InboundEvent], report: BatchReport
                         ) -> list[InboundEvent]:
        """An envelope that carries one model's event_id twice is a producer bug: the repeat is dead-lettered.

        Repeats across messages are processed (an at-least-once producer may resend); telling them apart
        would need a store of every event_id seen."""
        if len(events) < 2:
            return events
        try:
            if len(set(map(_identity, events))) == len(events):
                return events
        except AttributeError:  # a deployment has no event_id: the loop below handles it
            pass
        seen: set[tuple[str, str]] = set()
        kept = []
        for event in events:
            event_id = getattr(event, "event_id", None)
            if event_id is not None and (event.model_id, event_id) in seen:
                report.dead_letters.append(_dead_letter(
                    message, DeadLetterReason.DUPLICATE_EVENT_ID,
                    f"event_id {event_id!r} of model {event.model_id!r} appears twice in this envelope; "
                    "the first was processed", payload=encode_event(event)))
                continue
            if event_id is not None:
                seen.add((event.model_id, event_id))
            kept.append(event)
        return kept

    async def _ensure_loaded(self, first_events: dict[str, InboundEvent]) -> None:
        missing = first_events.keys() - self.offsets.keys()
        if not missing:
            return
        saved = await self._retry(lambda: self.store.load_models(missing), "loading state from Redis", "redis")
        owed = []
        for model_id, model in saved.items():
            self.offsets[model_id] = dict(model.offsets)
            self.generations[model_id] = model.generation
            self.seqs[model_id] = model.seq
            self._loaded_now[model_id] = model
            owed += [(model_id, item) for item in model.outbox]
            if model.snapshot is None:
                continue
            policy = self.config.policy_for(model_id)
            try:
                self.fleet.monitors[model_id] = decode_snapshot(model.snapshot, self.state_key, policy,
                                                                clock=self.fleet.clock)
            except SnapshotError as exc:
                self.metrics.snapshot_resets.labels(model_id).inc()
                log.error("model %s: its saved detector state is refused (%s); monitoring it from scratch and "
                          "publishing a system alert", model_id, exc)
                self.fleet.monitor(model_id)  # a fresh one, written back even if every event is a replay
                self.system_alerts.setdefault(model_id, []).append(system_alerts.snapshot_refused(
                    model_id, first_events[model_id], model.snapshot, str(exc)))
        await self._send_outbox(owed, recovering=True)

    async def _label_buffer(self, decoded: list[tuple[InboundMessage, list[InboundEvent]]]) -> BatchLabelBuffer:
        """Prefetch the join's keys this batch may take. A label whose prediction this batch holds before it
        needs no read: that prediction replaces whatever Redis has under its key."""
        held_here: set[Key] = set()
        wanted_predictions: list[Key] = []
        for message, events in decoded:
            tp = partition_key(message.topic, message.partition)
            for event in events:
                if isinstance(event, LabelEvent):
                    if (event.model_id, event.event_id) not in held_here:
                        wanted_predictions.append((event.model_id, event.event_id))
                elif isinstance(event, PredictionEvent) and event.label is None and self._held_by_this_batch(
                        message.offset, tp, event):
                    held_here.add((event.model_id, event.event_id))
        monitors = self.fleet.monitors
        wanted_labels: list[Key] = [(e.model_id, e.event_id) for _, events in decoded for e in events
                                    if isinstance(e, PredictionEvent) and e.label is None
                                    and _may_hold_early_labels(monitors.get(e.model_id))]
        predictions, labels = await self._retry(
            lambda: self.store.load_labels(wanted_predictions, wanted_labels), "reading the label join", "redis")
        return BatchLabelBuffer(predictions, labels, self.settings.label_ttl_seconds)

    def _held_by_this_batch(self, offset: int, tp: str, event: PredictionEvent) -> bool:
        """Whether `_apply` will hold this unlabelled prediction in the join: not a replay the model's
        snapshot already covers, nor an event of the version its last deployment replaced."""
        monitor = self.fleet.monitors.get(event.model_id)
        return not self._is_replay(offset, tp, event.model_id) and (monitor is None or not monitor.is_stale(event))

    def _is_replay(self, offset: int, tp: str, model_id: str) -> bool:
        """A message at or below the offset the model's snapshot covers: its events are in that state already."""
        return offset <= self.offsets.get(model_id, {}).get(tp, -1)

    def _model_write(self, model_id: str, outputs: list[MonitorOutput], report: BatchReport) -> ModelWrite:
        monitor = self.fleet.monitor(model_id)
        generation = self.generations[model_id]
        write = ModelWrite(snapshot=encode_snapshot(monitor, self.state_key), offsets=dict(self.offsets[model_id]),
                           generation=generation, seq=f"{generation}.{self.worker_name}.{next(self._write_ids)}",
                           expected_seq=self.seqs.get(model_id, ""))
        for system_alert in self.system_alerts.pop(model_id, []):
            report.published.append(system_alert)
            write.outbox.append(OutboxItem(system_alert.alert_id, len(write.outbox), self.topics.alerts, model_id,
                                           system_alert.model_dump_json()))
            report.system_alerts += 1
        for out in outputs:
            for alert in out.alerts:
                report.published.append(alert)
                write.outbox.append(OutboxItem(alert.alert_id, len(write.outbox), self.topics.alerts, model_id,
                                               alert.model_dump_json()))
            for request in out.retrain_requests:
                report.requests_by_model[model_id] = report.requests_by_model.get(model_id, 0) + 1
                write.outbox.append(OutboxItem(request.request_id, len(write.outbox), self.topics.retrain, model_id,
                                               request.model_dump_json()))
            write.windows += out.windows
            write.performance += out.performance
            write.lineage += out.lineage
            report.performance += out.performance
            report.alerts += len(out.alerts)
            report.retrain_requests += len(out.retrain_requests)
            report.stale_events += out.stale_events
            if out.stale_events:
                report.stale_by_model[model_id] = report.stale_by_model.get(model_id, 0) + out.stale_events
            report.stale_labels += out.stale_labels
        return write

    async def _send_dead_letters(self, letters: list[DeadLetter]) -> None:
        if letters:
            await self._retry(lambda: self._deliver([(self.topics.dlq, letter.key or "", letter.model_dump_json())
                                                     for letter in letters]), "sending dead letters", "kafka")

    async def _send_outbox(self, owed: list[tuple[str, OutboxItem]], *, recovering: bool = False) -> None:
        """Send, wait for Kafka's confirmation, then clear. Anything that might already have reached Kafka
        (left over from a crash, or a send being retried) is first looked up there, so it is not sent twice."""
        if not owed:
            return
        attempts = 0

        async def send() -> None:
            nonlocal attempts
            attempts += 1
            todo = [item for _, item in owed]
            if self.published is not None and (recovering or attempts > 1):
                ids_by_topic: dict[str, set[str]] = {}
                for item in todo:
                    ids_by_topic.setdefault(item.topic, set()).add(item.id)
                there = await self.published.find(ids_by_topic)
                if there:
                    log.info("%d owed alerts or requests were already in Kafka; not sending them again", len(there))
                todo = [item for item in todo if item.id not in there]
            await self._deliver([(item.topic, item.key, item.value) for item in todo])

        await self._retry(send, "sending alerts to Kafka", "kafka")
        await self._retry(lambda: self.store.clear_outbox((m, item.id) for m, item in owed), "clearing the outbox",
                          "redis")

    async def _deliver(self, messages: list[tuple[str, str, str]]) -> None:
        pending = [await self.publisher.send(topic, key, value.encode()) for topic, key, value in messages]
        await asyncio.gather(*pending)

    async def _retry(self, operation: Callable[[], Awaitable[T]], what: str, system: Literal["redis", "kafka"]) -> T:
        """Retry with exponential backoff until it passes: a fault pauses the worker, never loses data.

        A lost connection is waited out quietly (`/ready` and the outage gauge say so); any other
        failure (Redis out of memory, read-only, MOVED, NOPERM, a bug) also raises a `system` alert.
        A refused write (FencedError) is not retried here: the batch must be applied again."""
        delay = 0.1
        failures = 0
        while True:
            try:
                result = await operation()
            except FencedError:
                raise
            except Exception as exc:
                failures += 1
                (self.metrics.redis_errors if system == "redis" else self.metrics.kafka_errors).labels(what).inc()
                alert = system == "redis" and not _is_transient(exc)
                self._fault(what, system, system, exc, failures, delay, alert=alert)
            else:
                self._fault_cleared(what, failures)
                return result
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max_seconds)

    def _fault(self, what: str, system: str, detector: str, exc: Exception, failures: int, delay: float, *,
               alert: bool) -> None:
        cause = describe_error(exc)
        self.outage = f"{what} failed {failures} times: {cause}"
        self.metrics.outage.set(1)
        log.warning("%s failed (%s); retrying in %.1fs; nothing is acknowledged meanwhile", what, cause, delay,
                    extra={"operation": what, "system": system, "failures": failures})
        if self._fault_started is None:
            self._fault_started = time.time()
        if alert and failures == 1:
            for model_id, event in self._batch_events.items():
                self._queue_alert(system_alerts.worker_fault(model_id, event, self.worker_name, detector,
                                                             f"{what} failed: {cause}", self._fault_started))
            asyncio.get_running_loop().create_task(self._send_unsent_alerts())  # Kafka may well answer

    def _fault_cleared(self, what: str, failures: int) -> None:
        if failures:
            log.info("%s succeeded after %d failures", what, failures, extra={"operation": what})
            self.outage = None
            self.metrics.outage.set(0)
            self._fault_started = None

    def _fenced(self, exc: FencedError) -> None:
        """Another worker claimed these models: reload them and apply the batch on top of its state."""
        self.metrics.fenced_writes.inc(len(exc.refused))
        now = time.monotonic()
        for model_id, cause in exc.refused.items():
            log.warning("model %s: write refused, another worker owns its state now (%s); reloading it and applying "
                        "the batch again", model_id, cause, extra={"model": model_id})
            if now - self._fence_reported.get(model_id, -FENCE_ALERT_EVERY_SECONDS) >= FENCE_ALERT_EVERY_SECONDS:
                self._fence_reported[model_id] = now  # two workers fed one model would refuse each other all day
                self._queue_alert(system_alerts.write_fenced(model_id, self._batch_events.get(model_id),
                                                             self.worker_name, cause))
        self.forget_models(exc.refused)

    def _check_partitioning(self, model_id: str, message: InboundMessage, tp: str) -> None:
        """A model seen on a second partition of one topic means a producer partitions differently."""
        offsets = self.offsets[model_id]
        if tp in offsets or (model_id, message.topic) in self._split_reported:
            return
        prefix = f"{message.topic}:"
        partitions = sorted({int(k[len(prefix):]) for k in offsets if k.startswith(prefix)} | {message.partition})
        if len(partitions) < 2:
            return
        self._split_reported.add((model_id, message.topic))
        log.error("model %s arrived on partitions %s of %s: producers must key by model_id with the murmur2 "
                  "partitioner (librdkafka: partitioner=murmur2_random)", model_id, partitions, message.topic,
                  extra={"model": model_id})
        self._queue_alert(system_alerts.split_partitions(model_id, self._batch_events[model_id], message.topic,
                                                         partitions))

    def _queue_alert(self, alert: DriftAlert) -> None:
        if alert.alert_id not in self._unsent_alerts:
            self.metrics.alert(alert)
        self._unsent_alerts[alert.alert_id] = alert

    async def _send_unsent_alerts(self) -> None:
        """System alerts about the worker itself go straight to Kafka (Redis may be what failed), when it answers."""
        async with self._sending_alerts:
            alerts = list(self._unsent_alerts.values())
            if not alerts:
                return
            try:
                await asyncio.wait_for(self._deliver([(self.topics.alerts, a.model_id, a.model_dump_json())
                                                      for a in alerts]), timeout=10)
            except Exception as exc:
                log.warning("could not publish %d system alerts yet (%s); trying again after the next batch",
                            len(alerts), describe_error(exc))
                return
            for alert in alerts:
                self._unsent_alerts.pop(alert.alert_id, None)


def describe_error(exc: BaseException) -> str:
    """Type and message of an error, without the command redis-py quotes (it may hold snapshot bytes)."""
    text = str(exc)
    _, marker, rest = text.partition("of pipeline caused error: ")
    if marker:
        text = rest
    text = text.splitlines()[0] if text else ""
    if len(text) > 300:
        text = text[:300] + "..."
    return f"{type(exc).__name__}: {text}"


def _is_transient(exc: Exception) -> bool:
    """A lost or slow connection: worth waiting out without bothering anyone beyond /ready."""
    if isinstance(exc, redis.AuthenticationError | redis.exceptions.AuthorizationError):
        return False
    if isinstance(exc, OSError | TimeoutError | redis.ConnectionError | redis.TimeoutError | KafkaException):
        return True
    module = type(exc).__module__
    return module.startswith(("aiokafka", "kafka")) and "Error" in type(exc).__name__


def _may_hold_early_labels(monitor: ModelMonitor | None) -> bool:
    """Whether a model's predictions need their early labels looked up: not when its count of early
    labels held, saved with its state and its label join in one write, is 0."""
    return monitor is None or monitor.early_labels_held != 0


def _models_of(buffer: BatchLabelBuffer) -> set[str]:
    """Models whose label join changed: each needs a write, since the join is saved with the model's state."""
    changes = buffer.changes
    return {model_id for model_id, _ in itertools.chain(changes.predictions_held, changes.predictions_taken,
                                                          changes.labels_held, changes.labels_taken)}


def by_model(events: list[E]) -> dict[str, list[E]]:
    """Events per model, in order; an envelope of one model (as the SDKs send) is not copied, and is
    recognised at C speed (the bench's in-process figure groups its runs with this too)."""
    if not events:
        return {}
    ids = list(map(_model_id_of, events))
    if ids.count(ids[0]) == len(ids):
        return {ids[0]: events}
    grouped: dict[str, list[E]] = {}
    for model_id, event in zip(ids, events, strict=True):
        grouped.setdefault(model_id, []).append(event)
    return grouped


_model_id_of = operator.attrgetter("model_id")


_identity = operator.attrgetter("model_id", "event_id")
"""(model_id, event_id) of an event that has an id, at C speed."""


def _where(message: InboundMessage) -> str:
    return f"{message.topic}[{message.partition}]@{message.offset}"


def _dead_letter(message: InboundMessage, reason: DeadLetterReason, detail: str,
                 payload: bytes | None = None) -> DeadLetter:
    log.warning("dead letter %s: %s: %s", _where(message), reason.value, detail[:300])
    return DeadLetter.of(reason=reason, detail=detail, payload=message.value if payload is None else payload,
                         topic=message.topic, partition=message.partition, offset=message.offset, key=message.key)

