"""What `auto` makes of a model's predictions: class names watched as a mix on signal `prediction`,
and whole-number regressions (prices sent as integers) taken for regressions, however the stream is cut."""

import itertools

import numpy as np

from detectors.config import MonitoringConfig
from detectors.monitor import ModelMonitor
from detectors.performance import PerformanceWindow
from detectors.snapshot import decode_snapshot, encode_snapshot
from schemas import DriftAlert, PredictionEvent

KEY = b"test-key"


def event(i: int, prediction: float | str, label: float | str | None = None) -> PredictionEvent:
    return PredictionEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i), features={"x": 0.5},
                           prediction=prediction, label=label)


def feed(stream: list[PredictionEvent], cuts: list[int], *, restore: bool = False
         ) -> tuple[ModelMonitor, list[DriftAlert], list[PerformanceWindow]]:
    policy = MonitoringConfig().defaults
    monitor, alerts, windows = ModelMonitor("m", policy, clock=lambda: 0.0), [], []
    for start, end in itertools.pairwise([0, *sorted(set(cuts)), len(stream)]):
        if restore:
            monitor = decode_snapshot(encode_snapshot(monitor, KEY), KEY, policy, clock=lambda: 0.0)
        out = monitor.observe_many(stream[start:end])
        alerts += out.alerts
        windows += out.performance
    return monitor, alerts, windows


def test_a_class_prediction_whose_share_rises_raises_a_prediction_drift() -> None:
    rng = np.random.default_rng(2)
    share = np.where(np.arange(6_000) >= 3_000, 0.15, 0.05)
    stream = [event(i, "fraud" if fraud else "ok") for i, fraud in enumerate((rng.random(6_000) < share).tolist())]
    monitor, alerts, _ = feed(stream, [])
    drifts = [a for a in alerts if a.severity == "drift"]
    assert drifts and drifts[0].signal == "prediction" and drifts[0].kind == "prediction"
    assert 3_000 <= drifts[0].event_index < 4_000
    assert monitor.signals["prediction"].categorical and monitor.signals["prediction"].categories == ["ok", "fraud"]
    assert feed(stream, [7, 499, 500, 2_999, 3_100], restore=True)[1] == alerts


def test_a_stable_class_prediction_raises_nothing() -> None:
    rng = np.random.default_rng(3)
    stream = [event(i, str(k)) for i, k in enumerate(rng.choice(["a", "b", "c"], p=[0.6, 0.3, 0.1], size=30_000))]
    assert not [a for a in feed(stream, [10_000])[1] if a.severity == "drift"]


def test_whole_number_prices_are_a_regression_switched_at_the_same_pair_whatever_the_cuts() -> None:
    rng = np.random.default_rng(4)
    labels = np.round(200_000 + 50_000 * rng.normal(size=3_000))
    predictions = np.round(labels + 5_000 * rng.standard_t(3, size=3_000) * np.where(np.arange(3_000) >= 1_500, 3, 1))
    stream = [event(i, float(p), float(y)) for i, (p, y) in enumerate(zip(predictions, labels, strict=True))]
    monitor, alerts, windows = feed(stream, [])
    assert monitor.performance is not None and monitor.performance.task == "regression"
    assert windows[0].reference and windows[0].metric == "median_ae" and windows[0].count == 500
    assert [a.signal for a in alerts if a.severity == "drift"][-1:] == ["performance"]
    for restore in (False, True):
        again = feed(stream, [3, 10, 11, 40, 499, 777], restore=restore)
        assert again[1] == alerts and again[2] == windows


def test_few_whole_numbers_stay_a_classifier() -> None:
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 5, size=2_000).astype(float)
    stream = [event(i, float(y if rng.random() < 0.9 else (y + 1) % 5), float(y)) for i, y in enumerate(labels)]
    monitor, _, windows = feed(stream, [100])
    assert monitor.performance is not None and monitor.performance.task == "classification"
    assert windows[0].metric == "f1"


def scored(n: int, at: int, before: tuple[float, float], after: tuple[float, float], seed: int
           ) -> list[PredictionEvent]:
    """0/1 predictions without labels whose calibrated scores put their chance of being right at
    0.5 + Beta(before)/2, then Beta(after)/2 from `at`."""
    rng = np.random.default_rng(seed)
    sure = np.where(np.arange(n) >= at, rng.beta(*after, size=n), rng.beta(*before, size=n)) * 0.5 + 0.5
    predictions = (rng.random(n) < 0.5).astype(float)
    scores = np.where(predictions == 1.0, sure, 1.0 - sure)
    return [PredictionEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i), features={"x": 0.5},
                            prediction=float(p), score=float(s))
            for i, (p, s) in enumerate(zip(predictions.tolist(), scores.tolist(), strict=True))]


def test_an_expected_accuracy_falling_from_the_scores_alone_is_a_concept_alert_marked_as_an_estimate() -> None:
    stream = scored(6_000, 3_000, (9.0, 1.0), (3.0, 2.0), seed=6)  # expected accuracy 0.95 -> 0.80
    _, alerts, _ = feed(stream, [3_100])  # the alert's column ends 100 values into a window: its estimate
    estimated = [a for a in alerts if a.signal == "estimated_performance"]
    assert estimated and estimated[0].kind == "concept" and 3_000 <= estimated[0].event_index < 3_200
    first = estimated[0].evidence
    assert first.after["estimate"] == 1.0
    assert abs(first.before["expected_accuracy"] - 0.95) < 0.02 and first.after["expected_accuracy"] < 0.93
    assert abs(first.before["expected_f1"] - 0.95) < 0.02 and first.after["expected_f1"] < 0.93  # positive class 1
    assert feed(stream, [1, 250, 3_001, 3_100], restore=True)[1] == alerts


def test_an_expected_accuracy_that_rises_or_holds_raises_no_estimated_performance_alert() -> None:
    for stream in (scored(6_000, 3_000, (3.0, 2.0), (9.0, 1.0), seed=7), scored(30_000, 30_000, (3, 2), (3, 2), 8)):
        assert not [a for a in feed(stream, [])[1] if a.signal == "estimated_performance"]


def test_the_expected_f1_counts_the_same_whatever_the_cuts() -> None:
    from detectors.estimated import EstimatedF1

    rng = np.random.default_rng(9)
    positive, scores = rng.random(3_333) < 0.3, rng.random(3_333)
    whole = EstimatedF1(500, 500)
    whole.add(positive, scores)
    for cuts in ([1, 499, 500, 501, 999, 1_000, 2_500], [1_234], list(range(0, 3_333, 97))):
        pieces = EstimatedF1(500, 500)
        for start, end in itertools.pairwise([0, *cuts, 3_333]):
            pieces.add(positive[start:end], scores[start:end])
        assert pieces.state() == whole.state()
    assert whole.seen == 3_333 and sum(whole.window) > 0  # 333 values into the sixth window
