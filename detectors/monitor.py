"""The per-model monitor: routes each event to its signals, runs their detectors, raises alerts.

Pure logic. The live agents and the offline backtest both drive a ModelMonitor with the same
events in the same order, which is why they raise the same alerts. `event_index` counts the
model's prediction and feature events since its last reset (deployment); a label does not advance
it, and an alert on the error signal carries the index of the prediction that was labelled.
"""

import fnmatch
import functools
import hashlib
import itertools
import operator
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, cast

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict, TypeAdapter

from detectors.adwin import AdwinParams
from detectors.base import DRIFT, NONE, WARNING, DetectorParams, DriftDetector
from detectors.calibration import Reference, ScoreTransform, calibrated, needs_values, signal_false_alarm_rate
from detectors.config import ModelPolicy, SignalRule
from detectors.deployment_watch import DeploymentWatch
from detectors.estimated import EstimatedF1, f1_of
from detectors.joint import JointReference
from detectors.maturing import mature, maturing
from detectors.performance import ClosedWindow, PerformanceMonitor, PerformanceWindow, task_of
from detectors.rate_cusum import RateCusum, RateCusumParams
from detectors.reference import pseudo_bits, pseudo_categories, pseudo_values
from detectors.registry import build_detector
from detectors.signals import (
    ERROR,
    ESTIMATED_PERFORMANCE,
    JOINT,
    PERFORMANCE,
    PREDICTION,
    category_signal,
    confidence,
    error_bit,
    feature_signal,
    is_category_signal,
    is_missing_signal,
    kind_of,
    missing_signal,
    numeric,
    score_signal,
)
from detectors.windows import SignalWindows, WindowStats
from schemas.events import (
    AlertKind,
    DriftAlert,
    EventWindow,
    Evidence,
    FeatureEvent,
    LabelEvent,
    ModelDeployed,
    ModelRejected,
    PredictionEvent,
    ReferenceStats,
    RetrainRequest,
    Severity,
)
from schemas.lineage_log import AlertRef, DeploymentEntry, RequestEntry, VersionSummary
from schemas.types import FeatureValue, Score, Target

Clock = Callable[[], float]
CALIBRATED_TYPES = frozenset({"adwin", "page_hinkley", "rate_cusum"})
MAX_CATEGORIES = 64
"""Distinct categories a signal learns from its reference; more, and later unknown ones, share one code."""
CHECKPOINT_EVERY = 64
"""Updates between the detector-statistics checkpoints that alert evidence reports as `before`.

Reading statistics before every update cost a third of the monitor's time; a checkpoint at most
64 updates old still shows the detector's view before the change."""
DEPLOYMENT_WATCH = "deployment_watch"


@dataclass(frozen=True, slots=True)
class PendingPrediction:
    """A prediction waiting for its label (what the label-join buffer holds).

    A plain dataclass, made once for every prediction that comes without its label (a pydantic
    model's construction cost more than the rest of that prediction's label join); `PENDING`
    validates it where it crosses into and out of Redis."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    event_id: str
    model_version: str
    event_index: int
    generation: int
    ts: float
    prediction: float | str


PENDING: TypeAdapter[PendingPrediction] = TypeAdapter(PendingPrediction)


@dataclass
class MonitorOutput:
    alerts: list[DriftAlert] = field(default_factory=list)
    retrain_requests: list[RetrainRequest] = field(default_factory=list)
    windows: list[WindowStats] = field(default_factory=list)
    performance: list[PerformanceWindow] = field(default_factory=list)
    pending: list[PendingPrediction] = field(default_factory=list)
    lineage: list[RequestEntry | DeploymentEntry] = field(default_factory=list)
    """For the model's lineage log (schemas/lineage_log.py): the requests made and deployments applied."""
    stale_labels: int = 0
    stale_events: int = 0

    def extend(self, other: "MonitorOutput") -> None:
        self.alerts += other.alerts
        self.lineage += other.lineage
        self.retrain_requests += other.retrain_requests
        self.windows += other.windows
        self.performance += other.performance
        self.pending += other.pending
        self.stale_labels += other.stale_labels
        self.stale_events += other.stale_events


class Identified(Protocol):
    """What an alert names of the event it points at: events and pending predictions both carry it."""

    @property
    def event_id(self) -> str: ...

    @property
    def model_version(self) -> str: ...


@dataclass(frozen=True)
class EventRun:
    """The events a column's positions point into: a run of one model's events, in stream order.

    Ids and versions are read from the events when an alert or a window needs one, not copied into
    lists per run: that was two Python passes over every event for the few that end up named."""

    model_id: str
    generation: int
    indices: npt.NDArray[np.int64]
    events: Sequence[Identified]
    ts: npt.NDArray[np.float64]

    def event_id(self, position: int) -> str:
        return self.events[position].event_id

    def version(self, position: int) -> str:
        return self.events[position].model_version


class _VersionsAt(Sequence[str]):
    """The model versions of a run's events at the given positions, looked up only when asked."""

    def __init__(self, run: EventRun, positions: npt.NDArray[np.intp]) -> None:
        self._run, self._positions = run, positions

    def __len__(self) -> int:
        return int(self._positions.shape[0])

    def __getitem__(self, i: int | slice) -> str | list[str]:  # type: ignore[override]
        if isinstance(i, slice):
            return [self._run.version(int(k)) for k in self._positions[i]]
        return self._run.version(int(self._positions[i]))


@dataclass
class DetectorSlot:
    """One detector on one signal, with the bookkeeping that turns flags into alerts."""

    detector: DriftDetector  # type: ignore[type-arg]
    in_warning: bool = False
    warned_since_drift: bool = False
    checkpoint_index: int = -1
    quiet_until: int = -1
    drifts: int = 0
    warnings: int = 0
    awaiting_calibration: bool = False
    transform: ScoreTransform | None = None
    """What the detector is fed instead of raw values (a calibrated ADWIN: normal scores)."""
    room: int | None = None
    """Values until the detector's reference takes its next chunk; None: it does not mature
    (detectors/maturing.py)."""

    def checkpoint(self) -> dict[str, float]:
        """The detector's statistics at its last checkpoint, and the event index they were taken at."""
        return {**self.detector.checkpoint_statistics(), "event_index": float(self.checkpoint_index)}


class SignalMonitor:
    """All detectors and windows of one signal of one model."""

    def __init__(self, signal: str, rule: SignalRule, policy: ModelPolicy,
                 reference: ReferenceStats | None = None, false_alarm_rate: float | None = None, *,
                 categorical: bool = False) -> None:
        self.signal = signal
        self.rule = rule
        self.policy = policy
        self.kind = kind_of(signal)
        self.updates = 0
        self.categorical = categorical or is_category_signal(signal)
        """Fed category codes (`encode`): only the rule's detectors of categories watch it."""
        self.slots = [DetectorSlot(build_detector(p)) for p in rule.detectors if takes_codes(p) == self.categorical
                      or is_category_signal(signal)]
        waiting = [slot for slot in self.slots if _wants_reference(slot.detector.params, rule)]
        self.false_alarm_rate = (false_alarm_rate if false_alarm_rate is not None
                                 else policy.calibration.target_false_alarm_rate) / max(len(waiting), 1)
        # windows of 0/1 bits and category codes would show numbers that mean nothing as numbers
        self.publish_windows = policy.windows.enabled and not is_missing_signal(signal) and not self.categorical
        self.categories: list[str] = []
        self._codes: dict[str, int] = {}
        self.windows = SignalWindows(signal, policy.windows) if self.publish_windows or waiting else None
        for slot in waiting:
            slot.awaiting_calibration = True
        if reference is not None and waiting and not self._take_given(reference):
            self._calibrate(Reference(reference.mean, reference.std), replay=np.empty(0))

    def _take_given(self, given: ReferenceStats) -> bool:
        """Calibrate on a given reference's sketch (detectors/reference.py): its values fill the reference
        window, and every rate CUSUM counts as many values as the sketch summarises, so it starts as
        mature as that. False when the sketch does not fit this signal (then only its mean and standard
        deviation serve)."""
        if self.windows is None:
            return False
        size = self.windows.reference.data.size
        if self.categorical:
            drawn = pseudo_categories(given, size)
            if drawn is None:
                return False
            self.restore_categories(drawn[0][:MAX_CATEGORIES])
            values = np.minimum(drawn[1], float(len(self.categories)))
        elif is_missing_signal(self.signal) or self.signal == ERROR:
            values = pseudo_bits(given, size)
        else:
            sketch = pseudo_values(given, size)
            if sketch is None:
                return False
            values = sketch
        self.windows.prefill(values)
        for slot in self._calibrate(Reference.of(values), replay=np.empty(0)):
            params = slot.detector.params
            if isinstance(params, RateCusumParams) and params.counts:
                scale = max(given.count, 1) / max(params.reference_size, 1)
                counts = [c * scale for c in params.counts]
                slot.detector = RateCusum(params.model_copy(update={"counts": counts, "dependence": 1.0}))
                slot.room = self._room(slot)
        return True

    def encode(self, names: Sequence[str]) -> npt.NDArray[np.float64]:
        """Category codes: a category joins the signal's dictionary only while its reference fills (at
        most MAX_CATEGORIES), in order of first sight; any other gets the code after the known ones. The
        reference's own count decides, value by value, so any cut of the stream gives the same codes."""
        reference = self.windows.reference if self.windows is not None else None
        learning = 0 if reference is None else reference.data.size - reference.length
        codes = np.empty(len(names), dtype=np.float64)
        for i, name in enumerate(names):
            code = self._codes.get(name)
            if code is None:
                if i < learning and len(self.categories) < MAX_CATEGORIES:
                    code = self._codes[name] = len(self.categories)
                    self.categories.append(name)
                else:
                    code = len(self.categories)
            codes[i] = code
        return codes

    def restore_categories(self, categories: list[str]) -> None:
        self.categories = list(categories)
        self._codes = {name: code for code, name in enumerate(self.categories)}

    def update(self, values: npt.NDArray[np.float64], positions: npt.NDArray[np.intp], run: EventRun,
               out: MonitorOutput) -> None:
        """Feed a column: `values[i]` belongs to the event at `positions[i]` of `run`."""
        n = values.shape[0]
        if n == 0:
            return
        start = self.updates
        self.updates += n
        # positions rise strictly, so as many as the run has events are all of them: no gather needed
        # (a many-model batch feeds columns of two or three values, where each gather is a visible cost)
        whole = n == run.indices.shape[0]
        indices = run.indices if whole else run.indices[positions]
        calibrated_now: list[DetectorSlot] = []
        calibrated_from = 0
        if self.windows is not None:
            closed, completed_at = self.windows.add_many(values, indices, run.ts if whole else run.ts[positions])
            if self.publish_windows:
                out.windows += closed
            if completed_at is not None and any(s.awaiting_calibration for s in self.slots):
                reference = self.windows.reference.values()
                calibrated_now = self._calibrate(Reference.of(reference), replay=reference)
                calibrated_from = completed_at + 1
        for slot in self.slots:
            if slot.awaiting_calibration:
                continue
            begin = calibrated_from if calibrated_now and any(slot is s for s in calibrated_now) else 0
            if begin >= n:
                continue
            due = (-(start + begin)) % CHECKPOINT_EVERY
            fed, at, where = (values, indices, positions) if begin == 0 else (
                values[begin:], indices[begin:], positions[begin:])
            if slot.transform is not None:
                fed = slot.transform(fed)
            if slot.room is None or fed.shape[0] < slot.room:  # the common case: one call, no chunk ends
                flags = slot.detector.update_many(fed, due, CHECKPOINT_EVERY).flags
                self._raise(slot, flags, start + begin, due, at, where, run, out)
                if slot.room is not None:
                    slot.room -= fed.shape[0]
            else:
                self._feed_maturing(slot, fed, start + begin, at, where, run, out)

    def _feed_maturing(self, slot: DetectorSlot, fed: npt.NDArray[np.float64], updates_before: int,
                       indices: npt.NDArray[np.int64], positions: npt.NDArray[np.intp], run: EventRun,
                       out: MonitorOutput) -> None:
        """Feed a column in pieces that end where the detector's chunks end, and let each complete chunk
        join the reference (or not) right there: the same values join whatever the columns."""
        done, n = 0, fed.shape[0]
        while done < n:
            end = n if slot.room is None else min(n, done + slot.room)
            due = (-(updates_before + done)) % CHECKPOINT_EVERY
            flags = slot.detector.update_many(fed[done:end], due, CHECKPOINT_EVERY).flags
            self._raise(slot, flags, updates_before + done, due, indices[done:end], positions[done:end], run, out)
            if slot.room is not None:
                slot.room -= end - done
                if slot.room == 0:
                    slot.detector = mature(cast(RateCusum, slot.detector))
                    slot.room = self._room(slot)
            done = end

    def _room(self, slot: DetectorSlot) -> int | None:
        windows = self.policy.windows
        return maturing(slot.detector, slot.drifts, windows.reference_size, windows.reference_max)

    def _raise(self, slot: DetectorSlot, flags: npt.NDArray[np.int8], updates_before: int, due: int,
               indices: npt.NDArray[np.int64], positions: npt.NDArray[np.intp], run: EventRun,
               out: MonitorOutput) -> None:
        """Turn a column's flags into alerts: drifts, and the first value of each warning episode."""
        n = flags.shape[0]
        checkpoint_before = slot.checkpoint_index
        last = _last_checkpoint(due, n - 1)
        if last is not None:
            slot.checkpoint_index = int(indices[last])
        if not np.count_nonzero(flags):  # the common case, and on many-model streams columns are short: no more numpy
            slot.in_warning = False
            return
        previous = np.empty(n, dtype=np.int8)
        previous[0] = WARNING if slot.in_warning else NONE
        previous[1:] = flags[:-1]
        events = np.flatnonzero((flags == DRIFT) | ((flags == WARNING) & (previous != WARNING)))
        slot.in_warning = bool(flags[-1] == WARNING)
        for i in events.tolist():
            event_index = int(indices[i])
            may_alert = updates_before + i + 1 > self.rule.warmup and event_index > slot.quiet_until
            if flags[i] == DRIFT and self._improves(slot, i):
                slot.warnings += 1
                slot.room = None  # the rate moved: what follows is no reference either
                if may_alert:
                    out.alerts.append(self._alert(slot, Severity.WARNING, i, due, checkpoint_before, indices,
                                                  positions, run, marks={"improvement": 1.0}))
                    slot.quiet_until = event_index + self.rule.cooldown
            elif flags[i] == DRIFT:
                slot.drifts += 1
                slot.room = None  # nothing after a drift joins the reference
                slot.warned_since_drift = False
                if may_alert:
                    out.alerts.append(self._alert(slot, Severity.DRIFT, i, due, checkpoint_before, indices, positions,
                                                  run))
                    slot.quiet_until = event_index + self.rule.cooldown
            else:
                slot.warnings += 1
                if may_alert and not slot.warned_since_drift:
                    slot.warned_since_drift = True
                    out.alerts.append(self._alert(slot, Severity.WARNING, i, due, checkpoint_before, indices,
                                                  positions, run))

    @staticmethod
    def _improves(slot: DetectorSlot, i: int) -> bool:
        """Whether the drift at position `i` of the last column is a fall its parameters call an
        improvement (the error rate by default): its leading statistic is tuned to a fall."""
        params = slot.detector.params
        if not isinstance(params, RateCusumParams) or params.falls != "improvement":
            return False
        return slot.detector.evidence_at(i)[1].get("odds_ratio", 1.0) < 1.0

    def _calibrate(self, reference: Reference, replay: npt.NDArray[np.float64]) -> list[DetectorSlot]:
        """Calibrate the waiting detectors this reference is enough for, replay it through them, and
        return them."""
        done = []
        for slot in self.slots:
            params = slot.detector.params
            if not slot.awaiting_calibration or (needs_values(params) and reference.values is None):
                continue
            slot.detector = build_detector(calibrated(params, reference, self.false_alarm_rate))
            slot.awaiting_calibration = False
            slot.transform = self._transform_for(slot, reference.values)
            if replay.shape[0]:
                slot.detector.update_many(replay if slot.transform is None else slot.transform(replay))
            if isinstance(slot.detector, RateCusum):
                slot.detector.take_chunk()  # the reference itself is no later chunk
            slot.room = self._room(slot)
            done.append(slot)
        return done

    def _transform_for(self, slot: DetectorSlot, reference: npt.NDArray[np.float64] | None) -> ScoreTransform | None:
        if not self.rule.calibrate or not isinstance(slot.detector.params, AdwinParams) or reference is None:
            return None
        return ScoreTransform.of(reference)

    def restore_transforms(self) -> None:
        """Rebuild what calibrated detectors are fed from the restored reference window (a snapshot keeps
        the reference, not what was derived from it)."""
        if self.windows is None or not self.windows.reference.full:
            return
        reference = self.windows.reference.values()
        for slot in self.slots:
            if not slot.awaiting_calibration:
                slot.transform = self._transform_for(slot, reference)

    def restore_maturing(self) -> None:
        """Where each detector's reference stands in its chunk, from its restored state and counts."""
        for slot in self.slots:
            slot.room = None if slot.awaiting_calibration else self._room(slot)

    def _alert(self, slot: DetectorSlot, severity: Severity, i: int, due: int, checkpoint_before: int,
               indices: npt.NDArray[np.int64], positions: npt.NDArray[np.intp], run: EventRun, *,
               marks: dict[str, float] | None = None) -> DriftAlert:
        """`marks` join the evidence's `after` (an improvement says so)."""
        name = slot.detector.name
        before, after = slot.detector.evidence_at(i)
        self._estimate(before, after)
        after.update(marks or {})
        last = _last_checkpoint(due, i)
        checkpoint_index = checkpoint_before if last is None else int(indices[last])
        position = int(positions[i])
        event_index = int(indices[i])
        version = run.version(position)
        return DriftAlert(
            alert_id=_stable_id("a", run.model_id, version, run.generation, self.signal, _identity(slot), severity,
                                event_index),
            model_id=run.model_id,
            model_version=version,
            signal=self.signal,
            detector=name,
            kind=self.kind,
            severity=severity,
            event_index=event_index,
            event_id=run.event_id(position),
            ts=float(run.ts[position]),
            evidence=Evidence(before={**before, "event_index": float(checkpoint_index)}, after=after),
            detected_at=0.0,
        )

    def _estimate(self, before: dict[str, float], after: dict[str, float]) -> None:
        """Mark an estimated-performance alert's evidence as an estimate, with the expected accuracy of
        the reference (before) and of the window being filled (after)."""
        if self.signal != ESTIMATED_PERFORMANCE or self.windows is None:
            return
        after["estimate"] = 1.0
        reference = self.windows.reference.held()
        if reference.size:
            before["expected_accuracy"] = float(reference.mean(dtype=np.float64))
        current = self.windows.current.held()
        if current.size:
            after["expected_accuracy"] = float(current.mean(dtype=np.float64))


def _identity(slot: DetectorSlot) -> str:
    """What tells a signal's detectors apart in alert ids: the type, and a rate CUSUM's watch (location
    and scale both see a value beyond the reference's range at once, at the same event)."""
    params = slot.detector.params
    return f"{slot.detector.name}:{params.watch}" if isinstance(params, RateCusumParams) else slot.detector.name


def takes_codes(params: DetectorParams) -> bool:
    """Whether a detector watches category codes (a mix of categories), not numbers."""
    return isinstance(params, RateCusumParams) and params.watch == "categories"


def _wants_reference(params: DetectorParams, rule: SignalRule) -> bool:
    """Whether a detector waits for the signal's reference: calibrated ones, and a rate CUSUM given no
    reference rates (it has nothing to compare with until then)."""
    if isinstance(params, RateCusumParams) and not params.calibrated:
        return True
    return rule.calibrate and params.type in CALIBRATED_TYPES


def _last_checkpoint(due: int, position: int) -> int | None:
    """The last checkpoint at or before `position` of a column whose first one is at `due`, if any."""
    if position < due:
        return None
    return due + (position - due) // CHECKPOINT_EVERY * CHECKPOINT_EVERY


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
    drift_began_ts: float | None = None
    """Event time of the first drift alert since the last reset: where the data of a new regime starts,
    for every request until a deployment (a rejected candidate leaves the drift where it was)."""
    last_reasons: list[str] = field(default_factory=list)
    rejected: bool = False
    """The last request's candidate was rejected: ask again once the cooldown has passed."""


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
        self.width = 0
        """Features of the model's first event since its reset: how many signals share its false-alarm budget."""
        self.performance: PerformanceMonitor | None = None
        self.joint: JointReference | None = None
        """The reference of the numeric features together (detectors/joint.py), from the first event on."""
        self.estimated_f1: EstimatedF1 | None = None
        """The expected F1's sums (detectors/estimated.py), from the first scored prediction on."""
        self.deployment_watch: DeploymentWatch | None = None
        """The new version's errors against the replaced one's (detectors/deployment_watch.py), after a
        deployment that replaced a version with a baseline."""
        self._unwatched: set[str] = set()
        self.early_labels_held: int | None = 0
        """Labels held in the join for predictions of this model not seen yet (the fleet counts them; a
        deployment does not reset it); None: not known (a snapshot before format 8). While it is 0, the
        worker does not look up early labels for this model's predictions: none can be waiting."""

    def observe(self, event: PredictionEvent | FeatureEvent) -> MonitorOutput:
        """Feed one prediction or feature event (see `observe_many`)."""
        return self.observe_many([event])

    def observe_many(self, events: Sequence[PredictionEvent | FeatureEvent],
                     early_label: Callable[[str], LabelEvent | None] | None = None) -> MonitorOutput:
        """Feed a run of prediction and feature events, in stream order; each takes the next event_index.

        Each signal's values are gathered into one column and its detectors updated over it in one
        call; alerts come out in event order. Cutting a stream into runs anywhere gives the same
        alerts, which is what keeps live batches and the backtest equal. `early_label` returns a
        label that arrived before its prediction (the label join), which counts as if it were inline.

        Events of the version the last deployment replaced are counted as stale and skipped: they
        were in flight when the service switched, and would otherwise show the fresh detectors the
        old model's behaviour as if it were a change in the new one."""
        out = MonitorOutput()
        kept = [e for e in events if not self.is_stale(e)] if self.retired_version is not None else list(events)
        out.stale_events = len(events) - len(kept)
        if not kept:
            return out
        run = self._advance(kept)

        def truth(position: int, event: PredictionEvent) -> Target | None:
            early = None if early_label is None else early_label(event.event_id)
            if early is not None and early.label is not None:
                return early.label
            out.pending.append(self.pending(event, int(run.indices[position])))
            return None

        labelled = self._columns(kept, run, truth, out)
        if labelled is not None:
            guesses, truths, at = labelled
            self._errors(guesses, truths, at, run, out)
            self._performance(guesses, truths, at, run, out)
        out.windows.sort(key=lambda w: (w.last_index, w.signal))
        out.alerts.sort(key=_alert_order)
        self._finish_stretch(out, [0] * len(out.alerts), self._retry_point(run, np.zeros(len(kept), dtype=np.int64)))
        return out

    def observe_mixed(self, events: Sequence[PredictionEvent | FeatureEvent], segments: Sequence[int],
                      joined: Sequence["JoinedLabel"], early: dict[int, Target]) -> MonitorOutput:
        """Feed a stretch of the stream where predictions, features and labels interleave, in one pass:
        the same state, alerts and retrain requests as feeding it run by run (`observe_many` for each
        run of predictions and features, `observe_labels` for each run of labels), which cut a stream
        whose labels come on their own topic into runs of one event.

        The label join has been walked in stream order already (detectors/fleet.py): `segments[k]` is
        the run `events[k]` stood in, `joined` the labels that found their prediction, with their
        runs, and `early[p]` the label a prediction at kept position `p` took on arrival. What
        orders the outcome is run by run: each signal gets its values in stream order, and alerts are
        weighed for retraining a run at a time, each run's as that run alone orders them."""
        out = MonitorOutput()
        keep = [k for k, e in enumerate(events) if not self.is_stale(e)] if self.retired_version is not None \
            else range(len(events))
        kept = [events[k] for k in keep]
        kept_segments = np.array([segments[k] for k in keep], dtype=np.int64)
        out.stale_events = len(events) - len(kept)
        current = [j for j in joined if j.pending.generation == self.generation]
        out.stale_labels = len(joined) - len(current)
        labelled = None
        run = None
        if kept:
            run = self._advance(kept)
            labelled = self._columns(kept, run, lambda position, _: early.get(position), out)
        feed = _ErrorFeed.of(self.model_id, self.generation, labelled, run, kept_segments, current)
        if feed.size:
            at = np.arange(feed.size)
            self._errors(feed.guesses, feed.truths, at, feed.run, out)
            self._performance(feed.guesses, feed.truths, at, feed.run, out)
        base = run.indices[0] if run is not None else 0
        label_segments = {j.segment for j in current}

        def place(signal: str, event_index: int) -> int:
            if signal in (ERROR, PERFORMANCE):
                return feed.segment_of[event_index]
            return int(kept_segments[event_index - base])

        def alert_key(alert: DriftAlert) -> tuple[int, object]:
            segment = place(alert.signal, alert.event_index)
            return (segment, feed.order_of[alert.event_index]) if segment in label_segments \
                else (segment, _alert_order(alert))

        def window_key(window: WindowStats) -> tuple[int, object]:
            segment = place(window.signal, window.last_index)
            return (segment, feed.order_of[window.last_index]) if segment in label_segments \
                else (segment, (window.last_index, window.signal))

        out.alerts.sort(key=alert_key)
        out.windows.sort(key=window_key)
        retry = None if run is None else self._retry_point(run, kept_segments)
        self._finish_stretch(out, [alert_key(a)[0] for a in out.alerts], retry)
        return out

    def is_stale(self, event: PredictionEvent | FeatureEvent) -> bool:
        """An event of the version the last deployment replaced (see `observe_many`)."""
        return self.retired_version is not None and event.model_version == self.retired_version

    def pending(self, event: PredictionEvent, event_index: int) -> PendingPrediction:
        """What the label join holds of a prediction that came without its label."""
        return PendingPrediction(event.event_id, event.model_version, event_index, self.generation, event.ts,
                                 event.prediction)

    def _advance(self, kept: Sequence[PredictionEvent | FeatureEvent]) -> EventRun:
        """Give the kept events the next event indices; the model's first event decides its width."""
        n = len(kept)
        run = EventRun(self.model_id, self.generation, np.arange(self.event_count, self.event_count + n), kept,
                       np.array(list(map(_ts_of, kept)), dtype=np.float64))
        self.event_count += n
        self.model_version = kept[-1].model_version
        if not self.width:
            self.width = len(kept[0].features)
            self._start_joint(kept[0])
        return run

    def _columns(self, kept: Sequence[PredictionEvent | FeatureEvent], run: EventRun,
                 truth: Callable[[int, PredictionEvent], Target | None], out: MonitorOutput
                 ) -> tuple[list[Target], list[Target], npt.NDArray[np.intp]] | None:
        """Feed every signal the events themselves carry; returns the labelled predictions (guesses,
        truths, positions in `run`) for the error and performance signals, or None. `truth` gives the
        label of a prediction that came without one, if it is known by now."""
        n = len(kept)
        columns = _feature_columns([e.features for e in kept])
        for name, column in columns.items():
            monitor = self._signal(feature_signal(name)) if column.positions.shape[0] else None
            if monitor is not None:
                monitor.update(column.values, column.positions, run, out)
            if column.categories is not None:
                positions, names = column.categories
                categories = self._signal(category_signal(name))
                if categories is not None:
                    categories.update(categories.encode(names), positions, run, out)
            self._missing(name, column, run, out)
        self._joint(columns, run, out)
        if list(map(type, kept)).count(PredictionEvent) == n:  # the common run: predictions only
            return self._predictions(np.arange(n), cast(list[PredictionEvent], kept), run, truth, out)
        where = [k for k, e in enumerate(kept) if isinstance(e, PredictionEvent)]
        if not where:
            return None
        return self._predictions(np.array(where, dtype=np.intp), [cast(PredictionEvent, kept[k]) for k in where],
                                 run, truth, out)

    def rejected(self, rejection: ModelRejected) -> None:
        """A trainer rejected the candidate for this model's last request: the drift stands, so once the
        cooldown has passed the next event asks again (`_retry_rejected`)."""
        if rejection.request_id == self.retrain.last_request_id:
            self.retrain.rejected = True

    def _retry_point(self, run: EventRun, segments: npt.NDArray[np.int64]) -> "_Retry | None":
        """Where a rejected model asks again: after the first event past the cooldown (in stream order,
        so however the stream is cut), unless a request is made before it."""
        state, policy = self.retrain, self.policy.retrain
        if not state.rejected or not policy.enabled or not policy.retry_after_rejection:
            return None
        due = np.ones(run.ts.shape[0], dtype=bool) if state.last_request_ts is None \
            else run.ts - state.last_request_ts >= policy.cooldown_seconds
        if not due.any():
            return None
        k = int(np.argmax(due))
        return _Retry(int(segments[k]), int(run.indices[k]), float(run.ts[k]), run.version(k))

    def _retry_rejected(self, retry: "_Retry", out: MonitorOutput) -> None:
        state = self.retrain
        ts = retry.ts
        began = state.drift_began_ts if state.drift_began_ts is not None else ts
        request = RetrainRequest(
            request_id=_stable_id("r", self.model_id, retry.version, self.generation, "retry", state.requests),
            model_id=self.model_id,
            model_version=retry.version,
            reasons=state.last_reasons or [state.last_request_id or "rejected"],
            window=EventWindow(from_ts=min(began, ts), to_ts=ts),
            requested_at=self.clock(),
        )
        self._issue(request, ts, [], out)

    def _start_joint(self, first: PredictionEvent | FeatureEvent) -> None:
        """The joint signal spans the numeric features of the model's first event, if it has two or more
        and the config watches `joint`."""
        names = [name for name, value in first.features.items() if numeric(value) is not None]
        rule = self.policy.rule_for(JOINT)
        if len(names) >= 2 and rule is not None and rule.detectors:
            self.joint = JointReference(names, self.policy.windows.reference_size)

    def _joint(self, columns: dict[str, "FeatureColumn"], run: EventRun, out: MonitorOutput) -> None:
        """Feed signal `joint` each complete row's distance from the reference of the numeric features the
        model's first event had; rows missing any of those numbers are left out."""
        monitor = None if self.joint is None else self._signal(JOINT)
        if monitor is None or self.joint is None:
            return
        present = [columns.get(name) for name in self.joint.names]
        n = run.indices.shape[0]
        if any(c is None for c in present):
            return
        chosen = cast(list[FeatureColumn], present)
        if all(c.positions.shape[0] == n for c in chosen):  # every row has every number: the common case
            rows, at = np.column_stack([c.values for c in chosen]), np.arange(n)
        else:
            at = functools.reduce(np.intersect1d, [c.positions for c in chosen])
            rows = np.column_stack([c.values[np.searchsorted(c.positions, at)] for c in chosen])
        if not at.shape[0]:
            return
        distances = self.joint.update(rows)
        later = ~np.isnan(distances)
        if later.any():
            monitor.update(distances[later], at[later], run, out)

    def _missing(self, name: str, column: "FeatureColumn", run: EventRun, out: MonitorOutput) -> None:
        """Feed the feature's missing bits: every event from the first that named it (in this run, or an
        earlier one), 1 where its value is null or absent."""
        signal = missing_signal(name)
        start = 0 if signal in self.signals else column.first
        monitor = self._signal(signal)
        if monitor is None:
            return
        n = run.indices.shape[0]
        bits = np.zeros(n - start) if column.missing is None else column.missing[start:]
        monitor.update(bits, np.arange(start, n), run, out)

    def _predictions(self, at_run: npt.NDArray[np.intp], predictions: list[PredictionEvent], run: EventRun,
                     truth: Callable[[int, PredictionEvent], Target | None], out: MonitorOutput
                     ) -> tuple[list[Target], list[Target], npt.NDArray[np.intp]] | None:
        """Feed the run's predictions (`predictions[p]` is the event at `at_run[p]` of `run`) to the
        prediction and score signals; returns the labelled ones. The common run, every prediction
        numeric and labelled inline, takes no per-event step in Python besides C-speed attribute reads."""
        guesses = list(map(_prediction_of, predictions))
        self._prediction_signal(guesses, at_run, run, out)
        scores = list(map(_score_of, predictions))  # most streams send no score
        if scores.count(None) < len(scores):
            for signal, (at, values) in _score_columns(at_run, scores).items():
                monitor = self._signal(signal)
                if monitor is not None:
                    monitor.update(values, at, run, out)
            estimated = self._signal(ESTIMATED_PERFORMANCE)
            if estimated is not None:
                scored = [(k, confidence(g, s)) for k, (g, s) in enumerate(zip(guesses, scores, strict=True))
                          if s is not None]
                raised = len(out.alerts)
                estimated.update(np.array([c for _, c in scored], dtype=np.float64),
                                 at_run[np.array([k for k, _ in scored], dtype=np.intp)], run, out)
                self._expected_f1([guesses[k] for k, _ in scored], [scores[k] for k, _ in scored], out.alerts[raised:])
        truths: list[Target | None] = list(map(_label_of, predictions))
        at = at_run
        if None in truths:
            for p in [p for p, y in enumerate(truths) if y is None]:
                truths[p] = truth(int(at_run[p]), predictions[p])
            labelled = [p for p, y in enumerate(truths) if y is not None]
            if not labelled:
                return None
            guesses, truths = [guesses[p] for p in labelled], [truths[p] for p in labelled]
            at = at_run[np.array(labelled, dtype=np.intp)]
        return guesses, cast(list[Target], truths), at

    def _errors(self, guesses: list[Target], truths: list[Target], at: npt.NDArray[np.intp], run: EventRun,
                out: MonitorOutput) -> None:
        """Feed the error bits of labelled predictions to the error signal and the post-deployment watch."""
        bits = _error_bits(guesses, truths, self.policy.error_threshold)
        error_monitor = self._signal(ERROR)
        if error_monitor is not None:
            error_monitor.update(bits, at, run, out)
        watch = self.deployment_watch
        if watch is not None and not watch.done:
            fired = watch.update(bits)
            if fired is not None:
                out.alerts.append(self._deployment_alert(watch, int(at[fired]), run))

    def _deployment_alert(self, watch: DeploymentWatch, position: int, run: EventRun) -> DriftAlert:
        """Kind `deployment`: the new version is clearly worse than the one it replaced (`_finish` turns
        it into a rollback recommendation)."""
        before, after = watch.evidence()
        event_index = int(run.indices[position])
        version = run.version(position)
        return DriftAlert(
            alert_id=_stable_id("a", run.model_id, version, run.generation, ERROR, DEPLOYMENT_WATCH, event_index),
            model_id=run.model_id,
            model_version=version,
            signal=ERROR,
            detector=DEPLOYMENT_WATCH,
            kind=AlertKind.DEPLOYMENT,
            severity=Severity.DRIFT,
            event_index=event_index,
            event_id=run.event_id(position),
            ts=float(run.ts[position]),
            evidence=Evidence(before=before, after=after),
            detected_at=0.0,
            detail=f"version {version} is worse than {watch.replaced_version}, which it replaced: error rate "
                   f"{after['error_rate']:.4g} over {int(after['count'])} labels against "
                   f"{before['error_rate']:.4g} (p = {after['p_value']:.3g})",
        )

    def _expected_f1(self, guesses: list[Target], scores: list[Score | None], raised: list[DriftAlert]) -> None:
        """Count the scored predictions towards the expected F1 (detectors/estimated.py), in step with
        signal `estimated_performance`'s windows, and put the reference's and the current window's into
        the evidence of the alerts it just raised. A prediction says positive when it is 1 (or the
        configured `positive_class`) against a positive-class score; other scored predictions count as
        neither, so the windows stay aligned."""
        if self.estimated_f1 is None:
            windows = self.policy.windows
            self.estimated_f1 = EstimatedF1(windows.reference_size, windows.size)
        positive_class = self.policy.performance.positive_class
        known = [isinstance(s, float) and (g in (0.0, 1.0) if positive_class is None else True)
                 for g, s in zip(guesses, scores, strict=True)]
        says = np.array([k and g == (1.0 if positive_class is None else positive_class)
                         for k, g in zip(known, guesses, strict=True)], dtype=bool)
        values = np.array([s if k else 0.0 for k, s in zip(known, scores, strict=True)], dtype=np.float64)
        self.estimated_f1.add(says, values)
        reference, current = f1_of(self.estimated_f1.reference), f1_of(self.estimated_f1.window)
        for alert in raised:
            if alert.signal != ESTIMATED_PERFORMANCE:
                continue
            if reference is not None:
                alert.evidence.before["expected_f1"] = reference
            if current is not None:
                alert.evidence.after["expected_f1"] = current

    def _prediction_signal(self, guesses: list[Target], at_run: npt.NDArray[np.intp], run: EventRun,
                           out: MonitorOutput) -> None:
        """Numbers are watched as numbers; class names as a mix of categories, on the same signal
        `prediction`. The model's first prediction since its reset decides which; predictions of the
        other kind are not watched (a model does not switch between the two)."""
        monitor = self.signals.get(PREDICTION)
        classes = (monitor.categorical if monitor is not None
                   else bool(guesses) and isinstance(guesses[0], str))
        if classes:
            texts = [(k, g) for k, g in enumerate(guesses) if isinstance(g, str)]
            monitor = self._signal(PREDICTION, categorical=True) if texts else None
            if monitor is not None:
                at = np.array([k for k, _ in texts], dtype=np.intp)
                monitor.update(monitor.encode([g for _, g in texts]), at_run[at], run, out)
            return
        positions, values = _numeric_column(guesses)
        monitor = self._signal(PREDICTION) if positions.shape[0] else None
        if monitor is not None:
            monitor.update(values, at_run[positions], run, out)

    def observe_label(self, label: LabelEvent, pending: PendingPrediction) -> MonitorOutput:
        """Feed the error bit of a joined prediction; the alert points at the prediction's event_index."""
        return self.observe_labels([(label, pending)])

    def observe_labels(self, joined: Sequence[tuple[LabelEvent, PendingPrediction]]) -> MonitorOutput:
        """Feed the error bits of joined predictions, in label order, as one column (the same alerts and
        state as one call per label); each alert points at its prediction's event_index. Labels for
        predictions made before the last reset are counted as stale and skipped. A stretch of labels
        alone, as `observe_mixed` feeds it."""
        return self.observe_mixed([], [], [JoinedLabel(label, pending, 1) for label, pending in joined], {})

    def _performance(self, predictions: list[Target], labels: list[Target], positions: npt.NDArray[np.intp],
                     run: EventRun, out: MonitorOutput) -> None:
        """Add labelled predictions to the performance windows; a window that drops beyond the band raises
        a concept alert on signal `performance` at the prediction that closed it."""
        if not self.policy.performance.enabled:
            return
        if self.performance is None:
            task = self.policy.performance_task or task_of(predictions[0], labels[0])
            self.performance = PerformanceMonitor(self.model_id, self.policy.performance, self.policy.windows,
                                                  regression=task == "regression",
                                                  false_alarm_rate=self.false_alarm_share(),
                                                  auto=self.policy.performance_task is None)
        closed = self.performance.update(predictions, labels, run.indices[positions], run.ts[positions],
                                         _VersionsAt(run, positions))
        for window in closed:
            out.performance.append(window.window)
            if window.alert:
                out.alerts.append(self._performance_alert(window, int(positions[window.position]), run))

    def _performance_alert(self, closed: ClosedWindow, position: int, run: EventRun) -> DriftAlert:
        """Evidence: the reference's headline metric before, the window's after, with the test's verdict
        (a regression window's limit, a classification window's adjusted p-value)."""
        window = closed.window
        reference = self.performance.reference_window if self.performance is not None else None
        detector = f"{window.metric}_band"
        before = {} if reference is None else {window.metric: reference.value,
                                               "event_index": float(reference.last_index)}
        after = {window.metric: window.value, "count": float(window.count), "first_index": float(window.first_index)}
        for name in ("limit", "p_value", "false_alarm"):
            value = getattr(window, name)
            if value is not None:
                after[name] = float(value)
        return DriftAlert(
            alert_id=_stable_id("a", run.model_id, window.model_version, run.generation, PERFORMANCE, detector,
                                Severity.DRIFT, window.last_index),
            model_id=run.model_id,
            model_version=window.model_version,
            signal=PERFORMANCE,
            detector=detector,
            kind=kind_of(PERFORMANCE),
            severity=Severity.DRIFT,
            event_index=window.last_index,
            event_id=run.event_id(position),
            ts=float(run.ts[position]),
            evidence=Evidence(before=before, after=after),
            detected_at=0.0,
        )

    def summary(self) -> VersionSummary:
        """What this monitor saw of its version since its last reset."""
        drifts = sum(slot.drifts for monitor in self.signals.values() for slot in monitor.slots)
        drops = self.performance.drops if self.performance is not None else 0
        return VersionSummary(model_version=self.model_version, events=self.event_count, drift_alerts=drifts + drops,
                              retrain_requests=self.retrain.requests)

    def reset(self, deployed: ModelDeployed) -> bool:
        """A new model version is live: forget detectors, windows, counters and retrain bookkeeping.

        A deployment answering the same retrain request as the last one is a redelivery (a trainer
        retried after a crash) and changes nothing; returns whether the reset happened."""
        if deployed.request_id is not None and deployed.request_id == self.last_deployment_request:
            return False
        self.last_deployment_request = deployed.request_id
        self.deployment_watch = self._watch_after(deployed)
        if self.model_version and self.model_version != deployed.model_version:
            self.retired_version = self.model_version
        self.model_version = deployed.model_version
        self.generation += 1
        self.event_count = 0
        self.signals = {}
        self.references = dict(deployed.reference or {})
        self.retrain = RetrainState()
        self.width = 0
        self.performance = None
        self.joint = None
        self.estimated_f1 = None
        return True

    def _watch_after(self, deployed: ModelDeployed) -> DeploymentWatch | None:
        """A watch of the new version where it replaces another and a baseline exists: the error rate the
        deployment's own reference gives (a validated version: the candidate's errors on its
        validation slice, what it promised), else the replaced version's reference errors (its first
        labels after its own deployment, before any drift, as far as its rate CUSUM's reference matured), or
        the rate its deployment gave."""
        config = self.policy.post_deployment
        if not config.enabled or not self.model_version or self.model_version == deployed.model_version:
            return None
        promised = (deployed.reference or {}).get(ERROR)
        if promised is not None and promised.count >= config.min_baseline:
            return DeploymentWatch(self.model_version, round(promised.mean * promised.count), promised.count, config)
        errors, count = 0, 0
        monitor = self.signals.get(ERROR)
        if monitor is not None and monitor.windows is not None:
            held = monitor.windows.reference.values()
            errors, count = int(np.count_nonzero(held > 0.5)), int(held.size)
        for slot in monitor.slots if monitor is not None else []:
            params = slot.detector.params  # a matured reference: the version's stable stretch, up to reference_max
            if isinstance(params, RateCusumParams) and params.watch == "rate" and len(params.counts) == 2 \
                    and sum(params.counts) > count:
                errors, count = round(params.counts[1]), round(sum(params.counts))
        given = self.references.get(ERROR)
        if given is not None and given.count > count:
            errors, count = round(given.mean * given.count), given.count
        if count < config.min_baseline:
            return None
        return DeploymentWatch(self.model_version, errors, count, config)

    def _signal(self, signal: str, *, categorical: bool = False) -> SignalMonitor | None:
        """The signal's monitor, made on first sight (`categorical`: fed category codes); None when the
        config watches it with nothing."""
        monitor = self.signals.get(signal)
        if monitor is None and signal not in self._unwatched:
            rule = self.policy.rule_for(signal)
            monitor = None if rule is None else SignalMonitor(signal, rule, self.policy, self.references.get(signal),
                                                              self.false_alarm_share(), categorical=categorical)
            if monitor is None or not monitor.slots:
                self._unwatched.add(signal)
                return None
            self.signals[signal] = monitor
        return monitor

    def false_alarm_share(self) -> float:
        """One signal's share of the model's false-alarm budget (detectors/calibration.py)."""
        calibration = self.policy.calibration
        return signal_false_alarm_rate(calibration.target_false_alarm_rate, calibration.model_false_alarm_rate,
                                       self.width)

    def _finish_stretch(self, out: MonitorOutput, alert_runs: list[int], retry: "_Retry | None") -> None:
        """Stamp the alerts, already in stream order (`alert_runs[k]`: the run of the stream alert k counts
        in), and weigh them for retraining; a rejected model asks again at `retry`, after the alerts
        before it, if none of them made a request first."""
        now = self.clock() if out.alerts else 0.0
        out.alerts = [alert.model_copy(update={"detected_at": now}) for alert in out.alerts]
        for alert, segment in zip(out.alerts, alert_runs, strict=True):
            if retry is not None and (segment > retry.segment or (
                    segment == retry.segment and alert.event_index > retry.event_index)):
                if self.retrain.rejected:
                    self._retry_rejected(retry, out)
                retry = None
            if alert.kind == AlertKind.DEPLOYMENT:
                self._rollback(alert, now, out)
            elif alert.severity == Severity.DRIFT:
                self._consider_retrain(alert, now, out)
        if retry is not None and self.retrain.rejected:
            self._retry_rejected(retry, out)

    def _consider_retrain(self, alert: DriftAlert, now: float, out: MonitorOutput) -> None:
        policy, state = self.policy.retrain, self.retrain
        if not policy.enabled:
            return
        state.recent = [r for r in state.recent if alert.ts - r.ts <= policy.within_seconds]
        state.recent.append(DriftRecord(alert.signal, alert.alert_id, alert.ts))
        if state.drift_began_ts is None or alert.ts < state.drift_began_ts:
            state.drift_began_ts = alert.ts
        direct = any(_matches(alert.signal, pattern) for pattern in policy.on_signals)
        distinct = {r.signal for r in state.recent}
        if not direct and (policy.min_drifted_signals == 0 or len(distinct) < policy.min_drifted_signals):
            return
        if state.last_request_ts is not None and alert.ts - state.last_request_ts < policy.cooldown_seconds:
            return
        reasons = state.recent if not direct else [r for r in state.recent if r.alert_id == alert.alert_id]
        request = RetrainRequest(
            request_id=_stable_id("r", self.model_id, alert.model_version, self.generation, alert.alert_id),
            model_id=self.model_id,
            model_version=alert.model_version,
            reasons=[r.alert_id for r in reasons],
            window=EventWindow(from_ts=min(state.drift_began_ts, *(r.ts for r in reasons)), to_ts=alert.ts),
            requested_at=now,
        )
        state.recent = []
        self._issue(request, alert.ts, [AlertRef(alert_id=r.alert_id, signal=r.signal, ts=r.ts) for r in reasons],
                    out)

    def _rollback(self, alert: DriftAlert, now: float, out: MonitorOutput) -> None:
        """The post-deployment watch fired: recommend the replaced version back, past any cooldown (the
        watch fires at most once a deployment)."""
        watch = self.deployment_watch
        if not self.policy.retrain.enabled or watch is None:
            return
        request = RetrainRequest(
            request_id=_stable_id("r", self.model_id, alert.model_version, self.generation, alert.alert_id),
            model_id=self.model_id,
            model_version=alert.model_version,
            reasons=[alert.alert_id],
            window=EventWindow(from_ts=alert.ts, to_ts=alert.ts),
            requested_at=now,
            rollback_to=watch.replaced_version,
        )
        self._issue(request, alert.ts, [AlertRef(alert_id=alert.alert_id, signal=alert.signal, ts=alert.ts)], out)

    def _issue(self, request: RetrainRequest, ts: float, alerts: list[AlertRef], out: MonitorOutput) -> None:
        """Send a request and remember it: the cooldown runs from `ts` (event time), and a rejection of
        its candidate is recognised by its id (`rejected`)."""
        state = self.retrain
        state.last_request_ts, state.last_request_id = ts, request.request_id
        state.last_reasons, state.rejected = list(request.reasons), False
        state.requests += 1
        out.retrain_requests.append(request)
        out.lineage.append(RequestEntry(request=request, alerts=alerts))


class JoinedLabel(NamedTuple):
    """A label that found its prediction, and the run of the stream it stood in (`observe_mixed`)."""

    label: LabelEvent
    pending: PendingPrediction
    segment: int


@dataclass(frozen=True)
class _Retry:
    """The event after which a rejected model asks again: its run, index, time and version."""

    segment: int
    event_index: int
    ts: float
    version: str


@dataclass(frozen=True)
class _ErrorFeed:
    """The labelled predictions of a mixed stretch in stream order: those labelled inline (or by an early
    label) at their prediction's place, those joined to a label at the label's."""

    guesses: list[Target]
    truths: list[Target]
    run: EventRun
    segment_of: dict[int, int]
    """event_index of a labelled prediction -> the run its label counted in."""
    order_of: dict[int, int]
    """event_index of a labelled prediction -> its place in the feed."""

    @property
    def size(self) -> int:
        return len(self.guesses)

    @classmethod
    def of(cls, model_id: str, generation: int,
           inline: tuple[list[Target], list[Target], npt.NDArray[np.intp]] | None, run: EventRun | None,
           segments: npt.NDArray[np.int64], joined: Sequence[JoinedLabel]) -> "_ErrorFeed":
        guesses: list[Target] = []
        truths: list[Target] = []
        events: list[Identified] = []
        indices: list[int] = []
        ts: list[float] = []
        order: list[int] = []
        if inline is not None and run is not None:
            guesses, truths, at = list(inline[0]), list(inline[1]), inline[2]
            events = [run.events[int(p)] for p in at]
            indices, ts, order = run.indices[at].tolist(), run.ts[at].tolist(), segments[at].tolist()
        if joined:
            pendings = [j.pending for j in joined]
            guesses += [p.prediction for p in pendings]
            truths += [j.label.label for j in joined]
            events += pendings
            indices += [p.event_index for p in pendings]
            ts += [p.ts for p in pendings]
            order += [j.segment for j in joined]
        if inline is not None and joined:  # both kinds: put them in stream order, run by run
            by = sorted(range(len(order)), key=order.__getitem__)
            guesses, truths, events = [guesses[k] for k in by], [truths[k] for k in by], [events[k] for k in by]
            indices, ts, order = [indices[k] for k in by], [ts[k] for k in by], [order[k] for k in by]
        feed_run = EventRun(model_id, generation, np.array(indices, dtype=np.int64), events,
                            np.array(ts, dtype=np.float64))
        return cls(guesses, truths, feed_run, dict(zip(indices, order, strict=True)),
                   {index: k for k, index in enumerate(indices)})


_KIND_ORDER = {AlertKind.DATA: 0, AlertKind.PREDICTION: 1, AlertKind.CONCEPT: 2, AlertKind.DEPLOYMENT: 3}


def _alert_order(alert: DriftAlert) -> tuple[int, int, str]:
    """Event order, then features, prediction, error: the same however the stream was cut into runs."""
    return alert.event_index, _KIND_ORDER.get(alert.kind, 3), alert.signal


@dataclass(frozen=True)
class FeatureColumn:
    """One feature over a run: its numbers and their rows, and which rows lack a value."""

    positions: npt.NDArray[np.intp]
    values: npt.NDArray[np.float64]
    first: int
    """The first row that names the feature."""
    missing: npt.NDArray[np.float64] | None
    """1.0 at each row whose value is null or absent, over all rows; None when no row lacks one."""
    categories: tuple[npt.NDArray[np.intp], list[str]] | None = None
    """The rows with text or boolean values, and those values as category names; None when there are none."""


def _feature_columns(rows: list[dict[str, FeatureValue]]) -> dict[str, FeatureColumn]:
    """Each feature's numeric values and the rows they came from (categories and missing values left out),
    and its missing values.

    The common case, every row with the same feature names, is read into one table by an itemgetter
    at C speed; when it holds nothing but floats the columns are ready, else the table is cut into
    columns of objects. Rows with other names go feature by feature."""
    names = tuple(rows[0])
    width, n = len(names), len(rows)
    if width and set(map(len, rows)) == {width}:
        pick = operator.itemgetter(*names)
        try:
            table = list(map(pick, rows))
        except KeyError:  # the same number of features, not the same names
            table = []
        if table and width == 1:  # one name: the itemgetter gave values, not tuples
            return {names[0]: _column(table, 0)}
        if table:
            if set(map(type, rows[0].values())) == {float}:
                flat = list(itertools.chain.from_iterable(table))
                if set(map(type, flat)) == {float}:  # by type: numpy's inference reads a boolean as 1.0
                    columns = np.array(flat, dtype=np.float64).reshape(n, width).T
                    everywhere = np.arange(n)
                    return {name: FeatureColumn(everywhere, columns[j], 0, None) for j, name in enumerate(names)}
            # categories among the numbers: column by column, each transposed out of the table at C speed
            return {name: _column(column, 0) for name, column in zip(names, zip(*table, strict=True), strict=True)}
    union = dict.fromkeys(itertools.chain.from_iterable(rows))
    return {name: _column([row.get(name) for row in rows], next(i for i, row in enumerate(rows) if name in row))
            for name in union}


def _column(raw: Sequence[object], first: int) -> FeatureColumn:
    kinds = set(map(type, raw))
    if kinds == {str}:  # a categorical column: no numbers to look for, nothing missing
        return FeatureColumn(np.empty(0, dtype=np.intp), np.empty(0), first, None,
                             (np.arange(len(raw)), list(raw)))  # type: ignore[arg-type]
    positions, values = _numeric_column(raw, kinds)
    if kinds == {float}:  # the common column: nothing missing, no categories
        return FeatureColumn(positions, values, first, None)
    gone = np.fromiter((value is None for value in raw), dtype=np.float64, count=len(raw))
    texts = [(i, _category(value)) for i, value in enumerate(raw) if isinstance(value, str | bool)]
    categories = (np.array([i for i, _ in texts], dtype=np.intp), [value for _, value in texts]) if texts else None
    return FeatureColumn(positions, values, first, gone if gone.any() else None, categories)


_ts_of = operator.attrgetter("ts")
_prediction_of = operator.attrgetter("prediction")
_label_of = operator.attrgetter("label")
_score_of = operator.attrgetter("score")


def _score_columns(at_run: npt.NDArray[np.intp], scores: list[Score | None]
                   ) -> dict[str, tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]]:
    """Each score signal's values and the run positions they came from: `score` for a positive-class
    probability, `score:<k>` for class k of a per-class score."""
    columns: dict[str, tuple[list[int], list[float]]] = {}
    for k, score in zip(at_run.tolist(), scores, strict=True):
        if score is None:
            continue
        for class_index, value in ([(None, score)] if isinstance(score, float) else enumerate(score)):
            at, values = columns.setdefault(score_signal(class_index), ([], []))
            at.append(k)
            values.append(value)
    return {signal: (np.array(at, dtype=np.intp), np.array(values, dtype=np.float64))
            for signal, (at, values) in columns.items()}


def _category(value: str | bool) -> str:
    """A JSON boolean is a feature of two categories, named as JSON writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _numeric_column(raw: Sequence[object], kinds: set[type] | None = None
                    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """The numbers among `raw` (as `numeric` reads them) and their positions; all floats is the fast path
    (`kinds`: the types in `raw`, when the caller has them already)."""
    if (set(map(type, raw)) if kinds is None else kinds) == {float}:
        return np.arange(len(raw)), np.array(raw, dtype=np.float64)
    found = [(i, number) for i, value in enumerate(raw) if (number := numeric(value)) is not None]
    return (np.array([i for i, _ in found], dtype=np.intp),
            np.array([number for _, number in found], dtype=np.float64))


def _error_bits(predictions: Sequence[Target], labels: Sequence[Target], threshold: float | None
                ) -> npt.NDArray[np.float64]:
    """`error_bit` of each labelled prediction; numbers on both sides are compared in one numpy pass."""
    if set(map(type, predictions)) == {float} and set(map(type, labels)) == {float}:
        p, y = np.array(predictions, dtype=np.float64), np.array(labels, dtype=np.float64)
        wrong = p != y if threshold is None else np.abs(p - y) > threshold
        return wrong.astype(np.float64)
    return np.array([error_bit(p, y, threshold) for p, y in zip(predictions, labels, strict=True)],
                    dtype=np.float64)


def _matches(signal: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(signal, pattern)


def _stable_id(prefix: str, *parts: object) -> str:
    """Deterministic ids: a replayed event raises the same alert id, so duplicates can be recognised."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=12).hexdigest()
    return f"{prefix}-{digest}"
