"""A round trip through the real services: produce an event, consume it back, use Redis.

`driftline demo` runs it until the full drift loop lands; it is also the quickest check that a
broker and Redis are reachable with the given settings.
"""

import time
import uuid

import redis
from confluent_kafka import Consumer, Producer, TopicPartition

from driftline.kafka_admin import ensure_topics
from driftline.settings import Settings
from schemas import PredictionEvent, decode_events, encode_event


def round_trip(settings: Settings, *, timeout: float = 30.0) -> PredictionEvent:
    """Send one PredictionEvent to the predictions topic and return it as read back and validated."""
    topic = settings.topics.predictions
    ensure_topics(settings, [topic])
    sent = PredictionEvent(
        model_id="smoke-model",
        model_version="1",
        event_id=f"smoke-{uuid.uuid4()}",
        ts=time.time(),
        features={"x": 1.5, "country": "fr"},
        prediction=0.25,
    )
    producer = Producer(settings.kafka_client_config())
    offsets: list[int] = []
    producer.produce(topic, key=sent.model_id.encode(), value=encode_event(sent),
                     on_delivery=lambda err, msg: offsets.append(-1 if err else (msg.offset() or 0)))
    if producer.flush(timeout) != 0 or not offsets or offsets[0] < 0:
        raise RuntimeError(f"could not deliver the smoke event to {topic} on {settings.bootstrap_servers}")

    consumer = Consumer({**settings.kafka_client_config(), "group.id": "driftline-smoke",
                         "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, 0, offsets[0])])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            value = None if message is None or message.error() else message.value()
            if value is None:
                continue
            received = decode_events(value, PredictionEvent)[0]
            if received.event_id == sent.event_id:
                break
        else:
            raise TimeoutError(f"the smoke event did not come back from {topic} within {timeout}s")
    finally:
        consumer.close()

    store = redis.Redis.from_url(settings.redis_url, **settings.redis_client_options())
    key = f"{settings.key_prefix}smoke:{received.event_id}"
    store.set(key, received.model_dump_json(), ex=60)
    stored = store.get(key)
    store.close()
    if stored is None or PredictionEvent.model_validate_json(stored) != received:
        raise RuntimeError(f"Redis at {settings.redis_url} did not return what was written")
    return received
