"""Session-scoped real services: one Tansu broker and one Redis for the whole run.

A Tansu consumer group takes seconds to join, so the broker (and later the worker) is started once;
tests stay independent through unique topic and Redis key prefixes (the `namespace` fixture).
"""

import uuid
from collections.abc import Iterator

import pytest
import redis

from driftline.embedded import EmbeddedBroker, EmbeddedRedis
from driftline.kafka_admin import ensure_topics
from driftline.settings import Settings
from tests.live import WorkerProcess


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture(scope="session")
def redis_service() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as running:
        yield running


@pytest.fixture(scope="session")
def live_settings(broker: EmbeddedBroker, redis_service: EmbeddedRedis) -> Settings:
    """Settings of the session's one shared worker; tests isolate themselves by model_id."""
    session = uuid.uuid4().hex[:8]
    return Settings(broker=broker.url, redis_url=redis_service.url, topic_prefix=f"live{session}.",
                    key_prefix=f"live{session}:", kafka_session_timeout_seconds=6.0, state_key="test-state-key")


@pytest.fixture(scope="session")
def live_worker(live_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """One `driftline worker` for the session: a consumer group takes seconds to join on Tansu."""
    ensure_topics(live_settings, live_settings.topics.all(), partitions=live_settings.partitions)
    worker = WorkerProcess(live_settings, tmp_path_factory.mktemp("worker") / "worker.log").start()
    yield worker
    worker.stop()


@pytest.fixture
def model_id() -> str:
    """A model no other test uses (the shared worker serves every test)."""
    return f"model-{uuid.uuid4().hex[:10]}"


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
def redis_client(settings: Settings) -> Iterator["redis.Redis"]:
    client: redis.Redis = redis.Redis.from_url(settings.redis_url)
    yield client
    keys = list(client.scan_iter(match=f"{settings.key_prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real MLflow tracking server for the session (SQLite backend, local artifacts)."""
    from tests.mlflow_server import mlflow_server

    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless chromium for the session (Debian's chromium and chromium-driver, via selenium)."""
    from tests.browser import chrome

    yield from chrome()
