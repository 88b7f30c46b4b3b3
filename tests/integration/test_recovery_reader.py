"""The reader that re-reads what Redis lost, against the real broker: the group's committed offsets,
where a rebuild may start, and exactly the range asked for."""

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from agents.recovery import KafkaPartitions, Rewind
from driftline.embedded import EmbeddedBroker, EmbeddedRedis
from tests.faults import private_settings

pytestmark = pytest.mark.integration


def filled(broker: EmbeddedBroker, redis_service: EmbeddedRedis, count: int, *, timestamp_ms: int | None = None
           ) -> tuple[KafkaPartitions, str]:
    settings = private_settings(broker.url, redis_service.url, partitions=1)
    topic = settings.topics.predictions
    producer = Producer(settings.kafka_producer_config())
    for i in range(count):
        producer.produce(topic, key=b"m", value=f"{i}".encode(), partition=0,
                         timestamp=(timestamp_ms or 0) + i if timestamp_ms else 0)
    assert producer.flush(30) == 0
    return KafkaPartitions(settings, f"{settings.topic_prefix}group"), topic


async def read_all(source: KafkaPartitions, rewind: Rewind, chunk: int) -> list[list[int]]:
    return [[m.offset for m in messages] async for messages in source.read(rewind, chunk)]


async def test_a_range_is_read_exactly_in_chunks(broker: EmbeddedBroker, redis_service: EmbeddedRedis) -> None:
    source, topic = filled(broker, redis_service, 50)
    chunks = await read_all(source, Rewind(f"{topic}:0", 10, 30, 9), chunk=7)
    assert [offset for chunk in chunks for offset in chunk] == list(range(10, 30))
    assert max(len(chunk) for chunk in chunks) == 7


async def test_a_range_past_the_partitions_end_stops_at_the_end(
        broker: EmbeddedBroker, redis_service: EmbeddedRedis) -> None:
    source, topic = filled(broker, redis_service, 12)
    chunks = await read_all(source, Rewind(f"{topic}:0", 5, 1_000, 4), chunk=100)
    assert [offset for chunk in chunks for offset in chunk] == list(range(5, 12))


async def test_committed_offsets_are_the_groups_own(broker: EmbeddedBroker, redis_service: EmbeddedRedis) -> None:
    source, topic = filled(broker, redis_service, 20)
    partition = f"{topic}:0"
    assert await source.committed([partition]) == {}, "a group that never committed"
    member = Consumer({**source.settings.kafka_client_config(), "group.id": source.group_id,
                       "enable.auto.commit": False})
    try:
        member.commit(offsets=[TopicPartition(topic, 0, 17)], asynchronous=False)
    finally:
        member.close()
    assert await source.committed([partition]) == {partition: 17}


async def test_a_rebuild_starts_at_the_earliest_retained_offset_or_within_the_window(
        broker: EmbeddedBroker, redis_service: EmbeddedRedis) -> None:
    two_hours_ago = int((time.time() - 2 * 3_600) * 1000)
    source, topic = filled(broker, redis_service, 10, timestamp_ms=two_hours_ago)
    producer = Producer(source.settings.kafka_producer_config())
    for i in range(5):
        producer.produce(topic, key=b"m", value=f"new{i}".encode(), partition=0)
    assert producer.flush(30) == 0
    partition = f"{topic}:0"
    assert await source.earliest([partition]) == {partition: 0}
    source.rebuild_hours = 1.0
    start = (await source.earliest([partition]))[partition]
    assert start <= 10, "Kafka answers 10; Tansu answers every time lookup with the log's start"
    chunks = await read_all(source, Rewind(partition, start, 15, None), chunk=100)
    assert [offset for chunk in chunks for offset in chunk] == list(range(10, 15)), "the last hour only"
    chunks = await read_all(source, Rewind(partition, 0, 15, 3), chunk=100)
    assert len([offset for chunk in chunks for offset in chunk]) == 15, "a state that is behind needs every event"
