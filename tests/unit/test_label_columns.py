"""Labels on their own topic, interleaved with predictions: the fleet feeds a model's whole stretch
between deployments in one pass (`ModelMonitor.observe_mixed`), and that gives exactly what feeding it
one event at a time gives: alerts and their evidence, retrain requests (retries after a rejection
included), windows, performance windows, lineage, detector states and the label join's buffer."""

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.config import ModelPolicy, MonitoringConfig, RetrainPolicy, SignalRule
from detectors.fleet import InMemoryLabelBuffer, MonitorFleet
from detectors.monitor import MonitorOutput
from detectors.page_hinkley import PageHinkleyParams
from detectors.windows import WindowConfig
from schemas import FeatureEvent, LabelEvent, ModelDeployed, ModelRejected, PredictionEvent
from schemas.events import InboundEvent
from schemas.lineage import Validation

RETRAIN = RetrainPolicy(cooldown_seconds=150.0, min_drifted_signals=2)
POLICIES = {
    "defaults": ModelPolicy(retrain=RETRAIN),
    "busy": ModelPolicy(
        signals={
            "feature:*": SignalRule(detectors=[PageHinkleyParams()], calibrate=True, warmup=30),
            "prediction": SignalRule(detectors=[{"type": "hddm_a"}]),  # type: ignore[list-item]
            "error": SignalRule(detectors=[{"type": "ddm"}, {"type": "hddm_w"}], warmup=20),  # type: ignore[list-item]
        },
        windows=WindowConfig(reference_size=100, size=150),
        retrain=RETRAIN,
    ),
}


def stream(n: int, seed: int) -> list[InboundEvent]:
    """Predictions whose labels mostly come as their own events, late (up to 400 events) or early (before
    the prediction); some inline, some never; feature-only events; a drift halfway; a deployment of
    version 2 at two thirds, after which version 1's stragglers and labels still arrive."""
    rng = np.random.default_rng(seed)
    keyed: list[tuple[float, int, InboundEvent]] = []
    deploy_at = 2 * n // 3
    for i in range(n):
        version = "2" if i >= deploy_at and rng.random() > 0.03 else "1"
        shift = 1.5 if n // 2 < i < deploy_at else 0.0
        features: dict[str, float | str | None] = {"x0": float(rng.normal() + shift), "x1": float(rng.normal()),
                                                   "plan": "pro" if rng.random() < 0.5 else "free"}
        if rng.random() < 0.05:
            keyed.append((i, 0, FeatureEvent(model_id="m", model_version=version, event_id=f"e{i}", ts=float(i),
                                             features=features)))
            continue
        truth = float(rng.integers(0, 2))
        wrong = rng.random() < (0.4 if shift else 0.08)
        guess = 1.0 - truth if wrong else truth
        fate = rng.random()
        inline = truth if fate < 0.15 else None
        keyed.append((i, 1, PredictionEvent(model_id="m", model_version=version, event_id=f"e{i}", ts=float(i),
                                            features=features, prediction=guess, label=inline)))
        if 0.15 <= fate < 0.95:
            delay = int(rng.integers(-3, 400)) if rng.random() < 0.9 else int(rng.integers(1, 5))
            keyed.append((i + delay + 0.5, 2, LabelEvent(model_id="m", event_id=f"e{i}", label=truth,
                                                         ts=float(max(i + delay, 0)))))
    keyed.append((deploy_at - 0.25, 3, ModelDeployed(model_id="m", model_version="2", ts=float(deploy_at),
                                                     request_id="deploy-2")))
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [event for _, _, event in keyed]


def with_rejection(events: list[InboundEvent], request_id: str, at: int) -> list[InboundEvent]:
    verdict = Validation(metric="accuracy", candidate_score=0.5, serving_score=0.6, slice_size=100, margin=0.0,
                         passed=False)
    rejection = ModelRejected(model_id="m", candidate_version="9", serving_version="1", request_id=request_id,
                              ts=float(at), validation=verdict, reason="worse")
    return [*events[:at], rejection, *events[at:]]


def fed(policy: ModelPolicy, events: list[InboundEvent], cuts: list[int]) -> tuple[object, ...]:
    buffer = InMemoryLabelBuffer(ttl_seconds=300.0)
    fleet = MonitorFleet(MonitoringConfig(defaults=policy), buffer, clock=lambda: 0.0)
    out = MonitorOutput()
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(events)}), len(events)]
    for start, end in itertools.pairwise(bounds):
        out.extend(fleet.handle_many("m", events[start:end]))
    monitor = fleet.monitors["m"]
    states = {name: [(s.detector.dump_state(), s.in_warning, s.quiet_until, s.drifts, s.warnings, s.checkpoint())
                     for s in signal.slots] for name, signal in monitor.signals.items()}
    return ([a.model_dump() for a in out.alerts], [r.model_dump() for r in out.retrain_requests],
            [w.model_dump() for w in out.windows], [p.model_dump() for p in out.performance],
            [e.model_dump() for e in out.lineage], out.stale_labels, out.stale_events, states,
            monitor.event_count, dict(buffer._predictions), dict(buffer._labels), buffer.expired, fleet.early_labels,
            monitor.early_labels_held)


def drifting_stream(policy: str, seed: int) -> list[InboundEvent]:
    """The stream, with the first retrain request's candidate rejected a little later, so the
    monitor asks again once the cooldown has passed."""
    events = stream(2_400, seed)
    fleet = MonitorFleet(MonitoringConfig(defaults=POLICIES[policy]), InMemoryLabelBuffer(300.0), clock=lambda: 0.0)
    for at, event in enumerate(events):
        requests = fleet.handle_many("m", [event]).retrain_requests
        if requests:
            return with_rejection(events, requests[0].request_id, at + 20)
    raise AssertionError("the stream drifts: a test without requests could not fail")


STREAMS = {(policy, seed): drifting_stream(policy, seed) for policy in POLICIES for seed in (1, 2)}


def test_a_stretch_fed_at_once_equals_one_event_at_a_time() -> None:
    for (name, _), events in STREAMS.items():
        policy = POLICIES[name]
        whole = fed(policy, events, [])
        alerts, lineage = whole[0], whole[4]
        assert isinstance(alerts, list) and any(a["signal"] == "error" for a in alerts), "could not fail"
        retries = [e for e in lineage if e["kind"] == "request" and not e["alerts"]]  # type: ignore[union-attr]
        assert retries, "the rejected model asked again"
        assert whole[5] and whole[6], "stale labels and events of the replaced version were seen"
        assert whole == fed(policy, events, list(range(1, len(events))))
        held = whole[10]
        assert isinstance(held, dict) and whole[-1] == len(held), "the count of early labels is what the join holds"


@settings(max_examples=10, deadline=None)
@given(chosen=st.sampled_from(sorted(STREAMS)), cuts=st.lists(st.integers(1, 3_999), max_size=10))
def test_any_cut_of_a_mixed_stream_gives_the_same_outcome(chosen: tuple[str, int], cuts: list[int]) -> None:
    policy, events = chosen[0], STREAMS[chosen]
    assert fed(POLICIES[policy], events, []) == fed(POLICIES[policy], events, cuts)
