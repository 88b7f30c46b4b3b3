"""The per-model monitor: routing, event_index, warm-up, cooldown, label join, resets, retrain policy."""

import numpy as np
import pytest

from detectors.config import ModelPolicy, MonitoringConfig, RetrainPolicy, SignalRule
from detectors.fleet import InMemoryLabelBuffer, MonitorFleet
from detectors.monitor import ModelMonitor
from schemas import FeatureEvent, LabelEvent, ModelDeployed, PredictionEvent
from tests.streams import error_bits, feature_events, labelled_predictions, two_regimes


def adwin_policy(**rule: object) -> ModelPolicy:
    return ModelPolicy(signals={"feature:*": SignalRule.model_validate({"detectors": [{"type": "adwin"}], **rule})})


def drift_indices(monitor: ModelMonitor, events: list[FeatureEvent]) -> list[int]:
    return [a.event_index for e in events for a in monitor.observe(e).alerts if a.severity == "drift"]


def test_categorical_and_missing_features_are_not_fed_to_numeric_detectors() -> None:
    monitor = ModelMonitor("m", MonitoringConfig().defaults)
    monitor.observe(FeatureEvent(model_id="m", model_version="1", event_id="e", ts=1.0,
                                 features={"n": 1.0, "plan": "pro", "gone": None, "flag": True}))
    assert set(monitor.signals) == {"feature:n", "category:plan", "category:flag", "missing:n", "missing:plan",
                                    "missing:gone", "missing:flag"}
    assert monitor.signals["category:flag"].categories == ["true"]
    assert monitor.event_count == 1


def test_a_boolean_among_numbers_is_a_category_in_a_run_as_one_at_a_time() -> None:
    """A run whose first row is all numbers takes the columns' fast path; a boolean further down is still
    a category, never the number 1.0 (numpy's inference alone would read it as one)."""
    events = [FeatureEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i),
                           features={"n": float(i), "x": True if i == 3 else float(i)}) for i in range(6)]
    run, single = ModelMonitor("m", MonitoringConfig().defaults), ModelMonitor("m", MonitoringConfig().defaults)
    run.observe_many(events)
    for event in events:
        single.observe(event)
    for monitor in (run, single):
        assert monitor.signals["category:x"].categories == ["true"]
        assert monitor.signals["feature:x"].updates == 5
        assert monitor.signals["feature:n"].updates == 6


def test_warmup_holds_back_alerts_but_not_detection() -> None:
    values = two_regimes()
    assert drift_indices(ModelMonitor("m", adwin_policy(warmup=1024)), feature_events(values)) == []
    assert drift_indices(ModelMonitor("m", adwin_policy(warmup=1000)), feature_events(values)) == [1023]


def test_cooldown_suppresses_repeat_alerts_of_the_same_detector() -> None:
    values = [0.0] * 500 + [5.0] * 500 + [0.0] * 500 + [5.0] * 500
    noisy = [v + (i % 7) * 0.01 for i, v in enumerate(values)]
    free = drift_indices(ModelMonitor("m", adwin_policy()), feature_events(noisy))
    quiet = drift_indices(ModelMonitor("m", adwin_policy(cooldown=10_000)), feature_events(noisy))
    assert len(free) >= 3
    assert quiet == free[:1]


def test_warnings_are_raised_once_per_episode_between_drifts() -> None:
    policy = ModelPolicy(signals={"error": SignalRule.model_validate({"detectors": [{"type": "ddm"}]})})
    monitor = ModelMonitor("m", policy)
    alerts = [a for e in labelled_predictions(error_bits()) for a in monitor.observe(e).alerts]
    severities = [(a.severity.value, a.event_index) for a in alerts]
    assert severities[:2] == [("warning", 1084), ("drift", 1334)]
    assert sum(1 for s, i in severities if s == "warning" and i < 1334) == 1


def test_late_out_of_order_labels_are_joined_and_alert_at_the_prediction_index() -> None:
    bits = error_bits()
    fleet = fleet_of(MonitoringConfig(defaults=ModelPolicy(signals={
        "error": SignalRule.model_validate({"detectors": [{"type": "ddm"}]})})))
    predictions = [PredictionEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i), prediction="a")
                   for i in range(len(bits))]
    labels = [LabelEvent(model_id="m", event_id=f"e{i}", label="b" if bit else "a", ts=float(i) + 5)
              for i, bit in enumerate(bits)]
    alerts = []
    for i, prediction in enumerate(predictions):
        alerts += fleet.handle(prediction).alerts
        if i % 10 == 9:  # labels come in bursts of ten, newest first
            for label in reversed(labels[i - 9 : i + 1]):
                alerts += fleet.handle(label).alerts
    drifts = [(a.signal, a.event_index) for a in alerts if a.severity == "drift"]
    assert drifts and drifts[0][0] == "error"
    assert 1000 <= drifts[0][1] < 1400


def fleet_of(config: MonitoringConfig) -> MonitorFleet:
    return MonitorFleet(config, InMemoryLabelBuffer(ttl_seconds=3600))


def test_a_label_before_its_prediction_is_held_and_joined_when_the_prediction_comes() -> None:
    fleet = fleet_of(MonitoringConfig(defaults=ModelPolicy(signals={
        "error": SignalRule.model_validate({"detectors": [{"type": "ddm"}]})})))
    assert fleet.handle(LabelEvent(model_id="m", event_id="e0", label="b", ts=1.0)).alerts == []
    assert fleet.early_labels == 1
    fleet.handle(PredictionEvent(model_id="m", model_version="1", event_id="e0", ts=0.5, prediction="a"))
    assert fleet.monitor("m").signals["error"].updates == 1


def test_a_deployment_resets_detectors_counters_and_event_index() -> None:
    fleet = fleet_of(MonitoringConfig(defaults=adwin_policy()))
    values = two_regimes()
    for event in feature_events(values[:1010]):
        fleet.handle(event)
    fleet.handle(ModelDeployed(model_id="m", model_version="2", ts=2000.0))
    monitor = fleet.monitor("m")
    assert (monitor.event_count, monitor.signals, monitor.model_version) == (0, {}, "2")
    after = [a for e in feature_events(values, version="2") for a in fleet.handle(e).alerts]
    assert [a.event_index for a in after] == [1023]


def test_events_of_the_replaced_version_are_stale_after_a_deployment() -> None:
    """In flight when the service switched: they must not look like a change in the new version."""
    monitor = ModelMonitor("m", adwin_policy())
    for event in feature_events([0.0] * 10):
        monitor.observe(event)
    monitor.reset(ModelDeployed(model_id="m", model_version="2", ts=20.0))
    stale = [monitor.observe(e).stale_events for e in feature_events([5.0] * 5)]
    fresh = [monitor.observe(e).stale_events for e in feature_events([0.0] * 3, version="2")]
    canary = monitor.observe(feature_events([0.0], version="canary")[0]).stale_events
    assert (stale, fresh, canary) == ([1] * 5, [0] * 3, 0)
    assert monitor.event_count == 4 and monitor.retired_version == "1"


def test_a_label_for_a_prediction_made_before_a_deployment_is_stale() -> None:
    fleet = fleet_of(MonitoringConfig())
    fleet.handle(PredictionEvent(model_id="m", model_version="1", event_id="old", ts=1.0, prediction="a"))
    fleet.handle(ModelDeployed(model_id="m", model_version="2", ts=2.0))
    assert fleet.handle(LabelEvent(model_id="m", event_id="old", label="b", ts=3.0)).stale_labels == 1


def test_drift_on_the_error_signal_requests_one_retrain_per_cooldown() -> None:
    policy = ModelPolicy(signals={"error": SignalRule.model_validate({"detectors": [{"type": "ddm"}]})},
                         retrain=RetrainPolicy(cooldown_seconds=1e9))
    monitor = ModelMonitor("m", policy)
    bits = error_bits() + [1] * 3000
    outputs = [monitor.observe(e) for e in labelled_predictions(bits)]
    drifts = [a for o in outputs for a in o.alerts if a.severity == "drift"]
    requests = [r for o in outputs for r in o.retrain_requests]
    assert len(drifts) >= 2 and len(requests) == 1
    assert requests[0].reasons == [drifts[0].alert_id]
    assert requests[0].window.to_ts == drifts[0].ts


def test_drift_on_enough_distinct_signals_within_the_window_requests_a_retrain() -> None:
    policy = ModelPolicy(signals={"feature:*": SignalRule.model_validate({"detectors": [{"type": "adwin"}]})},
                         retrain=RetrainPolicy(on_signals=[], min_drifted_signals=2, within_seconds=100))
    monitor = ModelMonitor("m", policy)
    values = two_regimes()
    events = [FeatureEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i),
                           features={"a": v, "b": values[i - 30] if i >= 30 else 0.0})
              for i, v in enumerate(values)]
    requests = [r for e in events for r in monitor.observe(e).retrain_requests]
    assert len(requests) == 1
    assert len(requests[0].reasons) == 2


def test_alert_ids_are_deterministic_so_replays_can_be_deduplicated() -> None:
    def ids() -> list[str]:
        monitor = ModelMonitor("m", adwin_policy())
        return [a.alert_id for e in feature_events(two_regimes()) for a in monitor.observe(e).alerts]

    assert ids() == ids() and len(ids()) == 1


def test_an_allow_list_knows_only_its_models() -> None:
    config = MonitoringConfig(allowed_models=["known"])
    assert config.knows("known") and not config.knows("stranger")


@pytest.mark.parametrize("threshold, expected", [(None, 1), (0.5, 0), (0.05, 1)])
def test_regression_errors_use_the_loss_threshold(threshold: float | None, expected: int) -> None:
    from detectors.signals import error_bit

    assert error_bit(10.0, 10.1, threshold) == expected


def test_a_redelivered_deployment_for_the_same_request_does_not_reset_again() -> None:
    monitor = ModelMonitor("m", adwin_policy())
    deployed = ModelDeployed(model_id="m", model_version="2", ts=1.0, request_id="r-1")
    assert monitor.reset(deployed) is True
    for event in feature_events(two_regimes()[:50]):
        monitor.observe(event)
    assert monitor.reset(deployed) is False
    assert monitor.event_count == 50 and monitor.generation == 1


def test_a_missing_signal_counts_nulls_and_absent_keys_from_the_features_first_appearance() -> None:
    monitor = ModelMonitor("m", MonitoringConfig().defaults)
    rows: list[dict[str, float | str | None]] = [{"a": 1.0}, {"a": 2.0, "b": None}, {"a": 3.0, "b": 4.0}, {"a": None}]
    events = [FeatureEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i), features=row)
              for i, row in enumerate(rows)]
    monitor.observe_many(events[:2])
    monitor.observe_many(events[2:])
    missing_a, missing_b = monitor.signals["missing:a"], monitor.signals["missing:b"]
    assert missing_a.updates == 4 and missing_b.updates == 3  # b is watched from event 1, where it first appears
    assert missing_a.windows is not None and missing_b.windows is not None
    assert missing_a.windows.reference.values().tolist() == [0.0, 0.0, 0.0, 1.0]
    assert missing_b.windows.reference.values().tolist() == [1.0, 0.0, 1.0]


def test_a_score_is_watched_as_score_or_one_signal_per_class() -> None:
    monitor = ModelMonitor("m", MonitoringConfig().defaults)
    events = [PredictionEvent(model_id="m", model_version="1", event_id="a", ts=1.0, prediction=1.0, score=0.7),
              PredictionEvent(model_id="m", model_version="1", event_id="b", ts=2.0, prediction="x",
                              score=[0.1, 0.2, 0.7]),
              PredictionEvent(model_id="m", model_version="1", event_id="c", ts=3.0, prediction=0.0)]
    monitor.observe_many(events)
    assert {"score", "score:0", "score:1", "score:2"} <= set(monitor.signals)
    assert monitor.signals["score"].updates == 1 and monitor.signals["score:2"].updates == 1
    assert monitor.signals["score:2"].kind == "prediction"
    assert monitor.signals["score:2"].windows.reference.values().tolist() == pytest.approx([0.7])  # type: ignore[union-attr]


def test_two_detectors_of_one_signal_alerting_on_the_same_event_get_distinct_alert_ids() -> None:
    """A jump beyond the reference's range trips the location and scale banks at the same value: both
    are rate CUSUMs, and their alerts must not share an id (the worker would take one for a resend)."""
    monitor = ModelMonitor("m", MonitoringConfig().defaults, clock=lambda: 0.0)
    events = [FeatureEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i), features={"x": v})
              for i, v in enumerate(two_regimes())]
    alerts = monitor.observe_many(events).alerts
    same_event = [a for a in alerts if a.event_index == alerts[0].event_index and a.signal == "feature:x"]
    assert len(same_event) >= 2
    assert len({a.alert_id for a in alerts}) == len(alerts)


def _labelled(n: int, error_rate: np.ndarray, seed: int) -> list[PredictionEvent]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n).astype(float)
    wrong = rng.random(n) < error_rate
    return [PredictionEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i), features={"x": 0.5},
                            prediction=float(1 - y if w else y), label=float(y))
            for i, (y, w) in enumerate(zip(labels.tolist(), wrong.tolist(), strict=True))]


def test_an_error_rate_that_falls_is_reported_as_an_improvement_not_drift() -> None:
    falling = _labelled(8_000, np.where(np.arange(8_000) >= 4_000, 0.03, 0.10), seed=1)
    out = ModelMonitor("m", MonitoringConfig().defaults, clock=lambda: 0.0).observe_many(falling)
    errors = [a for a in out.alerts if a.signal == "error"]
    assert errors and all(a.severity == "warning" and a.evidence.after["improvement"] == 1.0 for a in errors)
    assert errors[0].event_index >= 4_000 and not out.retrain_requests
    rising = _labelled(8_000, np.where(np.arange(8_000) >= 4_000, 0.20, 0.10), seed=2)
    out = ModelMonitor("m", MonitoringConfig().defaults, clock=lambda: 0.0).observe_many(rising)
    first = next(a for a in out.alerts if a.signal == "error")
    assert first.severity == "drift" and "improvement" not in first.evidence.after and out.retrain_requests
