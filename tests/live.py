"""Helpers for tests against the real broker, Redis and a real `driftline worker` process."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import redis
from confluent_kafka import Consumer, Producer, TopicPartition
from pydantic import BaseModel

from agents.keys import RedisKeys
from detectors.snapshot import MonitorState, open_snapshot
from driftline.embedded import free_port
from driftline.settings import Settings
from schemas import encode_batch, encode_event
from schemas.events import InboundEvent

WORKER_START_TIMEOUT = 90.0


class WorkerProcess:
    """`driftline worker` in a child process, configured only through the environment, as in production."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        s = self.settings
        return {**os.environ, "DRIFTLINE_BROKER": s.broker, "DRIFTLINE_REDIS_URL": s.redis_url,
                "DRIFTLINE_TOPIC_PREFIX": s.topic_prefix, "DRIFTLINE_KEY_PREFIX": s.key_prefix,
                "DRIFTLINE_WEB_PORT": str(free_port()), "DRIFTLINE_PARTITIONS": str(s.partitions),
                "DRIFTLINE_KAFKA_SESSION_TIMEOUT_SECONDS": str(s.kafka_session_timeout_seconds),
                "DRIFTLINE_STATE_KEY": s.state_key.get_secret_value(),
                **({"DRIFTLINE_CONFIG": str(s.config)} if s.config else {})}

    def start(self, *, wait_ready: bool = True) -> "WorkerProcess":
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "driftline.cli", "worker"], env=self.environment(),
                                        stdout=log, stderr=subprocess.STDOUT)
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Ready once it has handled a probe deployment (so it has joined the group and owns partitions)."""
        probe = f"probe-{time.monotonic_ns()}"
        from schemas import ModelDeployed

        produce(self.settings, self.settings.topics.deployments,
                [ModelDeployed(model_id=probe, model_version="0", ts=time.time())])
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}; log: {self.log_path}")
            if monitor_state(self.settings, probe) is not None:
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready within {WORKER_START_TIMEOUT}s; log: {self.log_path}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)


def produce(settings: Settings, topic: str, events: Sequence[InboundEvent], *, batch: int = 1) -> None:
    """Send events keyed by model_id, `batch` per message (1 = single-event messages)."""
    producer = Producer(settings.kafka_client_config())
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        value = encode_event(chunk[0]) if batch == 1 else encode_batch(chunk)
        producer.produce(topic, key=chunk[0].model_id.encode(), value=value)
        producer.poll(0)
    assert producer.flush(30) == 0, "broker did not confirm every message"


def produce_raw(settings: Settings, topic: str, values: Sequence[bytes], key: bytes) -> None:
    producer = Producer(settings.kafka_client_config())
    for value in values:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def collect(settings: Settings, topic: str, model: type[BaseModel], keep: Callable[[BaseModel], bool], *,
            until: Callable[[list[BaseModel]], bool], timeout: float = 60.0, settle: float = 2.0) -> list[BaseModel]:
    """Read `topic` from the start until `until(found)` holds, then `settle` seconds more to catch extras."""
    consumer = Consumer({**settings.kafka_client_config(), "group.id": "test-collect", "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    found: list[BaseModel] = []
    deadline = time.monotonic() + timeout
    settle_until: float | None = None
    try:
        while time.monotonic() < (settle_until or deadline):
            message = consumer.poll(0.2)
            if message is not None and not message.error() and message.value() is not None:
                item = model.model_validate_json(message.value())  # type: ignore[arg-type]
                if keep(item):
                    found.append(item)
            if settle_until is None and until(found):
                settle_until = time.monotonic() + settle
    finally:
        consumer.close()
    return found


def monitor_state(settings: Settings, model_id: str) -> MonitorState | None:
    client = redis.Redis.from_url(settings.redis_url)
    try:
        blob = client.hget(RedisKeys(settings.key_prefix).monitor(model_id), "snapshot")
    finally:
        client.close()
    return open_snapshot(blob, settings.state_key.get_secret_value().encode()) if isinstance(blob, bytes) else None


def wait_until(condition: Callable[[], bool], *, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not hold within {timeout}s")
        time.sleep(0.2)


def signal_updates(settings: Settings, model_id: str, signal: str) -> int:
    state = monitor_state(settings, model_id)
    found = [s.updates for s in state.signals if s.signal == signal] if state else []
    return found[0] if found else 0


def wait_for_events(settings: Settings, model_id: str, count: int, timeout: float = 60.0) -> MonitorState:
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = monitor_state(settings, model_id)
        if state is not None and state.event_count >= count:
            return state
        time.sleep(0.2)
    raise TimeoutError(f"model {model_id} reached {state.event_count if state else 0} of {count} events")


def dumps(obj: object) -> bytes:
    return json.dumps(obj).encode()
