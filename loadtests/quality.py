"""Detection quality: does an alert mean drift, and does silence mean no drift?

Seeded scenarios, each one model's stream of prediction events with inline labels: stationary
controls (nothing changes; every drift alert is a false alarm) and drifts (one thing changes at a
known event; scored for detected yes/no and the delay to the first drift alert on the signal that
should see it). Each runs through driftline's zero-config monitor (detectors/, the code the worker
and the backtest run) and through river's default detectors in a plain loop (ADWIN on each numeric
feature, Page-Hinkley on a numeric prediction and on a score, DDM on the error bit), side by side. Figures are
printed and written to loadtests/results/quality.json.

    ./dev.sh quality            # or: .venv/bin/python -m loadtests.quality [--quick]

False alarms are drift alerts per 100,000 events per watched signal (a control's every drift
alert; a drift scenario's alerts before its change). A signal is "watched" when something could
alert on it; what neither side watches is reported as not watched, never as quiet.
"""

import argparse
import fnmatch
import json
import math
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from river import datasets, drift
from river.drift import binary

from detectors.calibration import signal_false_alarm_rate
from detectors.config import MonitoringConfig
from detectors.monitor import ModelMonitor
from detectors.rate_cusum import RateCusumParams
from detectors.signals import (
    ERROR,
    ESTIMATED_PERFORMANCE,
    JOINT,
    PERFORMANCE,
    PREDICTION,
    SCORE,
    category_signal,
    feature_signal,
    missing_signal,
)
from detectors.snapshot import encode_snapshot
from schemas import PredictionEvent, Severity

RESULTS = Path(__file__).parent / "results"
Column = list[Any]
Result = dict[str, Any]


@dataclass(frozen=True)
class Stream:
    """One scenario's values: feature columns (floats, category strings or None), predictions, labels."""

    features: dict[str, Column]
    predictions: Column
    labels: Column
    scores: Column | None = None
    """The positive-class probability of each prediction, when the scenario has one."""


Maker = Callable[[np.random.Generator, int, int], Stream]


@dataclass(frozen=True)
class Scenario:
    name: str
    make: Maker
    events: int
    change_at: int | None = None
    """The first changed event; None for a stationary control."""
    signal: str | None = None
    """The signal that should see the change."""
    what: str = ""


def _classifier(rng: np.random.Generator, n: int, error_rate: np.ndarray | float = 0.1) -> tuple[Column, Column]:
    """A 0/1 prediction with its label; `error_rate` per event (or one rate for all)."""
    labels = rng.integers(0, 2, size=n).astype(float)
    wrong = rng.random(n) < error_rate
    return np.where(wrong, 1.0 - labels, labels).tolist(), labels.tolist()


def _stream(rng: np.random.Generator, n: int, features: dict[str, Column],
            error_rate: np.ndarray | float = 0.1) -> Stream:
    predictions, labels = _classifier(rng, n, error_rate)
    return Stream(features, predictions, labels)


def _after(n: int, at: int) -> np.ndarray:
    changed: np.ndarray = np.arange(n) >= at
    return changed


# stationary controls ---------------------------------------------------------------------------------
def gaussian(rng: np.random.Generator, n: int, at: int) -> Stream:
    return _stream(rng, n, {"x": rng.normal(size=n).tolist()})


def heavy_tailed(rng: np.random.Generator, n: int, at: int) -> Stream:
    return _stream(rng, n, {"lognormal": rng.lognormal(0.0, 1.0, size=n).tolist(),
                            "student_t3": rng.standard_t(3, size=n).tolist()})


def discrete(rng: np.random.Generator, n: int, at: int) -> Stream:
    return _stream(rng, n, {"poisson": rng.poisson(3.0, size=n).astype(float).tolist(),
                            "rating": rng.integers(1, 6, size=n).astype(float).tolist()})


def numeric_prediction(rng: np.random.Generator, n: int, at: int) -> Stream:
    """A regression model whose prediction is in its own units (std 10), without labels."""
    return Stream({"x": rng.normal(size=n).tolist()}, (100.0 + 10.0 * rng.normal(size=n)).tolist(), [None] * n)


def categorical(rng: np.random.Generator, n: int, at: int) -> Stream:
    mix = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
    return _stream(rng, n, {"plan": [f"p{k}" for k in rng.choice(5, size=n, p=mix)]})


def missing(rng: np.random.Generator, n: int, at: int) -> Stream:
    x = rng.normal(size=n)
    return _stream(rng, n, {"x": [None if gone else v for v, gone in zip(x.tolist(), rng.random(n) < 0.01,
                                                                          strict=True)]})


def wide(rng: np.random.Generator, n: int, at: int) -> Stream:
    values = rng.normal(size=(n, 100))
    return _stream(rng, n, {f"f{j}": values[:, j].tolist() for j in range(100)})


def regression(rng: np.random.Generator, n: int, at: int, *, grows: float = 1.0) -> Stream:
    """A regression model (labels in its own units, std 10) with Student-t(3) errors, labelled at once;
    its errors grow `grows` times from `at`."""
    labels = 100.0 + 10.0 * rng.normal(size=n)
    errors = rng.standard_t(3, size=n) * np.where(_after(n, at), grows, 1.0)
    return Stream({"x": rng.normal(size=n).tolist()}, (labels + errors).tolist(), labels.tolist())


# drifts ----------------------------------------------------------------------------------------------
def mean_shift(sigmas: float) -> Maker:
    def make(rng: np.random.Generator, n: int, at: int) -> Stream:
        return _stream(rng, n, {"x": (rng.normal(size=n) + sigmas * _after(n, at)).tolist()})
    return make


def gradual(rng: np.random.Generator, n: int, at: int) -> Stream:
    """The mean moves by one sigma over 2,000 events, linearly."""
    ramp = np.clip((np.arange(n) - at) / 2_000, 0.0, 1.0)
    return _stream(rng, n, {"x": (rng.normal(size=n) + ramp).tolist()})


def variance_doubles(rng: np.random.Generator, n: int, at: int) -> Stream:
    scale = np.where(_after(n, at), np.sqrt(2.0), 1.0)
    return _stream(rng, n, {"x": (rng.normal(size=n) * scale).tolist()})


def category_mix(rng: np.random.Generator, n: int, at: int) -> Stream:
    before, after = np.array([0.4, 0.25, 0.15, 0.12, 0.08]), np.array([0.25, 0.25, 0.15, 0.12, 0.23])
    codes = np.where(_after(n, at), rng.choice(5, size=n, p=after), rng.choice(5, size=n, p=before))
    return _stream(rng, n, {"plan": [f"p{k}" for k in codes]})


def null_rate(rng: np.random.Generator, n: int, at: int) -> Stream:
    gone = rng.random(n) < np.where(_after(n, at), 0.30, 0.01)
    return _stream(rng, n, {"x": [None if g else v for v, g in zip(rng.normal(size=n).tolist(), gone, strict=True)]})


def error_rises(to: float) -> Maker:
    def make(rng: np.random.Generator, n: int, at: int) -> Stream:
        return _stream(rng, n, {"x": rng.normal(size=n).tolist()}, np.where(_after(n, at), to, 0.1))
    return make


def minority_recall(rng: np.random.Generator, n: int, at: int) -> Stream:
    """A fraud classifier (10% fraud, 1% false positives) whose recall of fraud falls from 0.8 to 0.3: the
    error rate rises by about five points, its inputs and the prediction mix barely move."""
    labels = (rng.random(n) < 0.1).astype(float)
    missed = (labels == 1.0) & (rng.random(n) > np.where(_after(n, at), 0.3, 0.8))
    false_positive = (labels == 0.0) & (rng.random(n) < 0.01)
    predictions = np.where(missed, 0.0, np.where(false_positive, 1.0, labels))
    return Stream({"x": rng.normal(size=n).tolist()}, predictions.tolist(), labels.tolist())


def regression_errors_grow(rng: np.random.Generator, n: int, at: int) -> Stream:
    return regression(rng, n, at, grows=1.5)


def prediction_shift(rng: np.random.Generator, n: int, at: int) -> Stream:
    """The regression model's prediction (std 10) moves by one of its standard deviations."""
    shift = 10.0 * _after(n, at)
    return Stream({"x": rng.normal(size=n).tolist()}, (100.0 + 10.0 * rng.normal(size=n) + shift).tolist(), [None] * n)


def score_shift(rng: np.random.Generator, n: int, at: int) -> Stream:
    """A classifier's positive-class probability moves from Beta(2, 5) to Beta(3, 4) (its mean by
    about one standard deviation); its 0/1 prediction and error rate stay as they were."""
    after = _after(n, at)
    scores = np.where(after, rng.beta(3.0, 4.0, size=n), rng.beta(2.0, 5.0, size=n))
    stream = _stream(rng, n, {"x": rng.normal(size=n).tolist()})
    return Stream(stream.features, stream.predictions, stream.labels, scores.tolist())


def error_from(base: float, to: float) -> Maker:
    """A classifier whose error rate moves from `base` to `to` at the change."""
    def make(rng: np.random.Generator, n: int, at: int) -> Stream:
        return _stream(rng, n, {"x": rng.normal(size=n).tolist()}, np.where(_after(n, at), to, base))
    return make


def spread_narrows(rng: np.random.Generator, n: int, at: int) -> Stream:
    """The spread shrinks by 15%, the mean unchanged."""
    return _stream(rng, n, {"x": (rng.normal(size=n) * np.where(_after(n, at), 0.85, 1.0)).tolist()})


def category_vanishes(rng: np.random.Generator, n: int, at: int) -> Stream:
    """One category's share falls from 10% to 1%, the others take it up."""
    before, after = np.array([0.4, 0.3, 0.2, 0.1]), np.array([0.44, 0.33, 0.22, 0.01])
    codes = np.where(_after(n, at), rng.choice(4, size=n, p=after), rng.choice(4, size=n, p=before))
    return _stream(rng, n, {"plan": [f"p{k}" for k in codes]})


def class_prediction(rng: np.random.Generator, n: int, at: int) -> Stream:
    """A fraud classifier's class-name prediction, 'fraud' from 5% to 15% of predictions, no labels yet."""
    fraud = rng.random(n) < np.where(_after(n, at), 0.15, 0.05)
    return Stream({"x": rng.normal(size=n).tolist()}, np.where(fraud, "fraud", "ok").tolist(), [None] * n)


def confident(rng: np.random.Generator, n: int, at: int) -> Stream:
    """A classifier with calibrated scores and no labels yet: each prediction is right with the chance
    its score gives, and the inputs move to where it is less sure, its expected accuracy from 0.95 to
    0.80 (covariate shift: its scores stay calibrated)."""
    sure = np.where(_after(n, at), rng.beta(3.0, 2.0, size=n), rng.beta(9.0, 1.0, size=n)) * 0.5 + 0.5
    predictions = (rng.random(n) < 0.5).astype(float)
    scores = np.where(predictions == 1.0, sure, 1.0 - sure)
    return Stream({"x": rng.normal(size=n).tolist()}, predictions.tolist(), [None] * n, scores.tolist())


def correlation(flips: bool) -> Maker:
    """Two features correlated +0.8 (one lognormal, so not every shape is Gaussian) and a third
    independent one; with `flips`, the correlation turns to -0.8 at the change, every marginal as it was."""
    def make(rng: np.random.Generator, n: int, at: int) -> Stream:
        a, noise = rng.normal(size=n), rng.normal(size=n)
        sign = np.where(_after(n, at), -1.0, 1.0) if flips else 1.0
        b = np.exp(sign * 0.8 * a + 0.6 * noise)
        return _stream(rng, n, {"a": a.tolist(), "b": b.tolist(), "c": rng.normal(size=n).tolist()})
    return make


def ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """A stationary AR(1) series with unit variance: each value phi times the last plus fresh noise."""
    noise = rng.normal(size=n) * np.sqrt(1.0 - phi * phi)
    values = np.empty(n)
    values[0] = rng.normal()
    for i in range(1, n):
        values[i] = phi * values[i - 1] + noise[i]
    return values


def autocorrelated(phi: float) -> Maker:
    def make(rng: np.random.Generator, n: int, at: int) -> Stream:
        return _stream(rng, n, {"a": ar1(rng, n, phi).tolist(), "b": ar1(rng, n, phi).tolist()})
    return make


def real(name: str, drift: bool) -> Maker:
    """A data set river ships (real sensor or image features, their ties and shapes), drawn with
    replacement in random order: stationary, or, from the change, with its minority rows (Shuttle's
    anomalies, Segment's 'path' regions) drawn three times as often: a covariate shift with real
    marginals and correlations. The prediction is the true class (1: the minority), wrong 5% of the time."""
    def make(rng: np.random.Generator, n: int, at: int) -> Stream:
        table, classes = _real_table(name)
        rows = rng.integers(0, len(classes), size=n)
        if drift:
            heavy = np.where(classes == 1, 3.0, 1.0)
            rows = np.where(_after(n, at), rng.choice(len(classes), size=n, p=heavy / heavy.sum()), rows)
        truth = classes[rows].astype(float)
        predictions = np.where(rng.random(n) < 0.05, 1.0 - truth, truth)
        return Stream({f"f{j}": table[rows, j].tolist() for j in range(table.shape[1])}, predictions.tolist(),
                      truth.tolist())
    return make


def _real_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features (float64 rows) and a class per row (1: the minority) of a data set river ships."""
    if name == "shuttle":
        rows = list(datasets.Shuttle())
    else:
        rows = [(x, 1 if y == "path" else 0) for x, y in datasets.ImageSegments()]  # type: ignore[no-untyped-call]
    names = list(rows[0][0])
    table = np.array([[float(x[k]) for k in names] for x, _ in rows])
    return table, np.array([int(y) for _, y in rows])


def scenarios(scale: float) -> list[Scenario]:
    control, change = int(100_000 * scale), int(40_000 * scale)
    at = change // 2
    x = feature_signal("x")
    return [
        Scenario("gaussian", gaussian, control, what="one N(0,1) feature, 0/1 prediction, 10% errors"),
        Scenario("heavy-tailed", heavy_tailed, control, what="lognormal and Student-t(3) features"),
        Scenario("discrete", discrete, control, what="Poisson(3) and 1-5 rating features"),
        Scenario("numeric prediction", numeric_prediction, control, what="regression prediction, std 10"),
        Scenario("categorical", categorical, control, what="a 5-category feature"),
        Scenario("missing values", missing, control, what="a feature missing 1% of the time"),
        Scenario("100 features", wide, int(control * 0.3), what="100 N(0,1) features"),
        Scenario("mean +0.5 sigma", mean_shift(0.5), change, at, x),
        Scenario("mean +1 sigma", mean_shift(1.0), change, at, x),
        Scenario("mean +2 sigma", mean_shift(2.0), change, at, x),
        Scenario("gradual +1 sigma over 2,000", gradual, change, at, x),
        Scenario("variance x2", variance_doubles, change, at, x),
        Scenario("categorical mix", category_mix, change, at, category_signal("plan")),
        Scenario("null rate 1% -> 30%", null_rate, change, at, missing_signal("x")),
        Scenario("error 10% -> 20%", error_rises(0.2), change, at, ERROR),
        Scenario("error 10% -> 40%", error_rises(0.4), change, at, ERROR),
        Scenario("numeric prediction shift", prediction_shift, change, at, PREDICTION),
        Scenario("score shift", score_shift, change, at, SCORE),
        Scenario("minority recall 0.8 -> 0.3", minority_recall, change, at, PERFORMANCE),
        Scenario("regression errors x1.5", regression_errors_grow, change, at, PERFORMANCE),
        # added last, so the rows above keep the seeds (row numbers) their published figures came from
        Scenario("labelled regression", regression, control, what="regression, Student-t(3) errors, labelled"),
        # issue 25: moderate changes, falls, class predictions, autocorrelation, real data
        Scenario("AR(1) phi 0.8", autocorrelated(0.8), control, what="two stationary AR(1) features, phi 0.8"),
        Scenario("AR(1) phi 0.3", autocorrelated(0.3), control, what="two stationary AR(1) features, phi 0.3"),
        Scenario("shuttle (real)", real("shuttle", False), control, what="river's Shuttle, 9 integer sensors"),
        Scenario("segment (real)", real("segment", False), int(control * 0.5), what="river's ImageSegments, "
                 "18 features"),
        Scenario("error 5% -> 7.5% (x1.5)", error_from(0.05, 0.075), change, at, ERROR),
        Scenario("error 5% -> 10% (x2)", error_from(0.05, 0.10), change, at, ERROR),
        Scenario("mean +0.25 sigma", mean_shift(0.25), change, at, x),
        Scenario("spread x0.85", spread_narrows, change, at, x),
        Scenario("category 10% -> 1%", category_vanishes, change, at, category_signal("plan")),
        Scenario("class prediction 5% -> 15%", class_prediction, change, at, PREDICTION),
        Scenario("correlated features", correlation(False), control, what="corr 0.8, one lognormal, and one apart"),
        Scenario("correlation +0.8 -> -0.8", correlation(True), change, at, JOINT),
        Scenario("estimated accuracy 0.95 -> 0.80", confident, change, at, ESTIMATED_PERFORMANCE),
        Scenario("shuttle anomalies x3 (real)", real("shuttle", True), change, at, "feature:*"),

        Scenario("segment 'path' x3 (real)", real("segment", True), change, at, "feature:*"),
    ]


def events_of(stream: Stream, model_id: str) -> list[PredictionEvent]:
    names = list(stream.features)
    columns = [stream.features[name] for name in names]
    scores = stream.scores or [None] * len(stream.predictions)
    return [PredictionEvent.model_construct(model_id=model_id, model_version="1", event_id=f"e{i}",
                                            ts=1_700_000_000.0 + i, features=dict(zip(names, row, strict=True)),
                                            prediction=p, label=y, score=s)
            for i, (p, y, s, *row) in enumerate(zip(stream.predictions, stream.labels, scores, *columns,
                                                     strict=True))]


def run_driftline(events: list[PredictionEvent], costs: Result | None = None
                  ) -> tuple[dict[str, list[int]], set[str]]:
    """Drift alerts per signal (event indices) from the zero-config monitor, and the signals it watched;
    `costs` gets the monitor's time per event, the reference sizes its rate CUSUMs reached and the size
    of its snapshot at the end."""
    monitor = ModelMonitor(events[0].model_id, MonitoringConfig().defaults)
    drifts: dict[str, list[int]] = {}
    started = time.perf_counter()
    for start in range(0, len(events), 500):
        for alert in monitor.observe_many(events[start : start + 500]).alerts:
            if alert.severity == Severity.DRIFT:
                drifts.setdefault(alert.signal, []).append(alert.event_index)
    if costs is not None:
        costs["us_per_event"] = (time.perf_counter() - started) / len(events) * 1e6
        sizes = [slot.detector.params.reference_size for signal in monitor.signals.values() for slot in signal.slots
                 if isinstance(slot.detector.params, RateCusumParams)]
        costs["reference_size"] = {"min": min(sizes, default=0), "max": max(sizes, default=0)}
        costs["snapshot_bytes"] = len(encode_snapshot(monitor, b"quality"))  # what Redis holds of its detectors
    watched = set(monitor.signals) | ({PERFORMANCE} if monitor.performance is not None else set())
    return drifts, watched


def run_river(stream: Stream) -> tuple[dict[str, list[int]], set[str]]:
    """river's defaults a user would wire up: ADWIN per numeric value, Page-Hinkley on the
    prediction, DDM on the error bit of labelled predictions."""
    detectors: dict[str, Any] = {}
    drifts: dict[str, list[int]] = {}

    def feed(signal: str, make: Callable[[], Any], index: int, value: float) -> None:
        detector = detectors.get(signal)
        if detector is None:
            detector = detectors[signal] = make()
        detector.update(value)
        if detector.drift_detected:
            drifts.setdefault(signal, []).append(index)

    names = list(stream.features)
    for i in range(len(stream.predictions)):
        for name in names:
            value = stream.features[name][i]
            if isinstance(value, float):
                feed(feature_signal(name), drift.ADWIN, i, value)  # type: ignore[arg-type]
        prediction, label = stream.predictions[i], stream.labels[i]
        if isinstance(prediction, float):  # river's detectors take numbers: a class name goes unwatched
            feed(PREDICTION, drift.PageHinkley, i, prediction)
        if stream.scores is not None:  # a score is a number: the user would watch it like the prediction
            feed(SCORE, drift.PageHinkley, i, stream.scores[i])  # type: ignore[arg-type]
        if label is not None:
            feed(ERROR, binary.DDM, i, float(prediction != label))  # type: ignore[arg-type]
    return drifts, set(detectors)


def score(scenario: Scenario, drifts: dict[str, list[int]], watched: set[str]) -> Result:
    before = scenario.change_at if scenario.change_at is not None else scenario.events
    false_alarms = sum(1 for found in drifts.values() for i in found if i < before)
    per_signal = false_alarms / max(len(watched), 1) / before * 100_000 if watched else None
    row: Result = {"watched_signals": len(watched), "false_alarms": false_alarms,
                   "false_alarms_per_100k_per_signal": per_signal,
                   "false_alarms_per_100k_per_model": false_alarms / before * 100_000}
    if scenario.change_at is not None and scenario.signal is not None:
        pattern = scenario.signal  # one signal, or a pattern such as feature:* (the first of them to see it)
        hits = sorted(i for signal, found in drifts.items() if fnmatch.fnmatchcase(signal, pattern)
                      for i in found if i >= scenario.change_at)
        row["watched"] = any(fnmatch.fnmatchcase(signal, pattern) for signal in watched)
        row["detected"] = bool(hits)
        row["delay_events"] = hits[0] - scenario.change_at if hits else None
    return row


def run(quick: bool) -> Result:
    started = time.perf_counter()
    rows = []
    for k, scenario in enumerate(scenarios(0.25 if quick else 1.0)):
        stream = scenario.make(np.random.default_rng([2026, k]), scenario.events, scenario.change_at or 0)
        events = events_of(stream, f"q{k}")
        costs: Result = {}
        driftline = score(scenario, *run_driftline(events, costs))
        rows.append({"scenario": scenario.name, "kind": "control" if scenario.change_at is None else "drift",
                     "events": scenario.events, "change_at": scenario.change_at, "signal": scenario.signal,
                     "what": scenario.what, "driftline": {**driftline, **costs},
                     "river": score(scenario, *run_river(stream))})
        print(line(rows[-1]), flush=True)
    print(f"\n{'yardstick: median delay over seeds':<44}{'delay':>8}{'bound':>8}{'ratio':>7}{'missed':>8}"
          f"{'FA':>5}")
    print("(bound: ln(1/a)/KL, the delay of a CUSUM told the change in advance, a the signal's false-alarm share)")
    marks = yardstick(5 if quick else 25)
    return {"rows": rows, "yardstick": marks,
            "run": {"quick": quick, "seconds": time.perf_counter() - started, "python": platform.python_version(),
                    "date": time.strftime("%Y-%m-%d", time.gmtime())}}


def bernoulli_kl(after: float, before: float) -> float:
    return after * math.log(after / before) + (1 - after) * math.log((1 - after) / (1 - before))


def yardstick(seeds: int) -> list[Result]:
    """The physical limit beside each delay: for mean shifts and rate rises, the median delay over seeded
    runs (a run that never finds the change counts as the longest) and Lorden's bound ln(1/a)/KL, where a
    is the signal's per-event false-alarm share in this one-feature model and KL the change's
    Kullback-Leibler divergence per event."""
    share = signal_false_alarm_rate(1e-5, 1e-5, 1)
    cases: list[tuple[str, Maker, str, float]] = [
        *((f"mean +{d:g} sigma", mean_shift(d), feature_signal("x"), d * d / 2) for d in (0.25, 0.5, 1.0, 2.0)),
        ("error 5% -> 7.5% (x1.5)", error_from(0.05, 0.075), ERROR, bernoulli_kl(0.075, 0.05)),
        ("error 5% -> 10% (x2)", error_from(0.05, 0.10), ERROR, bernoulli_kl(0.10, 0.05)),
    ]
    marks = []
    at, n = 20_000, 30_000
    for k, (name, make, signal, kl) in enumerate(cases):
        delays, false_alarms = [], 0
        for seed in range(seeds):
            stream = make(np.random.default_rng([2027, k, seed]), n, at)
            scored = score(Scenario(name, make, n, at, signal), *run_driftline(events_of(stream, f"y{k}")))
            delays.append(scored["delay_events"] if scored["detected"] else math.inf)
            false_alarms += scored["false_alarms"]
        median = statistics.median(delays)
        bound = math.log(1 / share) / kl
        marks.append({"change": name, "signal": signal, "seeds": seeds, "median_delay": median if
                      math.isfinite(median) else None, "bound": bound, "ratio": median / bound if
                      math.isfinite(median) else None, "missed": sum(not math.isfinite(d) for d in delays),
                      "false_alarms": false_alarms, "changed_at": at, "events": n})
        shown = f"{median:.0f}" if math.isfinite(median) else "missed"
        ratio = f"{median / bound:.2f}" if math.isfinite(median) else "-"
        print(f"{name:<44}{shown:>8}{bound:>8.0f}{ratio:>7}{marks[-1]['missed']:>8}{false_alarms:>5}", flush=True)
    return marks


def _cell(side: Result, drift_row: bool) -> str:
    rate = side["false_alarms_per_100k_per_signal"]
    alarms = "-" if rate is None else f"{rate:.1f}"
    if not drift_row:
        return f"{alarms:>8} FA ({side['false_alarms_per_100k_per_model']:.0f}/model)"
    if not side["watched"]:
        return f"{'not watched':>14} {alarms:>6} FA"
    found = f"+{side['delay_events']}" if side["detected"] else "missed"
    return f"{found:>14} {alarms:>6} FA"


def line(row: Result) -> str:
    drift_row = row["kind"] == "drift"
    ours = row["driftline"]
    sizes = ours["reference_size"]
    return (f"{row['scenario']:<30}{_cell(ours, drift_row):>24}  {_cell(row['river'], drift_row):>24}"
            f"  ref {sizes['min']:>5}-{sizes['max']:<5} {ours['us_per_event']:>6.1f} us/event")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="driftline detection quality against river's defaults")
    parser.add_argument("--quick", action="store_true", help="a quarter of the events")
    parser.add_argument("--out", type=Path, help="results file (default loadtests/results/quality[-quick].json)")
    args = parser.parse_args(argv)
    print(f"{'scenario':<30}{'driftline zero-config':>24}  {'river defaults':>24}  driftline's reference sizes, "
          "monitor cost")
    print("(drift rows: events from the change to the first drift alert on its signal; FA: false drift "
          "alerts per 100k events per watched signal, and per model over all its signals)")
    out = run(args.quick)
    path = args.out or RESULTS / ("quality-quick.json" if args.quick else "quality.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {path} ({out['run']['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
