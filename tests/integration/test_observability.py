"""What operators see of a running worker: /metrics, /health, /ready and its JSON logs."""

import json
import re

import pytest

from schemas import DeadLetter, DriftAlert, PredictionEvent
from tests.live import (
    MetricSamples,
    WorkerProcess,
    collect,
    http_get,
    metric_samples,
    produce,
    produce_raw,
    wait_for_events,
    wait_until,
)
from tests.streams import two_regimes

pytestmark = pytest.mark.integration


def value(found: MetricSamples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_events_dead_letters_alerts_and_detector_latency(live_worker: WorkerProcess,
                                                                       model_id: str) -> None:
    settings = live_worker.settings
    topic = settings.topics.predictions
    events = [PredictionEvent(model_id=model_id, model_version="1", event_id=f"e{i}", ts=float(i),
                              features={"x": v}, prediction=v) for i, v in enumerate(two_regimes())]
    before = metric_samples(live_worker)
    produce(settings, topic, events, batch=100)
    produce_raw(settings, topic, [b"{truncated", b'{"model_id": "' + model_id.encode() + b'"}'], key=model_id.encode())
    wait_for_events(settings, model_id, len(events))
    alerts = collect(settings, settings.topics.alerts, DriftAlert, lambda a: a.model_id == model_id,  # type: ignore[attr-defined]
                     until=lambda found: len(found) >= 2, timeout=60)
    collect(settings, settings.topics.dlq, DeadLetter, lambda d: d.key == model_id,  # type: ignore[attr-defined]
            until=lambda found: len(found) >= 2, timeout=60)

    def dead_letters_counted() -> bool:
        now = metric_samples(live_worker)
        return (value(now, "driftline_dead_letters_total", reason="invalid_json")
                > value(before, "driftline_dead_letters_total", reason="invalid_json"))
    wait_until(dead_letters_counted, timeout=30, what="dead letters in /metrics")

    after = metric_samples(live_worker)
    assert value(after, "driftline_events_in_total", topic=topic, model=model_id) == len(events)
    assert (value(after, "driftline_dead_letters_total", reason="schema_violation")
            > value(before, "driftline_dead_letters_total", reason="schema_violation"))
    for alert in alerts:
        assert value(after, "driftline_alerts_total", model=model_id, signal=alert.signal,  # type: ignore[attr-defined]
                     detector=alert.detector, severity=alert.severity.value) >= 1  # type: ignore[attr-defined]
    updates = (value(after, "driftline_detector_update_seconds_count")
               - value(before, "driftline_detector_update_seconds_count"))
    assert 1 <= updates <= len(events)  # one per model per batch: the monitor runs a batch's events as columns
    assert value(after, "driftline_detector_update_seconds_sum") > 0
    lags = [v for (name, labels), v in after.items() if name == "driftline_consumer_lag_messages"
            and ("topic", topic) in labels]
    assert lags and all(lag >= 0 for lag in lags)
    assert ("driftline_redis_errors_total", ()) not in after  # labelled: only present once an error happened
    assert value(after, "driftline_outage") == 0


def test_health_and_ready_answer_while_the_worker_owns_partitions(live_worker: WorkerProcess) -> None:
    status, body = http_get(live_worker, "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, body = http_get(live_worker, "/ready")
    assert status == 200, body
    ready = json.loads(body)
    assert ready["status"] == "ready" and ready["partitions"] >= 1 and ready["problem"] is None


def test_worker_logs_are_one_json_object_per_line(live_worker: WorkerProcess) -> None:
    lines = [line for line in live_worker.log_path.read_text().splitlines() if line.strip()]
    assert lines, "the worker has logged something by now"
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(entries) == len(lines), f"not JSON: {[x for x in lines if not x.startswith('{')][:5]}"
    for entry in entries:
        assert {"ts", "time", "level", "logger", "message"} <= entry.keys()


def test_every_metric_the_rules_and_the_dashboard_use_is_one_a_live_worker_exposes(
        live_worker: WorkerProcess) -> None:
    from pathlib import Path

    from prometheus_client.parser import text_string_to_metric_families

    root = Path(__file__).resolve().parents[2]
    used = re.findall(r"\b(driftline_[a-z_]+)", (root / "deploy/prometheus/rules.yml").read_text()
                      + (root / "deploy/grafana/dashboards/driftline.json").read_text())
    status, body = http_get(live_worker, "/metrics")
    assert status == 200
    exposed: set[str] = set()
    for family in text_string_to_metric_families(body.decode()):
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}.get(family.type, [""])
        exposed |= {family.name + suffix for suffix in suffixes}
    assert used and set(used) <= exposed, sorted(set(used) - exposed)
