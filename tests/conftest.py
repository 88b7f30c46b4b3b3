"""Session-scoped real services: one Tansu broker and one Redis for the whole run.

A Tansu consumer group takes seconds to join, so the broker (and later the worker) is started once;
tests stay independent through unique topic and Redis key prefixes (the `namespace` fixture).
"""

import uuid
from collections.abc import Iterator

import pytest
import redis

from driftline.embedded import EmbeddedBroker, EmbeddedRedis
from driftline.settings import Settings


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture(scope="session")
def redis_service() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as running:
        yield running


@pytest.fixture
def namespace() -> str:
    """A prefix no other test uses, for topics and Redis keys."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(broker: EmbeddedBroker, redis_service: EmbeddedRedis, namespace: str) -> Settings:
    """Settings pointing at the session's real services, isolated under this test's prefixes."""
    return Settings(
        broker=broker.url,
        redis_url=redis_service.url,
        topic_prefix=f"{namespace}.",
        key_prefix=f"{namespace}:",
    )


@pytest.fixture
def redis_client(settings: Settings) -> Iterator["redis.Redis[bytes]"]:
    client: redis.Redis[bytes] = redis.Redis.from_url(settings.redis_url)
    yield client
    keys = list(client.scan_iter(match=f"{settings.key_prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
