"""The columnar monitor: however a model's stream is cut into runs, the alerts (evidence included),
windows and detector states come out the same. This is what keeps live batches equal to the backtest."""

import dataclasses
import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.config import ModelPolicy, MonitoringConfig, SignalRule
from detectors.kswin import KswinParams
from detectors.monitor import ModelMonitor, MonitorOutput
from detectors.page_hinkley import PageHinkleyParams
from detectors.windows import WindowConfig
from schemas import FeatureEvent, LabelEvent, PredictionEvent


def stream(n: int, seed: int) -> list[PredictionEvent | FeatureEvent]:
    """Features that shift, a category and gaps, predictions with and without labels, some feature-only events."""
    rng = np.random.default_rng(seed)
    events: list[PredictionEvent | FeatureEvent] = []
    for i in range(n):
        shift = 1.5 if i > n // 2 else 0.0
        features: dict[str, float | str | None] = {f"f{j}": float(rng.normal() + (shift if j < 2 else 0.0))
                                                   for j in range(4)}
        if rng.random() < 0.1:
            features["f3"] = None
        features["plan"] = "pro" if rng.random() < 0.5 else "free"
        if rng.random() < 0.1:
            events.append(FeatureEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i),
                                       features=features))
            continue
        wrong = rng.random() < (0.45 if shift else 0.1)
        label = float(rng.integers(0, 2))
        events.append(PredictionEvent(
            model_id="m", model_version="1", event_id=f"e{i}", ts=float(i), features=features,
            prediction=float(1 - label if wrong else label) if rng.random() < 0.95 else "missing",
            label=label if rng.random() < 0.8 else None))
    return events


POLICIES = {
    "defaults": MonitoringConfig().defaults,
    "busy": ModelPolicy(
        signals={
            "feature:f0": SignalRule(detectors=[{"type": "adwin"}, KswinParams(alpha=0.01)], cooldown=50),  # type: ignore[list-item]
            "feature:*": SignalRule(detectors=[PageHinkleyParams()], calibrate=True, warmup=30),
            "prediction": SignalRule(detectors=[{"type": "hddm_a"}, {"type": "eddm"}]),  # type: ignore[list-item]
            "error": SignalRule(detectors=[{"type": "ddm"}, {"type": "hddm_w"}], warmup=20),  # type: ignore[list-item]
        },
        windows=WindowConfig(reference_size=100, size=150),
    ),
}


def fed(policy: ModelPolicy, events: list[PredictionEvent | FeatureEvent], cuts: list[int]) -> tuple[MonitorOutput,
                                                                                                     ModelMonitor]:
    monitor = ModelMonitor("m", policy, clock=lambda: 0.0)
    out = MonitorOutput()
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(events)}), len(events)]
    for start, end in itertools.pairwise(bounds):
        out.extend(monitor.observe_many(events[start:end]))
    return out, monitor


def summary(out: MonitorOutput, monitor: ModelMonitor) -> tuple[object, ...]:
    alerts = [a.model_dump() for a in out.alerts]
    windows = sorted((w.signal, w.first_index, w.model_dump_json()) for w in out.windows)
    states = {name: [(s.detector.dump_state(), s.in_warning, s.quiet_until, s.drifts, s.warnings, s.checkpoint())
                     for s in signal.slots] for name, signal in monitor.signals.items()}
    pending = [p.event_index for p in out.pending]
    return alerts, windows, states, pending, monitor.event_count


@settings(max_examples=8, deadline=None)
@given(policy=st.sampled_from(sorted(POLICIES)), seed=st.integers(0, 3),
       cuts=st.lists(st.integers(1, 799), max_size=12))
def test_any_cut_of_the_stream_gives_the_same_alerts_evidence_and_state(policy: str, seed: int,
                                                                         cuts: list[int]) -> None:
    events = stream(800, seed)
    whole = summary(*fed(POLICIES[policy], events, []))
    assert whole == summary(*fed(POLICIES[policy], events, cuts))


def test_one_event_at_a_time_equals_one_run() -> None:
    events = stream(800, 7)
    for policy in POLICIES.values():
        whole_out, whole = fed(policy, events, [])
        assert whole_out.alerts, "the stream drifts: a test without alerts could not fail"
        assert summary(whole_out, whole) == summary(*fed(policy, events, list(range(1, len(events)))))


def test_a_run_of_labels_is_one_error_column_with_the_alerts_and_state_of_one_call_per_label() -> None:
    """Labels arriving on their own topic, out of prediction order: one `observe_labels` call gives what
    one `observe_label` per label gives, stale labels included."""
    rng = np.random.default_rng(11)
    n = 3_000
    predictions = [PredictionEvent(model_id="m", model_version="1", event_id=f"e{i}", ts=float(i),
                                   features={"x": float(rng.normal())}, prediction=float(rng.integers(0, 2)))
                   for i in range(n)]
    order = rng.permutation(n)  # labels come back in another order than their predictions
    wrong = [rng.random() < (0.5 if k > n // 3 else 0.05) for k in range(n)]
    for policy in POLICIES.values():
        outputs, monitors = [], []
        for one_by_one in (False, True):
            monitor = ModelMonitor("m", policy, clock=lambda: 0.0)
            pending = {p.event_id: p for p in monitor.observe_many(predictions).pending}
            joined = []
            for k, i in enumerate(order.tolist()):
                label = LabelEvent(model_id="m", event_id=f"e{i}", ts=float(n + k),
                                   label=1.0 - predictions[i].prediction if wrong[k] else predictions[i].prediction)  # type: ignore[operator]
                joined.append((label, pending[f"e{i}"]))
            joined[5] = (joined[5][0], dataclasses.replace(joined[5][1], generation=7))  # from an older model
            if one_by_one:
                out = MonitorOutput()
                for label, held in joined:
                    out.extend(monitor.observe_label(label, held))
            else:
                out = monitor.observe_labels(joined)
            outputs.append(out)
            monitors.append(monitor)
        assert outputs[0].stale_labels == outputs[1].stale_labels == 1
        assert any(a.signal == "error" and a.severity == "drift" for a in outputs[0].alerts), "could not fail"
        assert summary(outputs[0], monitors[0]) == summary(outputs[1], monitors[1])
