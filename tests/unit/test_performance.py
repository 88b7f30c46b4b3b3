"""Performance windows: metrics by their definitions, cut invariance, the calibrated band, the concept alert."""

import itertools
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.config import ModelPolicy, MonitoringConfig
from detectors.monitor import ModelMonitor
from detectors.performance import (
    ClosedWindow,
    PerformanceConfig,
    PerformanceMonitor,
    PerformanceWindow,
    _at_most_below,
    task_of,
)
from detectors.snapshot import decode_snapshot, encode_snapshot
from detectors.stats import fisher_lower
from detectors.windows import WindowConfig
from schemas import PredictionEvent

KEY = b"k" * 32
RATE = 1e-5 / 24  # a 10-feature model's per-signal share


def monitor(*, regression: bool = False, reference: int = 500, size: int = 500,
            config: PerformanceConfig | None = None) -> PerformanceMonitor:
    return PerformanceMonitor("m", config or PerformanceConfig(), WindowConfig(reference_size=reference, size=size),
                              regression=regression, false_alarm_rate=RATE)


def feed(performance: PerformanceMonitor, predictions: list, labels: list, cuts: list[int] | None = None
         ) -> list[ClosedWindow]:
    n = len(predictions)
    bounds = [0, *sorted(set(cuts or [])), n]
    closed = []
    for start, end in itertools.pairwise(bounds):
        if start < end:
            closed += performance.update(predictions[start:end], labels[start:end], np.arange(start, end),
                                         np.arange(start, end, dtype=np.float64), ["v1"] * (end - start))
    return closed


def by_definition(predictions: list, labels: list, positive: object | None) -> tuple[float, float, float, float]:
    """Accuracy, precision, recall, F1 as scikit-learn defines them (zero_division=0), written out."""
    accuracy = sum(p == y for p, y in zip(predictions, labels, strict=True)) / len(labels)

    def of(c: object) -> tuple[float, float, float]:
        tp = sum(p == c and y == c for p, y in zip(predictions, labels, strict=True))
        predicted, labelled = predictions.count(c), labels.count(c)
        precision = tp / predicted if predicted else 0.0
        recall = tp / labelled if labelled else 0.0
        return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    if positive is not None:
        return (accuracy, *of(positive))
    classes = list(dict.fromkeys(predictions + labels))
    scores = [of(c) for c in classes]
    return (accuracy, *(sum(s[i] for s in scores) / len(classes) for i in range(3)))  # type: ignore[return-value]


classes = st.sampled_from(["a", "b", "c", "d", 1.0, 2.0])


@settings(max_examples=60, deadline=None)
@given(pairs=st.lists(st.tuples(classes, classes), min_size=10, max_size=60),
       positive=st.sampled_from([None, "a", 1.0, "never"]))
def test_classification_metrics_match_their_definitions(pairs: list, positive: object | None) -> None:
    predictions, labels = [p for p, _ in pairs], [y for _, y in pairs]
    performance = monitor(reference=10, size=10, config=PerformanceConfig(positive_class=positive))
    for closed in feed(performance, predictions, labels):
        w = closed.window
        span = slice(w.first_index, w.last_index + 1)
        expected = by_definition(predictions[span], labels[span], positive)
        assert (w.accuracy, w.precision, w.recall, w.f1) == pytest.approx(expected, abs=1e-12)
        assert w.count == 10 and w.metric == "f1" and w.value == w.f1


def test_beyond_the_class_dictionary_accuracy_stays_exact() -> None:
    rng = np.random.default_rng(0)
    labels = [f"c{v}" for v in rng.integers(0, 300, 2_000)]
    predictions = [y if rng.random() < 0.6 else f"c{rng.integers(0, 300)}" for y in labels]
    for closed in feed(monitor(), predictions, labels):
        w = closed.window
        span = slice(w.first_index, w.last_index + 1)
        assert w.accuracy == pytest.approx(by_definition(predictions[span], labels[span], None)[0], abs=1e-12)


def test_regression_metrics_match_their_definitions() -> None:
    rng = np.random.default_rng(1)
    labels = rng.normal(size=1_500).tolist()
    predictions = (np.array(labels) + rng.standard_t(3, 1_500)).tolist()
    for closed in feed(monitor(regression=True), predictions, labels):
        w = closed.window
        errors = (np.array(predictions) - np.array(labels))[w.first_index: w.last_index + 1].astype(np.float32)
        errors = errors.astype(np.float64)  # pairs are kept as float32 errors
        assert w.mae == pytest.approx(np.abs(errors).mean(), rel=1e-12)
        assert w.rmse == pytest.approx(math.sqrt(np.square(errors).mean()), rel=1e-12)
        assert w.median_ae == w.value == pytest.approx(np.median(np.abs(errors)), rel=1e-12)


def test_regression_pairs_with_a_class_name_are_skipped_and_counted() -> None:
    performance = monitor(regression=True, reference=10, size=10)
    feed(performance, [1.0, "a", 2.0], [1.5, 1.0, "b"])
    assert performance.skipped == 2
    assert performance.reference.length == 1


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(1, 2_999), max_size=12), regression=st.booleans())
def test_windows_and_alerts_do_not_depend_on_how_labels_are_cut(cuts: list[int], regression: bool) -> None:
    predictions, labels = drifting_stream(regression, n=3_000, change_at=1_500)
    whole = feed(monitor(regression=regression, reference=300, size=300), predictions, labels)
    cut = feed(monitor(regression=regression, reference=300, size=300), predictions, labels, cuts)
    assert [(c.window, c.alert) for c in cut] == [(c.window, c.alert) for c in whole]
    assert any(closed.alert for closed in whole)


def drifting_stream(regression: bool, n: int, change_at: int, seed: int = 2) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    if regression:
        labels = rng.normal(size=n)
        noise = rng.normal(size=n) * np.where(np.arange(n) >= change_at, 2.0, 1.0)
        return (labels + noise).tolist(), labels.tolist()
    labels = (rng.random(n) < 0.3).astype(np.float64)
    wrong = rng.random(n) < np.where(np.arange(n) >= change_at, 0.35, 0.1)
    return np.where(wrong, 1.0 - labels, labels).tolist(), labels.tolist()


STATIONARY = {
    "binary, 20% errors": lambda rng, n: _classes(rng, n, rng.random(n) < 0.3, 0.2),
    "imbalanced (5% positive)": lambda rng, n: _classes(rng, n, rng.random(n) < 0.05, 0.03),
    "ten classes": lambda rng, n: _classes(rng, n, rng.integers(0, 10, n), 0.3),
    "300 Zipf classes": lambda rng, n: _classes(rng, n, rng.zipf(1.5, n) % 300, 0.3),
    "regression, Gaussian errors": lambda rng, n: _regression(rng, rng.normal(size=n)),
    "regression, Student-t(2.5) errors": lambda rng, n: _regression(rng, rng.standard_t(2.5, n)),
    "regression, lognormal errors": lambda rng, n: _regression(rng, rng.lognormal(0.0, 1.0, n)),
    "regression, integer errors": lambda rng, n: _regression(rng, rng.poisson(0.5, n).astype(np.float64)),
}


def _classes(rng: np.random.Generator, n: int, labels: np.ndarray, error_rate: float) -> tuple[list, list, bool]:
    labels = labels.astype(np.int64)
    predictions = np.where(rng.random(n) < error_rate, rng.permutation(labels), labels)
    return [f"c{v}" for v in predictions], [f"c{v}" for v in labels], False


def _regression(rng: np.random.Generator, errors: np.ndarray) -> tuple[list, list, bool]:
    labels = rng.normal(size=errors.size)
    return (labels + errors).tolist(), labels.tolist(), True


@pytest.mark.parametrize("name", list(STATIONARY))
def test_a_stationary_stream_raises_no_performance_alert_in_200k_labels(name: str) -> None:
    predictions, labels, regression = STATIONARY[name](np.random.default_rng(3), 200_000)
    config = PerformanceConfig(positive_class="c1") if name.startswith("imbalanced") else None
    cuts = list(range(0, 200_000, 4_096))
    closed = feed(monitor(regression=regression, config=config), predictions, labels, cuts)
    print(f"{name}: {sum(c.alert for c in closed)} alerts in {len(closed)} windows")
    assert not any(c.alert for c in closed)


def test_a_minority_class_collapse_raises_one_concept_alert_while_accuracy_barely_moves() -> None:
    rng = np.random.default_rng(4)
    n, change_at = 20_000, 10_000
    labels = np.where(rng.random(n) < 0.1, "fraud", "ok")
    recall = np.where(np.arange(n) >= change_at, 0.3, 0.8)
    missed = (labels == "fraud") & (rng.random(n) > recall)
    false_alarm = (labels == "ok") & (rng.random(n) < 0.01)
    predictions = np.where(missed, "ok", np.where(false_alarm, "fraud", labels))
    closed = feed(monitor(config=PerformanceConfig(positive_class="fraud")), predictions.tolist(), labels.tolist())
    alerts = [c.window for c in closed if c.alert]
    before = [c.window.accuracy for c in closed if c.window.last_index < change_at]
    after = [c.window.accuracy for c in closed if c.window.first_index >= change_at]
    assert np.mean(before) - np.mean(after) < 0.06  # the error rate rose by about five points
    assert len(alerts) == 1, "one alert for the episode, not one per window"
    assert change_at <= alerts[0].last_index < change_at + 1_000


def test_the_fisher_tail_is_the_hypergeometric_sum_of_exact_binomials() -> None:
    rng = random.Random(1)
    for _ in range(500):
        trials, reference_trials = rng.randint(1, 300), rng.randint(1, 300)
        hits, reference_hits = rng.randint(0, trials), rng.randint(0, reference_trials)
        total, successes = trials + reference_trials, hits + reference_hits
        exact = sum(math.comb(successes, x) * math.comb(total - successes, trials - x)
                    for x in range(max(0, trials - (total - successes)), hits + 1)) / math.comb(total, trials)
        assert fisher_lower(hits, trials, reference_hits, reference_trials) == pytest.approx(min(1.0, exact),
                                                                                             rel=1e-9, abs=1e-300)


def test_the_median_limit_probability_is_the_chance_of_a_random_arrangement() -> None:
    """The negative hypergeometric sum against shuffling exchangeable values."""
    n, size, k, most = 20, 9, 12, 4
    rng = random.Random(5)
    hits, trials = 0, 100_000
    for _ in range(trials):
        values = [(rng.random(), source) for source in ["r"] * n + ["w"] * size]
        values.sort()
        references_seen, below = 0, 0
        for _, source in values:
            if source == "r":
                references_seen += 1
                if references_seen == k:
                    break
            else:
                below += 1
        hits += below <= most
    assert _at_most_below(most, k, n, size) == pytest.approx(hits / trials, abs=0.005)


def labelled_events(predictions: list, labels: list) -> list[PredictionEvent]:
    return [PredictionEvent.model_construct(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i),
                                            features={"x": float(i % 7)}, prediction=p, label=y)
            for i, (p, y) in enumerate(zip(predictions, labels, strict=True))]


def test_auto_tells_a_regression_from_a_classifier_by_its_first_labelled_prediction() -> None:
    assert task_of(0.37, 1.0) == task_of(2.0, 2.5) == "regression"
    assert task_of(1.0, 0.0) == task_of("fraud", "ok") == task_of(3.0, "ok") == "classification"


def test_a_drop_is_a_concept_alert_on_signal_performance_that_requests_retraining() -> None:
    """Zero config on a regression without an error threshold: `auto` measures it as a regression."""
    predictions, labels = drifting_stream(regression=True, n=4_000, change_at=2_000)
    out = ModelMonitor("m", MonitoringConfig().defaults).observe_many(labelled_events(predictions, labels))
    alerts = [a for a in out.alerts if a.signal == "performance"]
    assert [(a.kind, a.detector, a.severity) for a in alerts] == [("concept", "median_ae_band", "drift")]
    assert alerts[0].evidence.after["median_ae"] > alerts[0].evidence.after["limit"]
    assert alerts[0].alert_id in out.retrain_requests[0].reasons
    assert [w.reference for w in out.performance] == [True] + [False] * 7


def test_the_river_preset_measures_performance_and_raises_no_alert_from_it() -> None:
    predictions, labels = drifting_stream(regression=False, n=4_000, change_at=2_000)
    out = ModelMonitor("m", ModelPolicy(preset="river")).observe_many(labelled_events(predictions, labels))
    assert len(out.performance) == 8
    assert any(w.drop for w in out.performance)
    assert not [a for a in out.alerts if a.signal == "performance"]


def test_performance_windows_continue_unchanged_after_a_snapshot_restore() -> None:
    predictions, labels = drifting_stream(regression=False, n=4_000, change_at=2_000)
    events = labelled_events(predictions, labels)
    policy = MonitoringConfig().defaults
    whole = ModelMonitor("m", policy, clock=lambda: 0.0).observe_many(events)
    first = ModelMonitor("m", policy, clock=lambda: 0.0)
    windows: list[PerformanceWindow] = first.observe_many(events[:777]).performance
    restored = decode_snapshot(encode_snapshot(first, KEY), KEY, policy, clock=lambda: 0.0)
    rest = restored.observe_many(events[777:])
    assert windows + rest.performance == whole.performance
    assert [a for a in rest.alerts if a.signal == "performance"] == [a for a in whole.alerts
                                                                     if a.signal == "performance"]
