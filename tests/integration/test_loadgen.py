"""The load generator against the real broker: every event arrives, flat out or paced."""

import pytest
from confluent_kafka import Consumer, TopicPartition

from driftline.kafka_admin import ensure_topics
from driftline.settings import Settings
from loadtests.loadgen import produce_flat_out, produce_paced
from loadtests.workload import Workload
from schemas import PredictionEvent, decode_events

pytestmark = pytest.mark.integration


def read_event_ids(settings: Settings, topic: str, expected: int) -> list[str]:
    consumer = Consumer({**settings.kafka_client_config(), "group.id": "loadgen-test", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    ids: list[str] = []
    try:
        for _ in range(300):
            if len(ids) >= expected:
                break
            for message in consumer.consume(500, 0.2):
                if not message.error() and message.value() is not None:
                    ids += [e.event_id for e in decode_events(message.value(), PredictionEvent)]
    finally:
        consumer.close()
    return ids


@pytest.mark.parametrize("batch", [1, 500])
def test_flat_out_sends_every_event_in_order(settings: Settings, batch: int) -> None:
    ensure_topics(settings, [settings.topics.predictions], partitions=1)
    produce_flat_out(settings, settings.topics.predictions, [Workload.w1(1_203)], batch=batch)
    assert read_event_ids(settings, settings.topics.predictions, 1_203) == [f"e{i}" for i in range(1_203)]


def test_paced_sending_keeps_the_rate_and_records_send_times(settings: Settings) -> None:
    ensure_topics(settings, [settings.topics.predictions], partitions=1)
    sent_at = produce_paced(settings, settings.topics.predictions, Workload.w1(1_000), rate=2_000)
    assert not any(t != t for t in sent_at)  # no NaN: every event has a send time
    assert 0.35 < sent_at[-1] - sent_at[0] < 1.0
    assert read_event_ids(settings, settings.topics.predictions, 1_000) == [f"e{i}" for i in range(1_000)]
