"""A maturing reference: it grows while its signal is stable, stops at a drift or its cap, and grows the
same way whatever the cut of the stream or a snapshot in between."""

import itertools

import numpy as np

from detectors.config import ModelPolicy, MonitoringConfig
from detectors.monitor import ModelMonitor
from detectors.rate_cusum import RateCusum
from detectors.snapshot import decode_snapshot, encode_snapshot
from detectors.windows import WindowConfig
from schemas import DriftAlert, PredictionEvent

KEY = b"test-key"


def events(n: int, *, shift_at: int | None = None, error_rate: float = 0.05, seed: int = 0) -> list[PredictionEvent]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) + np.where(np.arange(n) >= (shift_at if shift_at is not None else n), 1.0, 0.0)
    labels = rng.integers(0, 2, size=n).astype(float)
    wrong = rng.random(n) < error_rate
    return [PredictionEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i), features={"x": float(v)},
                            prediction=float(1 - y if w else y), label=float(y))
            for i, (v, y, w) in enumerate(zip(x.tolist(), labels.tolist(), wrong.tolist(), strict=True))]


def reference_sizes(monitor: ModelMonitor) -> dict[str, list[int]]:
    return {name: [slot.detector.params.reference_size for slot in signal.slots
                   if isinstance(slot.detector, RateCusum)] for name, signal in monitor.signals.items()}


def cut_run(stream: list[PredictionEvent], policy: ModelPolicy, cuts: list[int], restore: bool
            ) -> tuple[list[DriftAlert], ModelMonitor]:
    monitor, alerts = ModelMonitor("m", policy, clock=lambda: 0.0), []
    bounds = [0, *sorted(set(cuts)), len(stream)]
    for start, end in itertools.pairwise(bounds):
        if restore:
            monitor = decode_snapshot(encode_snapshot(monitor, KEY), KEY, policy, clock=lambda: 0.0)
        alerts += monitor.observe_many(stream[start:end]).alerts
    return alerts, monitor


def test_a_stable_reference_grows_in_chunks_to_its_cap_and_no_further() -> None:
    policy = MonitoringConfig().defaults.model_copy(update={"windows": WindowConfig(reference_max=5_000)})
    monitor = ModelMonitor("m", policy)
    monitor.observe_many(events(12_000))
    sizes = reference_sizes(monitor)
    assert all(size % 500 == 0 and 3_000 <= size <= 5_000 for size in sizes["error"] + sizes["feature:x"]), sizes
    assert max(sizes["error"]) == 5_000  # a 0/1 bit's chunks nearly always fit


def test_nothing_after_a_drift_joins_the_reference() -> None:
    monitor = ModelMonitor("m", MonitoringConfig().defaults)
    monitor.observe_many(events(4_000, shift_at=2_000))
    location = monitor.signals["feature:x"].slots[0]
    assert location.drifts and location.room is None
    size = location.detector.params.reference_size  # type: ignore[attr-defined]
    assert size <= 2_000
    monitor.observe_many(events(10_000, seed=1)[4_000:])
    assert location.detector.params.reference_size == size  # type: ignore[attr-defined]


def test_the_reference_grows_the_same_whatever_the_cuts_and_snapshots() -> None:
    stream = events(9_000, shift_at=7_000)
    policy = MonitoringConfig().defaults
    alerts, whole = cut_run(stream, policy, [], restore=False)
    assert any(a.signal == "feature:x" for a in alerts)
    rng = np.random.default_rng(4)
    for restore in (False, True):
        cuts = [*sorted(rng.choice(np.arange(1, 9000), size=40, replace=False).tolist()), 500, 1000, 1001]
        cut_alerts, monitor = cut_run(stream, policy, cuts, restore)
        assert cut_alerts == alerts
        assert reference_sizes(monitor) == reference_sizes(whole)
        for name, signal in whole.signals.items():
            for mine, theirs in zip(monitor.signals[name].slots, signal.slots, strict=True):
                assert mine.detector.params == theirs.detector.params
                assert mine.room == theirs.room
