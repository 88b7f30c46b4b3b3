"""Re-reading from Kafka what Redis lost: the range each partition needs again, and a reader for it.

Kafka's committed offsets say what the worker group has processed; the `progress` hash in Redis
says what the saved state covers (agents/store.py). Where Redis lost state (emptied, or restored
from an older snapshot) the second falls behind the first, and the events in between would be
skipped for good. `plan_rewinds` turns the two into ranges to read again, and `KafkaPartitions`
reads them.

The processor runs those messages through its usual batch path before its next batch, so models
whose state already covers an offset skip it, as after any crash, and only the models that lost
state take them in. A reader of its own, not a seek of Faust's consumer: Faust drops every message
at or below the offset it last read on a partition, so a seek back would deliver nothing.

Where a partition has no progress in Redis at all although the group committed offsets on it, the
state is rebuilt from the earliest offset the topic still retains (or from `state_rebuild_hours`
ago): whatever retention deleted before that is counted in the `state` alert, not re-read.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaError, KafkaException, TopicPartition

from agents.messages import InboundMessage, partition_key, split_partition_key
from driftline.settings import Settings

IDLE_SECONDS = 30.0  # a range whose end never arrives (a gap, a deleted tail) is ended after this long


@dataclass(frozen=True)
class Rewind:
    """One partition's range to read again: from `start` up to `end`, where the worker resumes."""

    partition: str  # "topic:partition"
    start: int
    end: int
    saved_to: int | None  # the last offset Redis's saved state covered; None: Redis held nothing of it

    @property
    def needed_from(self) -> int:
        return 0 if self.saved_to is None else self.saved_to + 1

    @property
    def unrecoverable(self) -> int:
        """Messages the state needed that are no longer read: deleted by retention, or before the rebuild window."""
        return max(0, self.start - self.needed_from)

    def describe(self) -> str:
        saved = "held nothing of it" if self.saved_to is None else f"covered it up to offset {self.saved_to}"
        text = (f"Redis's saved state {saved} while the worker group had processed it up to offset {self.end - 1}; "
                f"{self.partition} was read again from offset {self.start} to {self.end - 1}")
        if self.unrecoverable:
            text += (f"; {self.unrecoverable} earlier messages could not be re-read (deleted by the topic's "
                     "retention, or before the configured rebuild window), so this state misses their events")
        return text


def plan_rewinds(resume_at: Mapping[str, int], saved_to: Mapping[str, int | None],
                 earliest: Mapping[str, int]) -> list[Rewind]:
    """The ranges to read again: from where each partition's saved state ends (or, where Redis holds
    nothing of it, from the earliest retained offset) up to where the worker resumes. A partition the
    group never committed (resume at 0 or less) was never processed, so nothing of it can be lost."""
    plans = []
    for tp, end in sorted(resume_at.items()):
        if end <= 0:
            continue
        wanted = Rewind(tp, 0, end, saved_to.get(tp))
        if wanted.needed_from < end:
            start = max(wanted.needed_from, earliest.get(tp, 0))
            plans.append(Rewind(tp, min(start, end), end, wanted.saved_to))
    return plans


class PartitionSource(Protocol):
    async def committed(self, partitions: Iterable[str]) -> dict[str, int]:
        """The worker group's committed offset of each partition (absent where it committed none)."""

    async def earliest(self, partitions: Iterable[str]) -> dict[str, int]:
        """The first offset a rebuild may read from on each partition."""

    def read(self, rewind: Rewind, chunk: int) -> AsyncIterator[list[InboundMessage]]:
        """The messages of [rewind.start, rewind.end), `chunk` at most at a time."""


class KafkaPartitions:
    """Kafka through confluent-kafka, outside the worker's consumer group (it joins none)."""

    def __init__(self, settings: Settings, group_id: str, *, rebuild_hours: float | None = None) -> None:
        self.settings = settings
        self.group_id = group_id
        self.rebuild_hours = rebuild_hours

    def _consumer(self, group_id: str) -> Consumer:
        return Consumer({**self.settings.kafka_client_config(), "group.id": group_id, "enable.auto.commit": False,
                         "enable.partition.eof": True})

    def _rebuild_since_ms(self) -> int:
        """The earliest message time a rebuild reads, in ms; 0 where it reads everything retained."""
        return 0 if self.rebuild_hours is None else int((time.time() - self.rebuild_hours * 3_600) * 1000)

    async def committed(self, partitions: Iterable[str]) -> dict[str, int]:
        wanted = [TopicPartition(*split_partition_key(tp)) for tp in partitions]
        if not wanted:
            return {}

        def ask() -> dict[str, int]:
            consumer = self._consumer(self.group_id)
            try:
                found = consumer.committed(wanted, timeout=10)
            finally:
                consumer.close()
            return {partition_key(tp.topic, tp.partition): tp.offset for tp in found if tp.offset >= 0}

        return await asyncio.to_thread(ask)

    async def earliest(self, partitions: Iterable[str]) -> dict[str, int]:
        wanted = [TopicPartition(*split_partition_key(tp)) for tp in partitions]
        if not wanted:
            return {}

        def ask() -> dict[str, int]:
            consumer = self._consumer(f"{self.group_id}-rebuild")
            try:
                found = {partition_key(tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=10)[0]
                         for tp in wanted}
                since_ms = self._rebuild_since_ms()
                if since_ms:
                    at = consumer.offsets_for_times([TopicPartition(tp.topic, tp.partition, since_ms) for tp in wanted],
                                                    timeout=10)
                    for tp in at:
                        if tp.offset >= 0:
                            key = partition_key(tp.topic, tp.partition)
                            found[key] = max(found[key], tp.offset)
            finally:
                consumer.close()
            return found

        return await asyncio.to_thread(ask)

    async def read(self, rewind: Rewind, chunk: int) -> AsyncIterator[list[InboundMessage]]:
        """The range's messages; for a rebuild within `rebuild_hours`, only those stamped within it (a broker
        may answer the time lookup of `earliest` with the log's start: Tansu does)."""
        topic, partition = split_partition_key(rewind.partition)
        not_before_ms = self._rebuild_since_ms() if rewind.saved_to is None else 0
        consumer = self._consumer(f"{self.group_id}-rebuild")
        consumer.assign([TopicPartition(topic, partition, rewind.start)])
        try:
            done = False
            while not done:
                messages, done = await asyncio.to_thread(_next_chunk, consumer, rewind.end, chunk, not_before_ms)
                if messages:
                    yield messages
        finally:
            consumer.close()


def _next_chunk(consumer: Consumer, end: int, chunk: int, not_before_ms: int) -> tuple[list[InboundMessage], bool]:
    """Up to `chunk` messages below `end`, and whether the range is done (its end or the partition's reached).

    The end comes from the fetch (partition EOF), not ListOffsets, which Tansu under-reports."""
    found: list[InboundMessage] = []
    idle_since = time.monotonic()
    while len(found) < chunk:
        message = consumer.poll(0.5)
        if message is None:
            if time.monotonic() - idle_since > IDLE_SECONDS:
                return found, True
            continue
        idle_since = time.monotonic()
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                return found, True
            raise KafkaException(error)
        offset = int(message.offset() or 0)
        if offset >= end:
            return found, True
        kind, stamp = message.timestamp()
        if kind == TIMESTAMP_NOT_AVAILABLE or stamp >= not_before_ms:
            found.append(InboundMessage(str(message.topic()), int(message.partition() or 0), offset, message.key(),
                                        message.value() or b""))
        if offset == end - 1:
            return found, True
    return found, False
