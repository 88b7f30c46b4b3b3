"""DESIGN.md's correctness oracle: for a single-signal stream, alert event_index values are exactly
the indices at which the river detector, run in a plain loop, sets drift_detected."""

import random
from typing import Any

import pytest
from pydantic import TypeAdapter
from river import drift

from detectors.config import ModelPolicy, SignalRule, river_config
from detectors.fleet import InMemoryLabelBuffer, MonitorFleet
from detectors.monitor import ModelMonitor
from detectors.registry import AnyDetectorParams
from tests.streams import error_bits, feature_events, labelled_predictions, two_regimes

PARAMS: TypeAdapter[Any] = TypeAdapter(AnyDetectorParams)


def river_indices(detector: Any, values: list[float] | list[int]) -> list[int]:
    found = []
    for i, value in enumerate(values):
        detector.update(value)
        if detector.drift_detected:
            found.append(i)
    return found


def feature_alert_indices(params: dict[str, Any], values: list[float]) -> list[int]:
    policy = ModelPolicy(signals={"feature:x": SignalRule(detectors=[PARAMS.validate_python(params)])})
    monitor = ModelMonitor("m", policy)
    indices = []
    for event in feature_events(values):
        indices += [a.event_index for a in monitor.observe(event).alerts if a.severity == "drift"]
    return indices


def error_alert_indices(params: dict[str, Any], bits: list[int]) -> list[int]:
    policy = ModelPolicy(signals={"error": SignalRule(detectors=[PARAMS.validate_python(params)])})
    monitor = ModelMonitor("m", policy)
    indices = []
    for event in labelled_predictions(bits):
        # the error signal's detector against river's; the performance band is not river's
        indices += [a.event_index for a in monitor.observe(event).alerts
                    if a.severity == "drift" and a.signal == "error"]
    return indices


@pytest.mark.parametrize(
    ("params", "river_detector", "expected"),
    [
        ({"type": "adwin"}, drift.ADWIN(), [1023]),
        ({"type": "page_hinkley"}, drift.PageHinkley(), [1006]),
        ({"type": "kswin", "alpha": 0.0001, "seed": 42}, drift.KSWIN(alpha=0.0001, seed=42), [1016]),
    ],
)
def test_river_docstring_streams_alert_where_river_detects(params: dict[str, Any], river_detector: Any,
                                                           expected: list[int]) -> None:
    values = two_regimes()
    assert river_indices(river_detector, values) == expected
    assert feature_alert_indices(params, values) == expected


@pytest.mark.parametrize(
    ("params", "river_detector", "expected"),
    [
        ({"type": "ddm"}, drift.binary.DDM(), [1334]),
        ({"type": "eddm", "alpha": 0.8, "beta": 0.75}, drift.binary.EDDM(alpha=0.8, beta=0.75), [1278]),
        ({"type": "hddm_a"}, drift.binary.HDDMA(), [1206]),
        ({"type": "hddm_w"}, drift.binary.HDDMW(), [1077]),
    ],
)
def test_river_docstring_error_streams_alert_where_river_detects(params: dict[str, Any], river_detector: Any,
                                                                 expected: list[int]) -> None:
    bits = error_bits()
    assert river_indices(river_detector, bits) == expected
    assert error_alert_indices(params, bits) == expected


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("kind", ["adwin", "page_hinkley"])
def test_every_detection_on_random_streams_is_an_alert_at_the_same_index(seed: int, kind: str) -> None:
    rng = random.Random(seed)
    values = [rng.gauss(0, 1) + (rng.choice([1.5, -2.0]) if i > 1500 else 0) for i in range(4000)]
    river_detector = drift.ADWIN() if kind == "adwin" else drift.PageHinkley()
    assert feature_alert_indices({"type": kind}, values) == river_indices(river_detector, values)


@pytest.mark.parametrize("seed", range(3))
def test_ddm_on_random_error_streams_alerts_at_the_same_indices(seed: int) -> None:
    rng = random.Random(seed)
    bits = [int(rng.random() < (0.1 if i < 2000 else 0.3)) for i in range(5000)]
    assert error_alert_indices({"type": "ddm"}, bits) == river_indices(drift.binary.DDM(), bits)


def test_the_river_preset_gives_rivers_alerts() -> None:
    values = two_regimes()
    fleet = MonitorFleet(river_config(), InMemoryLabelBuffer(3600))
    alerts = []
    for event in feature_events(values):
        alerts += fleet.handle(event).alerts
    assert [(a.signal, a.detector, a.event_index) for a in alerts] == [("feature:x", "adwin", 1023)]
