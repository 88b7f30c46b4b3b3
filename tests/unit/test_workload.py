"""The benchmark workloads: deterministic, sliceable, drifting where they say."""

from collections import Counter

import numpy as np

from detectors.config import river_config
from detectors.monitor import ModelMonitor
from loadtests.loadgen import build_messages
from loadtests.workload import Workload, envelope
from schemas import PredictionEvent, decode_events


def test_a_slice_holds_the_same_events_as_the_whole_stream() -> None:
    workload = Workload.w1(120_000)
    assert list(workload.encoded(49_998, 50_003)) == list(workload.encoded())[49_998:50_003]


def test_three_features_shift_by_one_sigma_and_errors_rise_at_the_shift() -> None:
    records = list(Workload.w1(20_000, shift_at=10_000).records())
    f0 = np.array([r["features"]["f0"] for r in records])  # type: ignore[index]
    f5 = np.array([r["features"]["f5"] for r in records])  # type: ignore[index]
    errors = np.array([r["prediction"] != r["label"] for r in records])
    assert abs(f0[10_000:].mean() - f0[:10_000].mean() - 1.0) < 0.05
    assert abs(f5[10_000:].mean() - f5[:10_000].mean()) < 0.05
    assert abs(errors[:10_000].mean() - 0.1) < 0.02 and abs(errors[10_000:].mean() - 0.4) < 0.02


def test_an_event_is_twelve_river_detector_updates_and_envelopes_decode() -> None:
    monitor = ModelMonitor("w1", river_config().defaults)
    events = Workload.w1(10).validated()
    for event in events:
        monitor.observe(event)
    assert sum(s.updates for s in monitor.signals.values()) == 12 * len(events)
    assert decode_events(envelope(list(Workload.w1(10).encoded())), PredictionEvent) == events


def test_w100_carries_100_numbers_and_5_categories_and_its_first_category_mix_shifts() -> None:
    records = list(Workload.w100(4_000, shift_at=2_000).records())
    features = records[0]["features"]
    assert isinstance(features, dict)
    assert sum(isinstance(v, float) for v in features.values()) == 100
    assert sum(isinstance(v, str) for v in features.values()) == 5
    first = np.array([r["features"]["c0"] == "k0" for r in records])  # type: ignore[index]
    assert first[:2_000].mean() < 0.2 < 0.4 < first[2_000:].mean()


def test_wm_spreads_events_over_a_thousand_models_with_a_zipf_skew_and_slices_agree() -> None:
    workload = Workload.wm(60_000)
    models = [r["model_id"] for r in workload.records()]
    counts = sorted(Counter(models).values(), reverse=True)
    assert len(counts) > 900 and 0.08 < counts[0] / len(models) < 0.25 and counts[-1] < 20
    assert list(workload.encoded(49_990, 50_010)) == list(workload.encoded())[49_990:50_010]


def test_many_model_envelopes_hold_one_model_each_and_every_event_once() -> None:
    workload = Workload.wm(12_000)
    messages = build_messages([workload], batch=500)
    seen: list[str] = []
    for key, value in messages:
        events = decode_events(value, PredictionEvent)
        assert {e.model_id for e in events} == {key.decode()} and len(events) <= 500
        seen += [e.event_id for e in events]
    assert sorted(seen) == sorted(f"e{i}" for i in range(12_000))
