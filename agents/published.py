"""Which owed outbox messages Kafka already holds: the check that keeps a crash from duplicating an alert.

An alert is persisted in the outbox, sent, and cleared from the outbox once Kafka confirms it. A
worker killed between the confirmation and the clearing finds the alert still owed when it restarts.
Before re-sending, it reads the recent end of the topic and drops what is already there. Alert and
request ids are deterministic hashes, so finding the id's bytes in a message is enough. This costs
a short read of the alert topics, and happens only when an outbox was left non-empty or a send was retried.
"""

import asyncio
from collections.abc import Mapping, Set

from confluent_kafka import Consumer, KafkaException, TopicPartition

from agents.partition_ends import read_to_ends
from driftline.settings import Settings

LOOKBACK_MESSAGES = 10_000  # per partition: alerts are rare, so this spans far more than a restart's worth


class KafkaPublishedLog:
    def __init__(self, settings: Settings, *, lookback: int = LOOKBACK_MESSAGES, timeout: float = 30.0) -> None:
        self.settings = settings
        self.lookback = lookback
        self.timeout = timeout

    async def find(self, ids_by_topic: Mapping[str, Set[str]]) -> set[str]:
        return await asyncio.to_thread(self._find, ids_by_topic)

    def _find(self, ids_by_topic: Mapping[str, Set[str]]) -> set[str]:
        wanted = {topic: {i.encode() for i in ids} for topic, ids in ids_by_topic.items() if ids}
        if not wanted:
            return set()
        consumer = Consumer({**self.settings.kafka_client_config(), "group.id": "driftline-outbox-check",
                             "enable.auto.commit": False, "enable.partition.eof": True})
        try:
            return self._scan(consumer, wanted)
        finally:
            consumer.close()

    def _scan(self, consumer: Consumer, wanted: dict[str, set[bytes]]) -> set[str]:
        """Read each partition from `lookback` before its end up to the end a fetch reports
        (agents/partition_ends.py). ListOffsets only picks where to start; an under-reported end makes
        that start earlier, which reads more, never less."""
        starts: list[TopicPartition] = []
        for topic in wanted:
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            if metadata.error is not None:
                raise KafkaException(metadata.error)
            for partition in metadata.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                starts.append(TopicPartition(topic, partition, max(low, high - self.lookback)))
        if not starts:
            return set()
        found: set[str] = set()
        for message in read_to_ends(consumer, starts, timeout=self.timeout,
                                    what=f"back {sorted(wanted)} to check owed alerts"):
            value = message.value() or b""
            found |= {i.decode() for i in wanted[str(message.topic())] if i in value}
        return found
