"""The post-deployment watch: a new version clearly worse than the one it replaced raises a `deployment`
alert and a rollback recommendation; one as good raises nothing; cuts and snapshots change nothing."""

import numpy as np

from detectors.config import MonitoringConfig
from detectors.deployment_watch import DeploymentWatch, DeploymentWatchConfig
from detectors.monitor import ModelMonitor, MonitorOutput
from detectors.snapshot import decode_snapshot, encode_snapshot
from schemas import ModelDeployed, PredictionEvent

KEY = b"test-key"


def predictions(version: str, error_rate: float, n: int, start: int, seed: int) -> list[PredictionEvent]:
    wrong = np.random.default_rng(seed).random(n) < error_rate
    return [PredictionEvent(model_id="m", model_version=version, event_id=f"{version}-{start + i}",
                            ts=float(start + i), prediction="a", label="b" if bad else "a")
            for i, bad in enumerate(wrong.tolist())]


def deployed_after_baseline(new_version: str = "2") -> ModelMonitor:
    monitor = ModelMonitor("m", MonitoringConfig().defaults, clock=lambda: 0.0)
    monitor.reset(ModelDeployed(model_id="m", model_version="1", ts=0.0))
    monitor.observe_many(predictions("1", 0.05, 1_500, 0, seed=1))
    monitor.reset(ModelDeployed(model_id="m", model_version=new_version, ts=1_500.0, request_id="r-1"))
    return monitor


def feed(monitor: ModelMonitor, events: list[PredictionEvent], cut: int) -> MonitorOutput:
    out = MonitorOutput()
    for start in range(0, len(events), cut):
        out.extend(monitor.observe_many(events[start:start + cut]))
    return out


def test_a_clearly_worse_version_raises_a_deployment_alert_and_recommends_the_replaced_one() -> None:
    monitor = deployed_after_baseline()
    out = feed(monitor, predictions("2", 0.20, 2_000, 1_500, seed=2), cut=2_000)
    watch = [a for a in out.alerts if a.kind == "deployment"]
    assert len(watch) == 1 and watch[0].detector == "deployment_watch" and watch[0].event_index < 500
    assert watch[0].evidence.after["error_rate"] > 0.1 and watch[0].evidence.before["count"] >= 100
    rollbacks = [r for r in out.retrain_requests if r.rollback_to is not None]
    assert [(r.rollback_to, r.reasons) for r in rollbacks] == [("1", [watch[0].alert_id])]


def test_a_version_as_good_as_the_last_raises_nothing_over_many_seeds() -> None:
    fired = 0
    for seed in range(30):
        monitor = deployed_after_baseline()
        out = feed(monitor, predictions("2", 0.05, 2_000, 1_500, seed=100 + seed), cut=2_000)
        fired += any(a.kind == "deployment" for a in out.alerts)
    assert fired == 0


def test_the_watch_fires_at_the_same_label_however_the_stream_is_cut_or_restored() -> None:
    events = predictions("2", 0.15, 2_000, 1_500, seed=3)
    whole = deployed_after_baseline()
    expected = [a.alert_id for a in feed(whole, events, cut=2_000).alerts if a.kind == "deployment"]
    assert len(expected) == 1
    pieces = deployed_after_baseline()
    seen = []
    for start in range(0, 2_000, 37):
        out = pieces.observe_many(events[start:start + 37])
        seen += [a.alert_id for a in out.alerts if a.kind == "deployment"]
        pieces = decode_snapshot(encode_snapshot(pieces, KEY), KEY, MonitoringConfig().defaults,
                                 clock=lambda: 0.0)
    assert seen == expected


def test_no_watch_without_a_replaced_version_with_a_baseline() -> None:
    fresh = ModelMonitor("m", MonitoringConfig().defaults)
    fresh.reset(ModelDeployed(model_id="m", model_version="1", ts=0.0))
    assert fresh.deployment_watch is None
    short = ModelMonitor("m", MonitoringConfig().defaults)
    short.observe_many(predictions("1", 0.05, 50, 0, seed=4))
    short.reset(ModelDeployed(model_id="m", model_version="2", ts=50.0))
    assert short.deployment_watch is None  # 50 labels are too few a baseline


def test_the_watch_stops_after_its_labels() -> None:
    watch = DeploymentWatch("1", 10, 1_000, DeploymentWatchConfig(labels=100))
    assert watch.update(np.zeros(150)) is None and watch.done and watch.labels == 100
    assert watch.update(np.ones(500)) is None  # past its horizon: a later rise is the monitors' business


def test_a_rejected_candidate_s_request_is_asked_again_after_the_cooldown_from_the_drift_s_start() -> None:
    from detectors.config import ModelPolicy, RetrainPolicy
    from schemas import ModelRejected
    from schemas.lineage import Validation

    policy = ModelPolicy(preset="calibrated", retrain=RetrainPolicy(cooldown_seconds=1_000.0))
    monitor = ModelMonitor("m", policy, clock=lambda: 0.0)
    out = feed(monitor, predictions("1", 0.05, 1_000, 0, seed=5) + predictions("1", 0.5, 500, 1_000, seed=6), 250)
    first = [r for r in out.retrain_requests]
    assert len(first) == 1 and [e.kind for e in out.lineage] == ["request"]
    began = first[0].window.from_ts
    verdict = Validation(metric="accuracy", candidate_score=0.1, serving_score=0.5, slice_size=10, margin=0.0,
                         passed=False)
    monitor.rejected(ModelRejected(model_id="m", candidate_version="2", serving_version="1",
                                   request_id=first[0].request_id, ts=0.0, validation=verdict, reason="worse"))
    early = feed(monitor, predictions("1", 0.5, 50, 1_500, seed=7), 50)  # within the cooldown: nothing yet
    assert early.retrain_requests == []
    late = monitor.observe_many(predictions("1", 0.5, 10, 2_100, seed=8))  # ts 2,100: past it
    assert len(late.retrain_requests) == 1
    retry = late.retrain_requests[0]
    assert retry.request_id != first[0].request_id and retry.window.from_ts == began
    assert retry.reasons == first[0].reasons and [e.kind for e in late.lineage] == ["request"]
    assert feed(monitor, predictions("1", 0.5, 500, 2_110, seed=9), 100).retrain_requests == []  # once per rejection
    restored = decode_snapshot(encode_snapshot(monitor, KEY), KEY, policy, clock=lambda: 0.0)
    assert restored.retrain.last_reasons == first[0].reasons and restored.retrain.drift_began_ts == began
