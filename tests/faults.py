"""Helpers for the fault tests: a private worker on the session broker, what it says about itself,
and what its consumer group has committed."""

import json
import uuid
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from agents.app import app_id_for
from driftline.kafka_admin import ensure_topics
from driftline.settings import Settings
from schemas import DriftAlert
from tests.live import WorkerProcess, collect, http_get, metric_samples


def private_settings(broker_url: str, redis_url: str, **more: object) -> Settings:
    prefix = f"f{uuid.uuid4().hex[:8]}"
    settings = Settings(broker=broker_url, redis_url=redis_url, topic_prefix=f"{prefix}.", key_prefix=f"{prefix}:",
                        kafka_session_timeout_seconds=6.0, state_key="fault-state-key", **more)  # type: ignore[arg-type]
    ensure_topics(settings, settings.topics.all(), partitions=settings.partitions)
    return settings


def readiness(worker: WorkerProcess) -> tuple[int, str]:
    """/ready's status and the problem it names ("" when none); 0 while the endpoint is not up yet."""
    try:
        status, body = http_get(worker, "/ready")
    except OSError:
        return 0, ""
    return status, json.loads(body).get("problem") or ""


def owns_partitions(worker: WorkerProcess) -> bool:
    """The worker has joined its group and been given partitions (per /ready)."""
    try:
        return int(json.loads(http_get(worker, "/ready")[1]).get("partitions", 0)) > 0
    except OSError:
        return False


def metric(worker: WorkerProcess, name: str) -> float:
    return sum(value for (sample, _), value in metric_samples(worker).items() if sample == name)


def committed_offsets(settings: Settings, topic: str) -> list[int]:
    """The worker group's committed offset per partition of `topic` (negative: none)."""
    consumer = Consumer({**settings.kafka_client_config(), "group.id": app_id_for(settings),
                         "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        found = consumer.committed([TopicPartition(topic, p) for p in sorted(partitions)], timeout=10)
        return [tp.offset for tp in found]
    finally:
        consumer.close()


def system_alerts(settings: Settings, model_id: str, signal: str, *, timeout: float = 60.0) -> list[DriftAlert]:
    found = collect(settings, settings.topics.alerts, DriftAlert,
                    lambda a: a.model_id == model_id and a.kind == "system" and a.signal == signal,  # type: ignore[attr-defined]
                    until=lambda found: len(found) >= 1, timeout=timeout, settle=1.0)
    return found  # type: ignore[return-value]


def log_text(path: Path) -> str:
    return path.read_text(errors="replace")
