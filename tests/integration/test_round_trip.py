"""The foundation's promise: the embedded broker and a real Redis carry validated events."""

import time

import pytest
import redis
from confluent_kafka import Consumer, Producer, TopicPartition

from driftline.kafka_admin import ensure_topics
from driftline.settings import Settings
from schemas import PredictionEvent, decode_events, encode_event

pytestmark = pytest.mark.integration


def test_prediction_event_survives_a_trip_through_kafka(settings: Settings) -> None:
    topic = settings.topics.predictions
    ensure_topics(settings, [topic])
    sent = PredictionEvent(model_id="m1", model_version="1", event_id="e1", ts=1_700_000_000.0,
                           features={"a": 1.0, "b": "x"}, prediction="cat", label="dog")
    producer = Producer(settings.kafka_producer_config())
    producer.produce(topic, key=b"m1", value=encode_event(sent))
    assert producer.flush(30) == 0

    consumer = Consumer({**settings.kafka_client_config(), "group.id": "rt", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    deadline = time.monotonic() + 30
    message = None
    while message is None and time.monotonic() < deadline:
        polled = consumer.poll(0.5)
        if polled is not None and not polled.error():
            message = polled
    consumer.close()
    assert message is not None, "nothing came back from the broker"
    assert message.key() == b"m1"
    assert decode_events(message.value(), PredictionEvent) == [sent]


def test_redis_keeps_what_is_written(settings: Settings, redis_client: "redis.Redis") -> None:
    key = f"{settings.key_prefix}probe"
    redis_client.set(key, b"value")
    assert redis_client.get(key) == b"value"
