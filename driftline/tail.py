"""`driftline tail alerts|retrain|dlq`: print a topic's events as JSON lines."""

import time
from collections.abc import Iterator

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

from driftline.settings import Settings


def tail(settings: Settings, topic: str, *, from_beginning: bool = False, max_messages: int | None = None,
         timeout: float | None = None) -> Iterator[str]:
    """Values of `topic` as text, every partition, with no consumer group (nothing is committed)."""
    consumer = Consumer({**settings.kafka_client_config(), "group.id": "driftline-tail",
                         "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise ValueError(f"topic {topic} does not exist on {settings.bootstrap_servers}")
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        consumer.assign([TopicPartition(topic, p, start) for p in metadata.partitions])
        seen = 0
        deadline = None if timeout is None else time.monotonic() + timeout
        while (max_messages is None or seen < max_messages) and (deadline is None or time.monotonic() < deadline):
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            value = message.value()
            if value is None:
                continue
            seen += 1
            yield value.decode("utf-8", "replace")
    finally:
        consumer.close()
