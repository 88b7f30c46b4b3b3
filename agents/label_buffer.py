"""The label-join buffer for one batch: values prefetched from Redis, changes recorded to write back.

The fleet reads and writes it as if it were the whole buffer; the store then persists the changes
in the same transaction as the monitor snapshots, so the join and the detectors never disagree.
"""

from dataclasses import dataclass, field

from detectors.monitor import PendingPrediction
from schemas.events import LabelEvent

Key = tuple[str, str]


@dataclass
class LabelChanges:
    predictions_held: dict[Key, PendingPrediction] = field(default_factory=dict)
    predictions_taken: set[Key] = field(default_factory=set)
    labels_held: dict[Key, LabelEvent] = field(default_factory=dict)
    labels_taken: set[Key] = field(default_factory=set)


class BatchLabelBuffer:
    def __init__(self, predictions: dict[Key, PendingPrediction], labels: dict[Key, LabelEvent],
                 ttl_seconds: float) -> None:
        self._predictions = predictions
        self._labels = labels
        self._stored_predictions, self._stored_labels = set(predictions), set(labels)
        """Keys read from Redis: only those need deleting when taken; one held and taken within the batch
        never reaches Redis."""
        self.ttl_seconds = ttl_seconds
        self.changes = LabelChanges()
        self.expired = 0

    def hold_prediction(self, model_id: str, pending: PendingPrediction) -> None:
        key = (model_id, pending.event_id)
        self._predictions[key] = pending
        self.changes.predictions_held[key] = pending
        self.changes.predictions_taken.discard(key)

    def take_prediction(self, model_id: str, event_id: str, now_ts: float) -> PendingPrediction | None:
        key = (model_id, event_id)
        pending = self._predictions.pop(key, None)
        if pending is None:
            return None
        held_here = self.changes.predictions_held.pop(key, None) is not None
        if key in self._stored_predictions or not held_here:
            self.changes.predictions_taken.add(key)
        if now_ts - pending.ts > self.ttl_seconds:
            self.expired += 1
            return None
        return pending

    def hold_label(self, model_id: str, label: LabelEvent) -> None:
        key = (model_id, label.event_id)
        self._labels[key] = label
        self.changes.labels_held[key] = label
        self.changes.labels_taken.discard(key)

    def take_label(self, model_id: str, event_id: str) -> LabelEvent | None:
        key = (model_id, event_id)
        label = self._labels.pop(key, None)
        if label is not None:
            held_here = self.changes.labels_held.pop(key, None) is not None
            if key in self._stored_labels or not held_here:
                self.changes.labels_taken.add(key)
        return label
