"""A reference given with a deployment (a trainer's validation data, `driftline reference set`): every
detector calibrated from it at once, as mature as its count, quiet on the same distribution."""

import numpy as np

from detectors.config import MonitoringConfig
from detectors.monitor import ModelMonitor
from detectors.rate_cusum import RateCusum
from detectors.reference import pseudo_categories, pseudo_values, references_of
from detectors.snapshot import decode_snapshot, encode_snapshot
from schemas import ModelDeployed, PredictionEvent

KEY = b"test-key"


def events(n: int, *, shift: float = 0.0, fraud: float = 0.05, seed: int) -> list[PredictionEvent]:
    rng = np.random.default_rng(seed)
    x = rng.lognormal(size=n) + shift
    plan = rng.choice(["basic", "plus", "pro"], size=n, p=[0.6, 0.3, 0.1])
    labels = (rng.random(n) < 0.5).astype(float)
    wrong = rng.random(n) < fraud
    return [PredictionEvent(model_id="m", model_version="2", event_id=f"e{seed}-{i}", ts=float(i),
                            features={"x": float(x[i]), "plan": str(plan[i]), "gap": None if i % 50 == 0 else 1.0},
                            prediction=float(1 - labels[i] if wrong[i] else labels[i]), label=float(labels[i]))
            for i in range(n)]


def deployed_with(reference_events: list[PredictionEvent]) -> ModelMonitor:
    monitor = ModelMonitor("m", MonitoringConfig().defaults, clock=lambda: 0.0)
    monitor.reset(ModelDeployed(model_id="m", model_version="2", ts=0.0, reference=references_of(reference_events)))
    return monitor


def test_a_sketch_gives_back_the_distribution_it_summarises() -> None:
    rng = np.random.default_rng(0)
    values = rng.lognormal(size=20_000)
    sketch = references_of([PredictionEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=0.0,
                                            features={"x": float(v)}, prediction=0.0)
                            for i, v in enumerate(values)])["feature:x"]
    drawn = pseudo_values(sketch, 500)
    assert drawn is not None and sketch.count == 20_000
    assert abs(np.quantile(drawn, 0.5) - np.quantile(values, 0.5)) < 0.02
    assert abs(np.quantile(drawn, 0.9) - np.quantile(values, 0.9)) < 0.05
    assert abs(np.corrcoef(drawn[:-1], drawn[1:])[0, 1]) < 0.15  # shuffled, not sorted
    names, codes = pseudo_categories(references_of(events(3_000, seed=1))["category:plan"], 500) or ([], None)
    assert names == ["basic", "plus", "pro"] and codes is not None and abs((codes == 2).mean() - 0.1) < 0.02


def test_every_detector_is_ready_at_the_deployment_and_as_mature_as_the_reference() -> None:
    monitor = deployed_with(events(20_000, seed=2))
    monitor.observe_many(events(10, seed=3))
    for name in ("feature:x", "category:plan", "missing:gap", "error", "prediction"):
        slots = monitor.signals[name].slots
        assert not any(slot.awaiting_calibration for slot in slots), name
        sizes = [slot.detector.params.reference_size for slot in slots if isinstance(slot.detector, RateCusum)]
        assert sizes and all(size == 20_000 for size in sizes), (name, sizes)


def test_a_given_reference_is_quiet_on_its_own_distribution_and_finds_a_change_without_waiting() -> None:
    monitor = deployed_with(events(20_000, seed=4))
    quiet = [a for a in monitor.observe_many(events(40_000, seed=5)).alerts if a.severity == "drift"]
    assert not quiet, quiet[:2]
    fresh = deployed_with(events(20_000, seed=4))
    shifted = [a for a in fresh.observe_many(events(2_000, shift=0.5, fraud=0.1, seed=6)).alerts
               if a.severity == "drift"]
    first = {a.signal: a.event_index for a in reversed(shifted)}
    assert first.get("feature:x", 10**9) < 300 and first.get("error", 10**9) < 1_500, first


def test_a_given_reference_survives_a_snapshot() -> None:
    monitor = deployed_with(events(20_000, seed=7))
    stream = events(3_000, shift=0.3, seed=8)
    alerts = monitor.observe_many(stream[:1_000]).alerts
    restored = decode_snapshot(encode_snapshot(monitor, KEY), KEY, monitor.policy, clock=lambda: 0.0)
    again = deployed_with(events(20_000, seed=7))
    assert again.observe_many(stream).alerts == alerts + restored.observe_many(stream[1_000:]).alerts
