"""Every model's monitor plus an in-memory label-join buffer: the whole pipeline without I/O.

The backtest runs this over a file; the live agents run the same ModelMonitor methods with the
buffer and monitor state kept in Redis instead.
"""

from collections import OrderedDict

from detectors.config import MonitoringConfig
from detectors.monitor import Clock, ModelMonitor, MonitorOutput, PendingPrediction
from schemas.events import FeatureEvent, InboundEvent, LabelEvent, ModelDeployed, PredictionEvent


class LabelJoinBuffer:
    """Predictions awaiting labels, dropped once older than `ttl_seconds` of event time or past `capacity`."""

    def __init__(self, ttl_seconds: float, capacity: int = 1_000_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.capacity = capacity
        self._held: OrderedDict[tuple[str, str], PendingPrediction] = OrderedDict()
        self.expired = 0

    def hold(self, model_id: str, pending: PendingPrediction) -> None:
        self._held[(model_id, pending.event_id)] = pending
        while len(self._held) > self.capacity:
            self._held.popitem(last=False)
            self.expired += 1

    def take(self, model_id: str, event_id: str, now_ts: float) -> PendingPrediction | None:
        pending = self._held.pop((model_id, event_id), None)
        if pending is not None and now_ts - pending.ts > self.ttl_seconds:
            self.expired += 1
            return None
        return pending


class MonitorFleet:
    def __init__(self, config: MonitoringConfig, *, label_ttl_seconds: float = 86_400.0,
                 clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock
        self.monitors: dict[str, ModelMonitor] = {}
        self.labels = LabelJoinBuffer(label_ttl_seconds)
        self.unmatched_labels = 0
        self.unknown_model_events = 0

    def monitor(self, model_id: str) -> ModelMonitor:
        monitor = self.monitors.get(model_id)
        if monitor is None:
            policy = self.config.policy_for(model_id)
            monitor = ModelMonitor(model_id, policy) if self.clock is None else ModelMonitor(
                model_id, policy, clock=self.clock)
            self.monitors[model_id] = monitor
        return monitor

    def handle(self, event: InboundEvent) -> MonitorOutput:
        if not self.config.knows(event.model_id):
            self.unknown_model_events += 1
            return MonitorOutput()
        monitor = self.monitor(event.model_id)
        if isinstance(event, PredictionEvent | FeatureEvent):
            out = monitor.observe(event)
            for pending in out.pending:
                self.labels.hold(event.model_id, pending)
            return out
        if isinstance(event, LabelEvent):
            joined = self.labels.take(event.model_id, event.event_id, event.ts)
            if joined is None:
                self.unmatched_labels += 1
                return MonitorOutput()
            return monitor.observe_label(event, joined)
        assert isinstance(event, ModelDeployed)
        monitor.reset(event)
        return MonitorOutput()
