"""Read assigned partitions to their ends, as a fetch tells them.

The end is the broker's end-of-partition event on a fetch (`enable.partition.eof`), never the end
offset ListOffsets reports: Tansu's ListOffsets answers short of the last record batch, and stopping
there missed records the log already held (alerts were then sent twice).
"""

import time
from collections.abc import Callable, Iterator
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition


def read_to_ends(consumer: Consumer, starts: list[TopicPartition], *, timeout: float, what: str,
                 stop_before: Callable[[Message], bool] | None = None) -> Iterator[Message]:
    """Assign `starts` and yield each record until every partition has reported its end, or has come to
    a record `stop_before` refuses (that record is not yielded; the partition is done). The consumer
    must have `enable.partition.eof` set. TimeoutError after `timeout` seconds (`what` says what was
    being read); KafkaException on any other fetch error."""
    reading = {(tp.topic, tp.partition) for tp in starts}
    if not reading:
        return
    consumer.assign(starts)
    deadline = time.monotonic() + timeout
    while reading:
        if time.monotonic() > deadline:
            raise TimeoutError(f"reading {what} took over {timeout:.0f}s; unfinished partitions: {sorted(reading)}")
        message = consumer.poll(0.5)
        if message is None:
            continue
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                raise KafkaException(error)
            reading.discard((str(message.topic()), int(message.partition() or 0)))
            continue
        if stop_before is not None:
            where = (str(message.topic()), int(message.partition() or 0))
            if where not in reading:
                continue  # fetched before the pause took
            if stop_before(message):
                reading.discard(where)
                consumer.pause([TopicPartition(*where)])
                continue
        yield message


def read_topic(config: dict[str, Any], topic: str, *, timeout: float) -> Iterator[bytes]:
    """Every retained record value of `topic`, each partition from its start to its end, with a consumer
    of `config` (client settings and a `group.id`; nothing is committed). A topic that does not exist
    holds nothing."""
    consumer = Consumer({**config, "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            return
        starts = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions]
        for message in read_to_ends(consumer, starts, timeout=timeout, what=topic):
            value = message.value()
            if value is not None:
                yield value
    finally:
        consumer.close()
