"""The joint signal: a change in how numeric features go together, their marginals unchanged, is drift;
correlated but stationary features are not; and any cut or snapshot gives the same alerts."""

import itertools

import numpy as np

from detectors.config import MonitoringConfig, river_config
from detectors.joint import JointReference, whitening_of
from detectors.monitor import ModelMonitor
from detectors.snapshot import decode_snapshot, encode_snapshot
from schemas import DriftAlert, PredictionEvent

KEY = b"test-key"


def correlated(n: int, flip_at: int | None, seed: int, *, gaps: bool = False) -> list[PredictionEvent]:
    """Features a and b with correlation +0.8 (from `flip_at`, -0.8), each N(0, 1) throughout, and c
    independent; with `gaps`, b is missing from one event in ten."""
    rng = np.random.default_rng(seed)
    a, noise, c = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    sign = np.where(np.arange(n) >= (flip_at if flip_at is not None else n), -1.0, 1.0)
    b = sign * 0.8 * a + 0.6 * noise
    events = []
    for i in range(n):
        features: dict[str, float | None] = {"a": float(a[i]), "b": float(b[i]), "c": float(c[i]), "plan": None}
        if gaps and i % 10 == 3:
            features["b"] = None
        events.append(PredictionEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i),
                                      features=features, prediction=0.0))  # type: ignore[arg-type]
    return events


def drifts(stream: list[PredictionEvent], cuts: list[int], *, restore: bool = False, config: MonitoringConfig | None
           = None) -> list[DriftAlert]:
    policy = (config or MonitoringConfig()).defaults
    monitor, alerts = ModelMonitor("m", policy, clock=lambda: 0.0), []
    for start, end in itertools.pairwise([0, *sorted(set(cuts)), len(stream)]):
        if restore:
            monitor = decode_snapshot(encode_snapshot(monitor, KEY), KEY, policy, clock=lambda: 0.0)
        alerts += [a for a in monitor.observe_many(stream[start:end]).alerts if a.severity == "drift"]
    return alerts


def test_a_correlation_flip_is_joint_drift_while_every_marginal_stays_quiet() -> None:
    alerts = drifts(correlated(8_000, 4_000, seed=1), [])
    assert alerts and alerts[0].signal == "joint" and alerts[0].kind == "data"
    assert 4_000 <= alerts[0].event_index < 4_500
    assert not [a for a in alerts if a.signal.startswith("feature:")]


def test_correlated_stationary_features_and_gaps_raise_nothing() -> None:
    assert not drifts(correlated(40_000, None, seed=2, gaps=True), [5_000])


def test_joint_alerts_are_the_same_whatever_the_cuts_and_snapshots_with_gaps() -> None:
    stream = correlated(6_000, 3_000, seed=3, gaps=True)
    whole = drifts(stream, [])
    assert [a.signal for a in whole][:1] == ["joint"]
    assert drifts(stream, [1, 499, 500, 777, 1_000, 2_999, 3_050], restore=True) == whole


def test_the_river_preset_has_no_joint_signal() -> None:
    monitor = ModelMonitor("m", river_config().defaults)
    monitor.observe_many(correlated(2_000, None, seed=4))
    assert monitor.joint is None and "joint" not in monitor.signals


def test_whitening_survives_large_offsets_and_constant_features() -> None:
    rng = np.random.default_rng(5)
    rows = np.column_stack([1.7e9 + rng.normal(size=1_000), np.full(1_000, 3.0), rng.normal(size=1_000) * 1e-3])
    joint = JointReference(["ts", "constant", "tiny"], 1_000)
    joint.update(rows)
    mean, whitening = whitening_of(joint.sums, 3)
    whitened = (rows - mean) @ whitening
    assert whitening.shape == (3, 2) and np.allclose(np.cov(whitened.T, bias=True), np.eye(2), atol=1e-6)
