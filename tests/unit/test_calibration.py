"""Calibration: a stationary stream raises at most the target false-alarm rate (1 per 100k)."""

import numpy as np
import pytest

from detectors.config import ModelPolicy, SignalRule
from detectors.monitor import ModelMonitor
from detectors.page_hinkley import PageHinkleyParams
from schemas import FeatureEvent

N = 200_000


def drift_alerts(values: np.ndarray, *, calibrate: bool) -> list[int]:
    policy = ModelPolicy(signals={"feature:x": SignalRule(detectors=[PageHinkleyParams()], calibrate=calibrate)})
    monitor = ModelMonitor("m", policy)
    alerts = []
    for i, value in enumerate(values.tolist()):
        event = FeatureEvent.model_construct(model_id="m", model_version="1", event_id=str(i), ts=float(i),
                                             features={"x": value})
        alerts += [a.event_index for a in monitor.observe(event).alerts]
    return alerts


@pytest.fixture(scope="module")
def stationary() -> np.ndarray:
    return np.random.default_rng(0).normal(size=N)


def test_default_page_hinkley_raises_about_126_false_alarms_on_200k_stationary_values(stationary: np.ndarray) -> None:
    assert 100 <= len(drift_alerts(stationary, calibrate=False)) <= 150


def test_calibrated_page_hinkley_stays_within_one_false_alarm_per_100k(stationary: np.ndarray) -> None:
    alarms = drift_alerts(stationary, calibrate=True)
    print(f"calibrated Page-Hinkley: {len(alarms)} alarms on {N} stationary N(0,1) values")
    assert len(alarms) <= N / 100_000


def test_calibration_is_scale_free_and_still_detects_a_one_sigma_shift() -> None:
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(50.0, 7.0, 20_000), rng.normal(57.0, 7.0, 2_000)])
    alarms = drift_alerts(values, calibrate=True)
    assert len(alarms) == 1
    assert 20_000 <= alarms[0] < 20_200
