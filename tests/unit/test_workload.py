"""The W1 benchmark workload: deterministic, sliceable, drifting where it says."""

import numpy as np

from detectors.config import MonitoringConfig
from detectors.monitor import ModelMonitor
from loadtests.workload import W1, envelope
from schemas import PredictionEvent, decode_events


def test_a_slice_holds_the_same_events_as_the_whole_stream() -> None:
    workload = W1(120_000)
    assert list(workload.encoded(49_998, 50_003)) == list(workload.encoded())[49_998:50_003]


def test_three_features_shift_by_one_sigma_and_errors_rise_at_the_shift() -> None:
    records = list(W1(20_000, shift_at=10_000).records())
    f0 = np.array([r["features"]["f0"] for r in records])  # type: ignore[index]
    f5 = np.array([r["features"]["f5"] for r in records])  # type: ignore[index]
    errors = np.array([r["prediction"] != r["label"] for r in records])
    assert abs(f0[10_000:].mean() - f0[:10_000].mean() - 1.0) < 0.05
    assert abs(f5[10_000:].mean() - f5[:10_000].mean()) < 0.05
    assert abs(errors[:10_000].mean() - 0.1) < 0.02 and abs(errors[10_000:].mean() - 0.4) < 0.02


def test_an_event_is_twelve_detector_updates_and_envelopes_decode() -> None:
    monitor = ModelMonitor("w1", MonitoringConfig().defaults)
    events = W1(10).validated()
    for event in events:
        monitor.observe(event)
    assert sum(s.updates for s in monitor.signals.values()) == 12 * len(events)
    assert decode_events(envelope(list(W1(10).encoded())), PredictionEvent) == events
