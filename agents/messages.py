"""A Kafka message as the worker handles it, whichever consumer read it, and how partitions are named."""

from dataclasses import dataclass


@dataclass(frozen=True)
class InboundMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def partition_key(topic: str, partition: int) -> str:
    """A partition's name in Redis and in logs: "topic:partition"."""
    return f"{topic}:{partition}"


def split_partition_key(key: str) -> tuple[str, int]:
    topic, _, partition = key.rpartition(":")
    return topic, int(partition)
