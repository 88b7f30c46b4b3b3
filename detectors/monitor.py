"""The per-model monitor: routes each event to its signals, runs their detectors, raises alerts.

Pure logic. The live agents and the offline backtest both drive a ModelMonitor with the same
events in the same order, which is why they raise the same alerts. `event_index` counts the
model's prediction and feature events since its last reset (deployment); a label does not advance
it, and an alert on the error signal carries the index of the prediction that was labelled.
"""

import fnmatch
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from detectors.base import DriftDetector
from detectors.calibration import calibrated
from detectors.config import ModelPolicy, SignalRule
from detectors.registry import build_detector
from detectors.signals import ERROR, PREDICTION, error_bit, feature_signal, kind_of, numeric
from detectors.windows import SignalWindows, WindowStats
from schemas.events import (
    DriftAlert,
    EventWindow,
    Evidence,
    FeatureEvent,
    LabelEvent,
    ModelDeployed,
    PredictionEvent,
    ReferenceStats,
    RetrainRequest,
    Severity,
)

Clock = Callable[[], float]
CALIBRATED_TYPES = frozenset({"adwin", "page_hinkley"})
CHECKPOINT_EVERY = 64
"""Updates between the detector-statistics checkpoints that alert evidence reports as `before`.

Reading statistics before every update cost a third of the monitor's time; a checkpoint at most
64 updates old still shows the detector's view before the change."""


class PendingPrediction(BaseModel):
    """A prediction waiting for its label (what the label-join buffer holds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str
    model_version: str
    event_index: int
    generation: int
    ts: float
    prediction: float | str


@dataclass
class MonitorOutput:
    alerts: list[DriftAlert] = field(default_factory=list)
    retrain_requests: list[RetrainRequest] = field(default_factory=list)
    windows: list[WindowStats] = field(default_factory=list)
    pending: list[PendingPrediction] = field(default_factory=list)
    stale_labels: int = 0
    stale_events: int = 0

    def extend(self, other: "MonitorOutput") -> None:
        self.alerts += other.alerts
        self.retrain_requests += other.retrain_requests
        self.windows += other.windows
        self.pending += other.pending
        self.stale_labels += other.stale_labels
        self.stale_events += other.stale_events


class _Trigger(NamedTuple):
    """Where in the model's stream an update happened (a tuple: one is made per event)."""

    model_id: str
    model_version: str
    generation: int
    event_index: int
    event_id: str
    ts: float


@dataclass
class DetectorSlot:
    """One detector on one signal, with the bookkeeping that turns flags into alerts."""

    detector: DriftDetector  # type: ignore[type-arg]
    in_warning: bool = False
    warned_since_drift: bool = False
    checkpoint: dict[str, float] = field(default_factory=dict)
    quiet_until: int = -1
    drifts: int = 0
    warnings: int = 0
    awaiting_calibration: bool = False


class SignalMonitor:
    """All detectors and windows of one signal of one model."""

    def __init__(self, signal: str, rule: SignalRule, policy: ModelPolicy,
                 reference: ReferenceStats | None = None) -> None:
        self.signal = signal
        self.rule = rule
        self.policy = policy
        self.kind = kind_of(signal)
        self.updates = 0
        self.slots = [DetectorSlot(build_detector(p)) for p in rule.detectors]
        needs_reference = rule.calibrate and any(p.type in CALIBRATED_TYPES for p in rule.detectors)
        self.windows = SignalWindows(signal, policy.windows) if policy.windows.enabled or needs_reference else None
        if needs_reference:
            if reference is not None:
                self._calibrate(reference.mean, reference.std, replay=[])
            else:
                for slot in self.slots:
                    slot.awaiting_calibration = slot.detector.params.type in CALIBRATED_TYPES

    def update(self, value: float, at: _Trigger, out: MonitorOutput) -> None:
        self.updates += 1
        if self.windows is not None:
            closed = self.windows.add(value, at.event_index, at.ts)
            if closed is not None and self.policy.windows.enabled:
                out.windows.append(closed)
            if self.windows.reference_ready and any([s.awaiting_calibration for s in self.slots]):
                mean, std = self.windows.reference_mean_std()
                self._calibrate(mean, std, replay=self.windows.reference.values().tolist())
                return
        may_alert = self.updates > self.rule.warmup
        take_checkpoint = self.updates % CHECKPOINT_EVERY == 1
        for slot in self.slots:
            if slot.awaiting_calibration:
                continue
            detector = slot.detector
            if take_checkpoint:
                slot.checkpoint = {**detector.statistics(), "event_index": float(at.event_index)}
            detector.update(value)
            if detector.drift_detected:
                slot.drifts += 1
                slot.in_warning = slot.warned_since_drift = False
                if may_alert and at.event_index > slot.quiet_until:
                    out.alerts.append(self._alert(slot, Severity.DRIFT, at))
                    slot.quiet_until = at.event_index + self.rule.cooldown
            elif detector.warning_detected:
                if not slot.in_warning:
                    slot.in_warning = True
                    slot.warnings += 1
                    if may_alert and not slot.warned_since_drift and at.event_index > slot.quiet_until:
                        slot.warned_since_drift = True
                        out.alerts.append(self._alert(slot, Severity.WARNING, at))
            else:
                slot.in_warning = False

    def _calibrate(self, mean: float, std: float, replay: list[float]) -> None:
        target = self.policy.calibration.target_false_alarm_rate
        for slot in self.slots:
            if slot.detector.params.type not in CALIBRATED_TYPES:
                continue
            slot.detector = build_detector(calibrated(slot.detector.params, std, mean, target))
            slot.awaiting_calibration = False
            for value in replay:
                slot.detector.update(value)

    def _alert(self, slot: DetectorSlot, severity: Severity, at: _Trigger) -> DriftAlert:
        name = slot.detector.name
        return DriftAlert(
            alert_id=_stable_id("a", at.model_id, at.model_version, at.generation, self.signal, name, severity,
                                at.event_index),
            model_id=at.model_id,
            model_version=at.model_version,
            signal=self.signal,
            detector=name,
            kind=self.kind,
            severity=severity,
            event_index=at.event_index,
            event_id=at.event_id,
            ts=at.ts,
            evidence=Evidence(before=slot.checkpoint, after=slot.detector.statistics()),
            detected_at=0.0,
        )


@dataclass
class DriftRecord:
    signal: str
    alert_id: str
    ts: float


@dataclass
class RetrainState:
    recent: list[DriftRecord] = field(default_factory=list)
    last_request_ts: float | None = None
    last_request_id: str | None = None
    requests: int = 0


class ModelMonitor:
    """Every signal of one model, its event counter, and its retrain policy."""

    def __init__(self, model_id: str, policy: ModelPolicy, *, clock: Clock = time.time) -> None:
        self.model_id = model_id
        self.policy = policy
        self.clock = clock
        self.model_version = ""
        self.generation = 0
        self.event_count = 0
        self.signals: dict[str, SignalMonitor] = {}
        self.references: dict[str, ReferenceStats] = {}
        self.retrain = RetrainState()
        self.last_deployment_request: str | None = None
        self.retired_version: str | None = None

    def observe(self, event: PredictionEvent | FeatureEvent) -> MonitorOutput:
        """Feed one prediction or feature event; it takes the next event_index.

        Events of the version the last deployment replaced are counted as stale and skipped: they
        were in flight when the service switched, and would otherwise show the fresh detectors the
        old model's behaviour as if it were a change in the new one."""
        out = MonitorOutput()
        if self.retired_version is not None and event.model_version == self.retired_version:
            out.stale_events = 1
            return out
        at = _Trigger(self.model_id, event.model_version, self.generation, self.event_count, event.event_id, event.ts)
        self.event_count += 1
        self.model_version = event.model_version
        for name, value in event.features.items():
            number = numeric(value)
            if number is not None:
                self._update(feature_signal(name), number, at, out)
        if isinstance(event, PredictionEvent):
            prediction = numeric(event.prediction)
            if prediction is not None:
                self._update(PREDICTION, prediction, at, out)
            if event.label is not None:
                self._update(ERROR, float(error_bit(event.prediction, event.label, self.policy.error_threshold)),
                             at, out)
            else:
                out.pending.append(PendingPrediction(
                    event_id=event.event_id, model_version=event.model_version, event_index=at.event_index,
                    generation=self.generation, ts=event.ts, prediction=event.prediction))
        self._finish(out)
        return out

    def observe_label(self, label: LabelEvent, pending: PendingPrediction) -> MonitorOutput:
        """Feed the error bit of a joined prediction; the alert points at the prediction's event_index."""
        out = MonitorOutput()
        if pending.generation != self.generation:
            out.stale_labels = 1
            return out
        at = _Trigger(self.model_id, pending.model_version, self.generation, pending.event_index,
                      pending.event_id, pending.ts)
        self._update(ERROR, float(error_bit(pending.prediction, label.label, self.policy.error_threshold)), at, out)
        self._finish(out)
        return out

    def reset(self, deployed: ModelDeployed) -> bool:
        """A new model version is live: forget detectors, windows, counters and retrain bookkeeping.

        A deployment answering the same retrain request as the last one is a redelivery (a trainer
        retried after a crash) and changes nothing; returns whether the reset happened."""
        if deployed.request_id is not None and deployed.request_id == self.last_deployment_request:
            return False
        self.last_deployment_request = deployed.request_id
        if self.model_version and self.model_version != deployed.model_version:
            self.retired_version = self.model_version
        self.model_version = deployed.model_version
        self.generation += 1
        self.event_count = 0
        self.signals = {}
        self.references = dict(deployed.reference or {})
        self.retrain = RetrainState()
        return True

    def _update(self, signal: str, value: float, at: _Trigger, out: MonitorOutput) -> None:
        monitor = self.signals.get(signal)
        if monitor is None:
            rule = self.policy.rule_for(signal)
            if rule is None or not rule.detectors:
                return
            monitor = self.signals[signal] = SignalMonitor(signal, rule, self.policy, self.references.get(signal))
        monitor.update(value, at, out)

    def _finish(self, out: MonitorOutput) -> None:
        if not out.alerts:
            return
        now = self.clock()
        out.alerts = [alert.model_copy(update={"detected_at": now}) for alert in out.alerts]
        for alert in out.alerts:
            if alert.severity == Severity.DRIFT:
                request = self._consider_retrain(alert, now)
                if request is not None:
                    out.retrain_requests.append(request)

    def _consider_retrain(self, alert: DriftAlert, now: float) -> RetrainRequest | None:
        policy, state = self.policy.retrain, self.retrain
        if not policy.enabled:
            return None
        state.recent = [r for r in state.recent if alert.ts - r.ts <= policy.within_seconds]
        state.recent.append(DriftRecord(alert.signal, alert.alert_id, alert.ts))
        direct = any(_matches(alert.signal, pattern) for pattern in policy.on_signals)
        distinct = {r.signal for r in state.recent}
        if not direct and (policy.min_drifted_signals == 0 or len(distinct) < policy.min_drifted_signals):
            return None
        if state.last_request_ts is not None and alert.ts - state.last_request_ts < policy.cooldown_seconds:
            return None
        reasons = state.recent if not direct else [r for r in state.recent if r.alert_id == alert.alert_id]
        request = RetrainRequest(
            request_id=_stable_id("r", self.model_id, alert.model_version, self.generation, alert.alert_id),
            model_id=self.model_id,
            model_version=alert.model_version,
            reasons=[r.alert_id for r in reasons],
            window=EventWindow(from_ts=min(r.ts for r in reasons), to_ts=alert.ts),
            requested_at=now,
        )
        state.last_request_ts, state.last_request_id = alert.ts, request.request_id
        state.requests += 1
        state.recent = []
        return request


def _matches(signal: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(signal, pattern)


def _stable_id(prefix: str, *parts: object) -> str:
    """Deterministic ids: a replayed event raises the same alert id, so duplicates can be recognised."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=12).hexdigest()
    return f"{prefix}-{digest}"
