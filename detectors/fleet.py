"""Every model's monitor plus the label join: the whole pipeline's logic without I/O.

The backtest runs it with an in-memory label buffer; the live worker runs the same class with a
buffer backed by Redis (agents/label_buffer.py), which is why both raise the same alerts.
A label may arrive before its prediction (they travel on different topics), so the buffer holds
early labels as well as waiting predictions.
"""

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol, cast

from detectors.config import MonitoringConfig
from detectors.monitor import Clock, JoinedLabel, ModelMonitor, MonitorOutput, PendingPrediction
from schemas.events import FeatureEvent, InboundEvent, LabelEvent, ModelDeployed, ModelRejected, PredictionEvent
from schemas.lineage_log import DeploymentEntry
from schemas.types import Target


class LabelBuffer(Protocol):
    ttl_seconds: float
    expired: int

    def hold_prediction(self, model_id: str, pending: PendingPrediction) -> None: ...

    def take_prediction(self, model_id: str, event_id: str, now_ts: float) -> PendingPrediction | None: ...

    def hold_label(self, model_id: str, label: LabelEvent) -> None: ...

    def take_label(self, model_id: str, event_id: str) -> LabelEvent | None: ...


class InMemoryLabelBuffer:
    """Waiting predictions and early labels, forgotten after `ttl_seconds` of event time or past `capacity`."""

    def __init__(self, ttl_seconds: float, capacity: int = 1_000_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.capacity = capacity
        self._predictions: OrderedDict[tuple[str, str], PendingPrediction] = OrderedDict()
        self._labels: OrderedDict[tuple[str, str], LabelEvent] = OrderedDict()
        self.expired = 0

    def hold_prediction(self, model_id: str, pending: PendingPrediction) -> None:
        self._predictions[(model_id, pending.event_id)] = pending
        self._bound(self._predictions)

    def take_prediction(self, model_id: str, event_id: str, now_ts: float) -> PendingPrediction | None:
        pending = self._predictions.pop((model_id, event_id), None)
        if pending is not None and now_ts - pending.ts > self.ttl_seconds:
            self.expired += 1
            return None
        return pending

    def hold_label(self, model_id: str, label: LabelEvent) -> None:
        self._labels[(model_id, label.event_id)] = label
        self._bound(self._labels)

    def take_label(self, model_id: str, event_id: str) -> LabelEvent | None:
        return self._labels.pop((model_id, event_id), None)

    def _bound(self, held: "OrderedDict[tuple[str, str], Any]") -> None:
        while len(held) > self.capacity:
            held.popitem(last=False)
            self.expired += 1


class MonitorFleet:
    def __init__(self, config: MonitoringConfig, labels: LabelBuffer, *, clock: Clock | None = None) -> None:
        self.config = config
        self.labels = labels
        self.clock = clock
        self.monitors: dict[str, ModelMonitor] = {}
        self.early_labels = 0

    def monitor(self, model_id: str) -> ModelMonitor:
        monitor = self.monitors.get(model_id)
        if monitor is None:
            policy = self.config.policy_for(model_id)
            monitor = ModelMonitor(model_id, policy) if self.clock is None else ModelMonitor(
                model_id, policy, clock=self.clock)
            self.monitors[model_id] = monitor
        return monitor

    def handle(self, event: InboundEvent) -> MonitorOutput:
        """Route one event of a known model (callers check `config.knows` first)."""
        return self.handle_many(event.model_id, [event])

    def handle_many(self, model_id: str, events: Sequence[InboundEvent]) -> MonitorOutput:
        """Route one model's events, in stream order. Predictions, features and labels between two
        deployments (or rejections) go to the monitor together, as columns, however the labels
        interleave; a deployment or rejection is handled where it stands."""
        monitor = self.monitor(model_id)
        kinds = list(map(type, events))
        if ModelDeployed not in kinds and ModelRejected not in kinds:  # the common batch: one stretch
            return self._observe(monitor, cast(list[PredictionEvent | FeatureEvent | LabelEvent], events), kinds)
        out = MonitorOutput()
        start = 0
        for k, (event, kind) in enumerate(zip(events, kinds, strict=True)):
            if kind is not ModelDeployed and kind is not ModelRejected:
                continue
            if k > start:
                out.extend(self._observe(monitor, cast(list[PredictionEvent | FeatureEvent | LabelEvent],
                                                       events[start:k]), kinds[start:k]))
            start = k + 1
            if isinstance(event, ModelRejected):
                monitor.rejected(event)
                continue
            assert isinstance(event, ModelDeployed)
            replaced = monitor.summary() if monitor.model_version else None
            if monitor.reset(event):
                out.lineage.append(DeploymentEntry(deployed=event, generation=monitor.generation, replaced=replaced))
        if start < len(events):
            out.extend(self._observe(monitor, cast(list[PredictionEvent | FeatureEvent | LabelEvent],
                                                   events[start:]), kinds[start:]))
        return out

    def _observe(self, monitor: ModelMonitor, stretch: Sequence[PredictionEvent | FeatureEvent | LabelEvent],
                 kinds: list[type]) -> MonitorOutput:
        if LabelEvent not in kinds:  # the common stretch: labels inline or none
            return self._observe_run(monitor, cast(list[PredictionEvent | FeatureEvent], stretch))
        return self._observe_mixed(monitor, stretch, kinds)

    def _observe_mixed(self, monitor: ModelMonitor, stretch: Sequence[PredictionEvent | FeatureEvent | LabelEvent],
                       kinds: list[type]) -> MonitorOutput:
        """Walk the label join in stream order, exactly as run-by-run feeding would (the same takes and
        holds of the buffer), then feed the monitor once (`ModelMonitor.observe_mixed`). A prediction
        held here gets the event index the monitor is about to give it."""
        model_id = monitor.model_id
        take_prediction, hold_label = self.labels.take_prediction, self.labels.hold_label
        take_label, hold_prediction, pending_of = self.labels.take_label, self.labels.hold_prediction, monitor.pending
        events: list[PredictionEvent | FeatureEvent] = []
        segments: list[int] = []
        joined: list[JoinedLabel] = []
        early: dict[int, Target] = {}
        segment, in_labels = 0, False
        index = monitor.event_count
        for event, kind in zip(stretch, kinds, strict=True):
            if kind is LabelEvent:
                if not in_labels:
                    segment, in_labels = segment + 1, True
                label = cast(LabelEvent, event)
                pending = take_prediction(model_id, label.event_id, label.ts)
                if pending is None:
                    hold_label(model_id, label)
                    self.early_labels += 1
                    _count_early(monitor, 1)
                else:
                    joined.append(JoinedLabel(label, pending, segment))
                continue
            if in_labels:
                segment, in_labels = segment + 1, False
            seen = cast(PredictionEvent | FeatureEvent, event)
            events.append(seen)
            segments.append(segment)
            if monitor.is_stale(seen):
                continue
            if kind is PredictionEvent and cast(PredictionEvent, seen).label is None:
                early_label = take_label(model_id, seen.event_id)
                if early_label is not None:
                    _count_early(monitor, -1)
                    early[index - monitor.event_count] = early_label.label
                else:
                    hold_prediction(model_id, pending_of(cast(PredictionEvent, seen), index))
            index += 1
        return monitor.observe_mixed(events, segments, joined, early)

    def _observe_run(self, monitor: ModelMonitor, run: list[PredictionEvent | FeatureEvent]) -> MonitorOutput:
        model_id = monitor.model_id

        def early_label(event_id: str) -> LabelEvent | None:
            label = self.labels.take_label(model_id, event_id)
            if label is not None:
                _count_early(monitor, -1)
            return label

        out = monitor.observe_many(run, early_label)
        for pending in out.pending:
            self.labels.hold_prediction(model_id, pending)
        out.pending = []
        return out


def _count_early(monitor: ModelMonitor, change: int) -> None:
    """Keep the model's count of early labels held (`ModelMonitor.early_labels_held`), where it is known."""
    if monitor.early_labels_held is not None:
        monitor.early_labels_held = max(monitor.early_labels_held + change, 0)
