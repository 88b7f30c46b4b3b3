"""The live pipeline against the real broker, Redis and a `driftline worker` process."""

import random
import signal
import uuid
from pathlib import Path

import numpy as np
import pytest

from agents.keys import RedisKeys
from detectors.config import MonitoringConfig
from detectors.performance import PerformanceWindow
from driftline.backtest import run_backtest
from driftline.cli import main
from driftline.kafka_admin import ensure_topics
from driftline.redis_connect import sync_client
from driftline.settings import Settings
from schemas import DeadLetter, DriftAlert, LabelEvent, PredictionEvent
from schemas.dead_letter import DeadLetterReason
from tests.live import (
    WorkerProcess,
    cli_env,
    collect,
    dumps,
    metric_samples,
    produce,
    produce_raw,
    signal_updates,
    wait_for_events,
    wait_until,
)
from tests.streams import error_bits, labelled_predictions, two_regimes

pytestmark = pytest.mark.integration


def river_stream_events(model_id: str) -> list[PredictionEvent]:
    """river's two-regime stream as one feature and the prediction; the values jump at event 1000."""
    return [PredictionEvent(model_id=model_id, model_version="1", event_id=f"e{i}", ts=float(i),
                            features={"x": v}, prediction=v) for i, v in enumerate(two_regimes())]


def signature(alerts: list[DriftAlert]) -> list[tuple[str, str, str, int]]:
    return sorted((a.signal, a.detector, a.severity.value, a.event_index) for a in alerts)


def alerts_of(settings: Settings, model_id: str, expected: int, timeout: float = 90.0) -> list[DriftAlert]:
    found = collect(settings, settings.topics.alerts, DriftAlert, lambda a: a.model_id == model_id,  # type: ignore[attr-defined]
                    until=lambda found: len(found) >= expected, timeout=timeout)
    return found  # type: ignore[return-value]


def test_a_stream_through_kafka_raises_the_alerts_the_backtest_raises(live_worker: WorkerProcess,
                                                                     model_id: str) -> None:
    settings = live_worker.settings
    values_model, errors_model = f"{model_id}-values", f"{model_id}-errors"
    values = river_stream_events(values_model)
    errors = labelled_predictions(error_bits(), model_id=errors_model)
    expected_values = run_backtest(values, MonitoringConfig()).alerts
    expected_errors = run_backtest(errors, MonitoringConfig()).alerts
    assert {a.signal for a in expected_values if a.severity == "drift"} == {"feature:x", "prediction"}
    assert all(1_000 <= a.event_index < 1_100 for a in expected_values)  # zero-config: no false alarm before
    # the error rate CUSUM first, then the performance window that closes after the change (label 1499)
    assert [a.signal for a in expected_errors if a.severity == "drift"] == ["error", "performance"]
    assert all(1_000 <= a.event_index < (1_400 if a.signal == "error" else 1_500) for a in expected_errors)

    produce(settings, settings.topics.predictions, values, batch=50)
    produce(settings, settings.topics.predictions, errors, batch=1)

    live_values = alerts_of(settings, values_model, len(expected_values))
    live_errors = alerts_of(settings, errors_model, len(expected_errors))
    assert signature(live_values) == signature(expected_values)
    assert signature(live_errors) == signature(expected_errors)
    assert {a.alert_id for a in live_values + live_errors} == {a.alert_id for a in expected_values + expected_errors}


def test_late_and_out_of_order_labels_are_joined_and_ddm_fires_on_concept_drift(live_worker: WorkerProcess,
                                                                                 model_id: str) -> None:
    settings = live_worker.settings
    bits = error_bits()
    predictions = [PredictionEvent(model_id=model_id, model_version="1", event_id=f"e{i}", ts=float(i),
                                   prediction="a") for i in range(len(bits))]
    labels = [LabelEvent(model_id=model_id, event_id=f"e{i}", label="b" if bit else "a", ts=float(i) + 30)
              for i, bit in enumerate(bits)]
    rng = random.Random(7)
    early, late = labels[:100], labels[100:]
    shuffled_late = []
    for start in range(0, len(late), 50):  # each burst of 50 labels arrives in random order
        burst = late[start : start + 50]
        rng.shuffle(burst)
        shuffled_late += burst

    produce(settings, settings.topics.labels, early)  # these labels arrive before their predictions
    produce(settings, settings.topics.predictions, predictions, batch=100)
    produce(settings, settings.topics.labels, shuffled_late, batch=25)

    wait_until(lambda: signal_updates(settings, model_id, "error") == len(labels), timeout=90,
               what="every label joined to its prediction")
    alerts = alerts_of(settings, model_id, 1)
    drifts = [a for a in alerts if a.severity == "drift" and a.signal == "error"]
    assert drifts, "DDM raised a drift on the error signal"
    assert 1000 <= drifts[0].event_index < 1600
    assert drifts[0].kind == "concept"


def test_performance_windows_reach_redis_status_and_metrics_as_the_backtest_closes_them(
        live_worker: WorkerProcess, model_id: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Fraud recall falls from 0.8 to 0.2 at prediction 1500, with labels on their own topic: the worker
    keeps the same performance windows in Redis as the backtest, raises the same concept alert on
    signal `performance`, and shows them in `driftline status` and /metrics."""
    settings = live_worker.settings
    rng = np.random.default_rng(8)
    n, at = 3_000, 1_500
    truth = np.where(rng.random(n) < 0.1, "fraud", "ok")
    caught = rng.random(n) < np.where(np.arange(n) >= at, 0.2, 0.8)
    guessed = np.where((truth == "fraud") & ~caught, "ok", truth)
    predictions = [PredictionEvent(model_id=model_id, model_version="1", event_id=f"e{i}", ts=float(i),
                                   features={"x": float(rng.normal())}, prediction=str(guessed[i]))
                   for i in range(n)]
    labels = [LabelEvent(model_id=model_id, event_id=f"e{i}", label=str(truth[i]), ts=float(i) + 5) for i in range(n)]
    expected = run_backtest([*predictions, *labels], MonitoringConfig())
    performance_alerts = [a for a in expected.alerts if a.signal == "performance"]
    assert [(a.kind, a.detector) for a in performance_alerts] == [("concept", "f1_band")]
    assert performance_alerts[0].event_index >= at

    produce(settings, settings.topics.predictions, predictions, batch=100)
    wait_for_events(settings, model_id, n)  # then the labels: each joins a waiting prediction, in label order
    produce(settings, settings.topics.labels, labels, batch=100)
    wait_until(lambda: signal_updates(settings, model_id, "error") == n, timeout=90, what="every label joined")
    live = alerts_of(settings, model_id, len(expected.alerts))
    assert signature(live) == signature(expected.alerts)

    client = sync_client(settings)
    try:
        stored = client.lrange(RedisKeys(settings.key_prefix).performance(model_id), 0, -1)
    finally:
        client.close()
    assert [PerformanceWindow.model_validate_json(raw) for raw in reversed(stored)] == expected.performance
    assert [w.reference for w in expected.performance] == [True] + [False] * 5

    cli_env(live_worker, monkeypatch)
    assert main(["status", model_id]) == 0
    printed = capsys.readouterr().out
    assert "performance reference" in printed and "performance last window" in printed and "DROP" in printed
    last = expected.performance[-1]
    samples = metric_samples(live_worker)
    assert samples[("driftline_performance", (("metric", "f1"), ("model", model_id), ("window", "last")))] == (
        pytest.approx(last.f1))
    assert samples[("driftline_performance_drop", (("model", model_id),))] == float(last.drop)


@pytest.mark.parametrize(("stop_signal", "stops"), [
    (signal.SIGTERM, (600, 1300)),
    (signal.SIGKILL, (600, 1300)),
    pytest.param(signal.SIGKILL, (150, 400, 700, 1000, 1250, 1500, 1800), marks=pytest.mark.slow),
], ids=["sigterm", "kill-9", "kill-9-seven-times"])
def test_a_worker_stopped_mid_stream_and_restarted_raises_the_same_alerts_once_and_loses_no_event(
        broker: object, redis_service: object, live_settings: Settings, tmp_path: Path, stop_signal: int,
        stops: tuple[int, ...]) -> None:
    """Stopped at each of `stops` (events of one model processed); the last run finishes the stream.
    Compared with the backtest, which is what an uninterrupted run raises (the test above)."""
    prefix = f"rs{uuid.uuid4().hex[:8]}"
    # Small batches, so the worker is still mid-stream when the test sees it pass a stop point.
    settings = live_settings.model_copy(update={"topic_prefix": f"{prefix}.", "key_prefix": f"{prefix}:",
                                                "worker_batch_messages": 5})
    ensure_topics(settings, settings.topics.all(), partitions=settings.partitions)
    values = river_stream_events("restart-values")
    errors = labelled_predictions(error_bits(), model_id="restart-errors")
    expected = run_backtest(values + errors, MonitoringConfig()).alerts
    produce(settings, settings.topics.predictions, values, batch=1)
    produce(settings, settings.topics.predictions, errors, batch=1)

    for stop_after in stops:
        worker = WorkerProcess(settings, tmp_path / "worker.log").start()
        wait_for_events(settings, "restart-values", stop_after, timeout=120)
        worker.stop(stop_signal)
        stopped_at = wait_for_events(settings, "restart-values", 0).event_count
        assert stopped_at < len(values), "the worker was stopped mid-stream"

    last = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        assert wait_for_events(settings, "restart-values", len(values), timeout=120).event_count == len(values)
        assert wait_for_events(settings, "restart-errors", len(errors), timeout=120).event_count == len(errors)
        live = [a for a in collect(settings, settings.topics.alerts, DriftAlert, lambda a: True,
                                   until=lambda found: len(found) >= len(expected), timeout=60, settle=4.0)]
    finally:
        last.stop()
    assert signature(live) == signature(expected)  # type: ignore[arg-type]
    assert len({a.alert_id for a in live}) == len(live), "no alert was published twice"  # type: ignore[attr-defined]
    assert wait_for_events(settings, "restart-values", 0).event_count == len(values), "no event counted twice"


def test_malformed_messages_are_dead_lettered_and_every_valid_event_is_processed(live_worker: WorkerProcess,
                                                                                 model_id: str) -> None:
    settings = live_worker.settings
    valid = [PredictionEvent(model_id=model_id, model_version="1", event_id=f"e{i}", ts=float(i),
                             features={"x": float(i % 5)}, prediction=1.0) for i in range(30)]
    good = {"model_id": model_id, "model_version": "1", "event_id": "g", "ts": 1.0, "prediction": 1.0}
    bad = [
        (b"{not json", DeadLetterReason.INVALID_JSON),
        (b'{"model_id": "' + model_id.encode() + b'", "prediction": NaN}', DeadLetterReason.NON_FINITE_NUMBER),
        (dumps({**good, "prediction": True}), DeadLetterReason.SCHEMA_VIOLATION),
        (dumps({**good, "features": {f"f{i}": 1.0 for i in range(5000)}}), DeadLetterReason.SCHEMA_VIOLATION),
        (b"\xff\xfe\xfd", DeadLetterReason.INVALID_JSON),
        (b"[" * 5000 + b"]" * 5000, DeadLetterReason.INVALID_JSON),
    ]
    mixed_batch = dumps({"v": 1, "batch": [{**good, "event_id": "in-batch-ok"},
                                           {**good, "event_id": "in-batch-bad", "ts": "yesterday"}]})
    key = model_id.encode()
    for i, event in enumerate(valid):
        produce(settings, settings.topics.predictions, [event])
        if i < len(bad):
            produce_raw(settings, settings.topics.predictions, [bad[i][0]], key=key)
    produce_raw(settings, settings.topics.predictions, [mixed_batch], key=key)

    state = wait_for_events(settings, model_id, len(valid) + 1)
    letters = collect(settings, settings.topics.dlq, DeadLetter, lambda d: d.key == model_id,  # type: ignore[attr-defined]
                      until=lambda found: len(found) >= len(bad) + 1, timeout=60)
    assert state.event_count == len(valid) + 1, "every valid event, including the good one in the batch"
    by_payload = {d.payload(): d for d in letters}  # type: ignore[attr-defined]
    for payload, reason in bad:
        letter = by_payload[payload]
        assert letter.reason == reason
        assert letter.topic == settings.topics.predictions and letter.offset is not None and letter.detail
    batch_letter = [d for d in letters if d.reason == DeadLetterReason.SCHEMA_VIOLATION  # type: ignore[attr-defined]
                    and b"in-batch-bad" in d.payload()]  # type: ignore[attr-defined]
    assert len(batch_letter) == 1 and "batch[1]" in batch_letter[0].detail  # type: ignore[attr-defined]
    assert len(letters) == len(bad) + 1


def test_the_zero_config_signals_raise_the_same_alerts_live_as_in_the_backtest(live_worker: WorkerProcess,
                                                                              model_id: str) -> None:
    """Variance, null rate, category mix (text and boolean), score and error rate change at event 2000:
    the calibrated defaults' detectors fire after it, nothing before, and the worker equals the backtest."""
    settings = live_worker.settings
    rng = np.random.default_rng(5)
    n, at = 4_000, 2_000
    events = []
    for i in range(n):
        after = i >= at
        label = float(rng.integers(0, 2))
        wrong = rng.random() < (0.4 if after else 0.1)
        features: dict[str, float | str | bool | None] = {
            "x": float(rng.normal() * (2 ** 0.5 if after else 1.0)),
            "y": None if rng.random() < (0.3 if after else 0.01) else float(rng.normal()),
            "plan": str(rng.choice(4, p=[0.1, 0.2, 0.3, 0.4] if after else [0.4, 0.3, 0.2, 0.1])),
            "on": bool(rng.random() < (0.3 if after else 0.1))}
        score = float(rng.beta(3.0, 4.0) if after else rng.beta(2.0, 5.0))
        events.append(PredictionEvent(model_id=model_id, model_version="1", event_id=f"e{i}", ts=float(i),
                                      features=features, prediction=1.0 - label if wrong else label, label=label,
                                      score=score))
    expected = run_backtest(events, MonitoringConfig()).alerts
    assert {"feature:x", "missing:y", "category:plan", "category:on", "score", "error"} <= {
        a.signal for a in expected if a.severity == "drift"}
    assert all(a.event_index >= at for a in expected), "a false alarm before the change"

    produce(settings, settings.topics.predictions, events, batch=100)
    live = alerts_of(settings, model_id, len(expected))
    assert signature(live) == signature(expected)
    assert {a.alert_id for a in live} == {a.alert_id for a in expected}


def test_labels_interleaved_with_predictions_on_their_own_topic_give_the_backtests_alerts(
        live_worker: WorkerProcess, model_id: str) -> None:
    """Labels 300 predictions late on the labels topic while predictions keep coming: the worker's batches
    hold both, and each model's stretch between deployments is fed in one pass (detectors/fleet.py);
    the Redis label join and the alerts match the backtest of the same stream."""
    settings = live_worker.settings
    rng = np.random.default_rng(28)
    n, delay, chunk = 2_400, 300, 100
    wrong = rng.random(n) < np.where(np.arange(n) >= n // 2, 0.45, 0.08)
    truth = rng.integers(0, 2, n).astype(float)
    predictions = [PredictionEvent(model_id=model_id, model_version="1", event_id=f"e{i}", ts=float(i),
                                   features={"x": float(rng.normal() + (1.0 if i >= n // 2 else 0.0))},
                                   prediction=float(1 - truth[i] if wrong[i] else truth[i])) for i in range(n)]
    labels = [LabelEvent(model_id=model_id, event_id=f"e{i}", label=float(truth[i]), ts=float(i + delay))
              for i in range(n)]
    stream: list[PredictionEvent | LabelEvent] = []
    for start in range(0, n + delay, chunk):
        stream += predictions[start : start + chunk]
        stream += labels[max(start - delay, 0) : max(start + chunk - delay, 0)]
    assert sorted(e.event_id for e in stream if isinstance(e, LabelEvent)) == sorted(f"e{i}" for i in range(n))
    expected = run_backtest(stream, MonitoringConfig())
    assert any(a.signal == "error" and a.severity == "drift" for a in expected.alerts), "could not fail"

    for start in range(0, n + delay, chunk):
        produce(settings, settings.topics.predictions, predictions[start : start + chunk], batch=chunk)
        due = labels[max(start - delay, 0) : max(start + chunk - delay, 0)]
        if due:  # a label never overtakes its prediction: that would make it an early label, joined elsewhere
            wait_for_events(settings, model_id, int(due[-1].event_id[1:]) + 1)
            produce(settings, settings.topics.labels, due, batch=len(due))
    wait_until(lambda: signal_updates(settings, model_id, "error") == n, timeout=90, what="every label joined")
    live = alerts_of(settings, model_id, len(expected.alerts))
    assert signature(live) == signature(expected.alerts)
