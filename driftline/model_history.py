"""A live model's history, as reports and the dashboard show it: closed windows, performance windows
and the lineage log from Redis, alerts from the alerts topic."""

import contextlib

from pydantic import ValidationError

from agents.keys import RedisKeys, glob_escape
from agents.partition_ends import read_topic
from detectors.performance import PerformanceWindow
from detectors.windows import WindowStats
from driftline.lineage import lineage_entries
from driftline.redis_connect import sync_client
from driftline.report import ModelHistory
from driftline.settings import Settings
from schemas.events import DriftAlert
from schemas.lineage_log import DeploymentEntry, RequestEntry


def history_from_redis(settings: Settings, model_id: str) -> ModelHistory:
    """What Redis keeps of the model: each signal's last 100 windows, the last 100 performance windows,
    and the requests and deployments of its lineage log (oldest first)."""
    keys = RedisKeys(settings.key_prefix)
    client = sync_client(settings)
    history = ModelHistory(model_id)
    try:
        pattern = glob_escape(keys.windows(model_id, "")) + "*"
        for key in client.scan_iter(match=pattern, count=1_000):
            for raw in reversed(client.lrange(key, 0, -1)):  # type: ignore[arg-type]
                with contextlib.suppress(ValidationError):
                    history.windows.append(WindowStats.model_validate_json(raw))
        for raw in reversed(client.lrange(keys.performance(model_id), 0, -1)):  # type: ignore[arg-type]
            with contextlib.suppress(ValidationError):
                history.performance.append(PerformanceWindow.model_validate_json(raw))
        for entry in lineage_entries(client, keys, model_id)[0]:
            if isinstance(entry, RequestEntry):
                history.requests.append(entry.request)
            elif isinstance(entry, DeploymentEntry):
                history.deployments.append(entry.deployed)
    finally:
        client.close()
    history.windows.sort(key=lambda w: (w.signal, w.to_ts))
    return history


def window_means(settings: Settings, model_id: str, signals: list[str]) -> dict[str, list[float]]:
    """Each signal's recent window means, oldest first: one list read a signal, no scan of the keys."""
    keys = RedisKeys(settings.key_prefix)
    client = sync_client(settings)
    try:
        pipe = client.pipeline(transaction=False)
        for signal in signals:
            pipe.lrange(keys.windows(model_id, signal), 0, -1)
        found = pipe.execute()
    finally:
        client.close()
    means: dict[str, list[float]] = {}
    for signal, raws in zip(signals, found, strict=True):
        for raw in reversed(raws):
            with contextlib.suppress(ValidationError):
                means.setdefault(signal, []).append(WindowStats.model_validate_json(raw).mean)
    return means


def alerts_from_kafka(settings: Settings, model_ids: set[str] | None = None, *,
                      timeout: float = 60.0) -> list[DriftAlert]:
    """Every retained alert (of `model_ids`, or all), read to each partition's end, oldest first per model."""
    found = []
    for raw in read_topic({**settings.kafka_client_config(), "group.id": "driftline-report"}, settings.topics.alerts,
                          timeout=timeout):
        with contextlib.suppress(ValidationError):
            alert = DriftAlert.model_validate_json(raw)
            if model_ids is None or alert.model_id in model_ids:
                found.append(alert)
    return found
