"""A model's labelled examples, read from Kafka by event time, and read again exactly from the offsets
recorded the first time.

Predictions come from the predictions topic, labels inline or from the labels topic (joined on
event_id; a label event overrides an inline label, the last one by offset winning). Each partition
is read from the first record appended at or after `from_ts - skew_seconds`
(`offsets_for_times`): an event is sent after it happens, so with producers' clocks within
`skew_seconds` of the broker's no earlier record can carry an event of the window. Each partition
is then read to its end (or to the first record appended after the read began), and the range read
is recorded. Reading those
ranges again, with the same window and count, gives the same examples and the same fingerprint for
as long as the topics retain them; records already deleted by retention raise DataGone.
"""

import hashlib
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from pydantic import BaseModel, ConfigDict

from agents.partition_ends import read_to_ends
from driftline.settings import Settings
from schemas.codec import DecodeError, decode_events
from schemas.events import Features, LabelEvent, PredictionEvent
from schemas.lineage import OffsetRange, TrainingData
from schemas.types import Score, Target

log = logging.getLogger(__name__)


class DataGone(RuntimeError):
    """Recorded offsets the topics no longer hold (retention deleted them)."""


class Example(BaseModel):
    """One labelled prediction: what the model saw, what it said, and the truth."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str
    model_version: str
    ts: float
    features: Features
    prediction: Target
    label: Target
    score: Score | None = None

    def as_event(self, model_id: str) -> PredictionEvent:
        """The example as a prediction event with its label inline (how `driftline export` writes it)."""
        return PredictionEvent(model_id=model_id, model_version=self.model_version, event_id=self.event_id,
                               ts=self.ts, features=self.features, prediction=self.prediction, label=self.label,
                               score=self.score)


@dataclass(frozen=True)
class TrainingSet:
    model_id: str
    examples: list[Example]
    """Oldest first, by (ts, event_id)."""
    data: TrainingData

    def split(self, validation: int) -> tuple[list[Example], list[Example]]:
        """The training part and the most recent `validation` examples, held out."""
        cut = max(0, len(self.examples) - validation)
        return self.examples[:cut], self.examples[cut:]


def fingerprint(examples: list[Example]) -> str:
    """SHA-256 over the examples' canonical JSON, one a line, in (ts, event_id) order."""
    digest = hashlib.sha256()
    for example in sorted(examples, key=_order):
        digest.update(example.model_dump_json().encode())
        digest.update(b"\n")
    return digest.hexdigest()


def read_examples(settings: Settings, model_id: str, from_ts: float, to_ts: float | None = None, *,
                  max_examples: int | None = None, skew_seconds: float = 300.0, timeout: float = 120.0
                  ) -> TrainingSet:
    """`model_id`'s labelled predictions stamped in [from_ts, to_ts] (to_ts None: up to now), the
    earliest `max_examples` of them, with the offset ranges read."""
    topics = [settings.topics.predictions, settings.topics.labels]
    consumer = _consumer(settings)
    try:
        starts = _starts(consumer, topics, from_ts - skew_seconds)
        ranges, records = _read(consumer, starts, timeout)
    finally:
        consumer.close()
    examples = _join(records, settings.topics.labels, model_id, from_ts, math.inf if to_ts is None else to_ts)
    if max_examples is not None:
        examples = examples[:max_examples]
    last = to_ts if to_ts is not None else (examples[-1].ts if examples else from_ts)
    return TrainingSet(model_id, examples, TrainingData(
        from_ts=from_ts, to_ts=max(last, from_ts), ranges=ranges, examples=len(examples), validation_examples=0,
        fingerprint=fingerprint(examples)))


def wait_for_examples(settings: Settings, model_id: str, from_ts: float, *, count: int, max_wait_seconds: float,
                      poll_seconds: float = 2.0, skew_seconds: float = 300.0, timeout: float = 120.0) -> TrainingSet:
    """`read_examples` from `from_ts` on until `count` labelled examples exist or `max_wait_seconds`
    pass: the earliest `count` of them, or all there are then."""
    deadline = time.monotonic() + max_wait_seconds
    while True:
        found = read_examples(settings, model_id, from_ts, max_examples=count, skew_seconds=skew_seconds,
                              timeout=timeout)
        if len(found.examples) >= count or time.monotonic() >= deadline:
            return found
        log.info("%d of the %d labelled examples of %s wanted since %s are in Kafka; reading again in %.0fs",
                 len(found.examples), count, model_id, from_ts, poll_seconds)
        time.sleep(poll_seconds)


def reread(settings: Settings, model_id: str, data: TrainingData, *, timeout: float = 120.0) -> TrainingSet:
    """The examples `data` describes, from exactly its offset ranges; DataGone where they are deleted."""
    consumer = _consumer(settings)
    try:
        records = list(_read_ranges(consumer, data.ranges, timeout))
    finally:
        consumer.close()
    examples = _join(records, settings.topics.labels, model_id, data.from_ts, data.to_ts)[:data.examples]
    return TrainingSet(model_id, examples, data.model_copy(update={"examples": len(examples),
                                                                   "fingerprint": fingerprint(examples)}))


_Record = tuple[str, bytes]  # (topic, value) in the order read


def _consumer(settings: Settings) -> Consumer:
    return Consumer({**settings.kafka_client_config(), "group.id": "driftline-training-data",
                     "enable.auto.commit": False, "enable.partition.eof": True, "auto.offset.reset": "error"})


def _starts(consumer: Consumer, topics: list[str], since: float) -> list[TopicPartition]:
    wanted = []
    for topic in topics:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            continue
        wanted += [TopicPartition(topic, p, max(0, int(since * 1000))) for p in sorted(metadata.partitions)]
    if not wanted:
        return []
    try:
        found = consumer.offsets_for_times(wanted, timeout=10)
    except KafkaException:  # a broker without timestamp lookups: read the whole retained log
        return [TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING) for tp in wanted]
    return [TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END) for tp in found]


def _read(consumer: Consumer, starts: list[TopicPartition], timeout: float) -> tuple[list[OffsetRange], list[_Record]]:
    """Each partition from its start to its end, or to the first record appended after this read began:
    a partition that keeps growing would otherwise never end (a broker may report its end only when a
    fetch comes back empty). What arrives later is for the next read."""
    first: dict[tuple[str, int], int] = {(tp.topic, tp.partition): tp.offset for tp in starts if tp.offset >= 0}
    last: dict[tuple[str, int], int] = {}
    records: list[_Record] = []
    began_ms = time.time() * 1000

    def appended_later(message: Message) -> bool:
        kind, stamp = message.timestamp()
        return bool(kind != TIMESTAMP_NOT_AVAILABLE and stamp > began_ms)

    for message in read_to_ends(consumer, starts, timeout=timeout, what="the training data",
                                stop_before=appended_later):
        where = (str(message.topic()), int(message.partition() or 0))
        first.setdefault(where, int(message.offset() or 0))
        last[where] = int(message.offset() or 0)
        if message.value() is not None:
            records.append((where[0], message.value()))  # type: ignore[arg-type]
    ranges = [OffsetRange(topic=t, partition=p, start=first[(t, p)], end=last[(t, p)] + 1 if (t, p) in last
                          else first[(t, p)]) for t, p in sorted(first)]
    return ranges, records


def _read_ranges(consumer: Consumer, ranges: list[OffsetRange], timeout: float) -> Iterator[_Record]:
    wanted = {(r.topic, r.partition): r for r in ranges if r.end > r.start}
    last: dict[tuple[str, int], int] = {}
    starts = [TopicPartition(r.topic, r.partition, r.start) for r in wanted.values()]
    try:
        for message in read_to_ends(consumer, starts, timeout=timeout, what="the recorded training data",
                                    stop_before=lambda m: int(m.offset() or 0) >= wanted[
                                        (str(m.topic()), int(m.partition() or 0))].end):
            where = (str(message.topic()), int(message.partition() or 0))
            last[where] = int(message.offset() or 0)
            if message.value() is not None:
                yield where[0], message.value()  # type: ignore[misc]
    except KafkaException as exc:
        if exc.args[0].code() in (KafkaError.OFFSET_OUT_OF_RANGE, KafkaError._AUTO_OFFSET_RESET):
            raise DataGone(f"the topics no longer hold the recorded offsets (retention deleted them): {exc}") from exc
        raise
    for where, r in wanted.items():
        if last.get(where, r.start - 1) < r.end - 1:
            raise DataGone(f"{where[0]}[{where[1]}] holds only up to offset {last.get(where, r.start - 1)}, not "
                           f"{r.end - 1}: the recorded training data is no longer all there")


def _join(records: list[_Record], labels_topic: str, model_id: str, from_ts: float, to_ts: float) -> list[Example]:
    predictions: dict[str, PredictionEvent] = {}
    labels: dict[str, Target] = {}
    for topic, value in records:
        try:
            events: list[LabelEvent | PredictionEvent] = (
                list(decode_events(value, LabelEvent)) if topic == labels_topic
                else list(decode_events(value, PredictionEvent)))
        except DecodeError:
            continue  # the worker dead-letters these; a training set simply does not contain them
        for event in events:
            if event.model_id != model_id:
                continue
            if isinstance(event, LabelEvent):
                labels[event.event_id] = event.label
            elif isinstance(event, PredictionEvent) and from_ts <= event.ts <= to_ts:
                predictions.setdefault(event.event_id, event)
    examples = []
    for event in predictions.values():
        label = labels.get(event.event_id, event.label)
        if label is not None:
            examples.append(Example(event_id=event.event_id, model_version=event.model_version, ts=event.ts,
                                    features=event.features, prediction=event.prediction, label=label,
                                    score=event.score))
    return sorted(examples, key=_order)


def _order(example: Example) -> tuple[float, str]:
    return example.ts, example.event_id
