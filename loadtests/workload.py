"""Workload W1: one model, ten numeric features, a numeric prediction and an inline label per event.

With the default config that is 12 detector updates per event: ADWIN on each feature, Page-Hinkley
on the prediction, DDM on the error bit. At `shift_at` three features move by one standard deviation
and the concept changes (the error rate goes from 10% to 40%). `shift_every` instead alternates the
three features' mean every that many events, which gives the latency benchmark a steady supply of
alerts. Events are built as plain dicts and JSON bytes (fast enough to make millions) and as
validated PredictionEvents only when asked.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from schemas import PredictionEvent

FEATURES = 10
SHIFTED = 3


@dataclass(frozen=True)
class W1:
    events: int
    model_id: str = "w1"
    shift_at: int | None = None
    shift_every: int | None = None
    seed: int = 0
    first_ts: float = 1_700_000_000.0

    def shifted(self, index: np.ndarray) -> np.ndarray:
        if self.shift_every:
            alternate: np.ndarray = (index // self.shift_every) % 2 == 1
            return alternate
        at = self.events // 2 if self.shift_at is None else self.shift_at
        after: np.ndarray = index >= at
        return after

    def records(self, start: int = 0, stop: int | None = None) -> Iterator[dict[str, object]]:
        """Events as dicts, in order; any slice gives the same values as the whole stream."""
        stop = self.events if stop is None else stop
        block = 50_000  # random numbers are drawn per aligned block, so any slice matches the whole
        for low in range(start - start % block, stop, block):
            high = min(low + block, self.events)
            rng = np.random.default_rng([self.seed, low])
            index = np.arange(low, high)
            shifted = self.shifted(index)
            values = rng.normal(size=(high - low, FEATURES))
            values[:, :SHIFTED] += shifted[:, None] * 1.0
            labels = rng.integers(0, 2, size=high - low).astype(float)
            wrong = rng.random(high - low) < np.where(shifted, 0.4, 0.1)
            predictions = np.where(wrong, 1.0 - labels, labels)
            for row in range(max(start, low) - low, min(stop, high) - low):
                i = low + row
                yield {"model_id": self.model_id, "model_version": "1", "event_id": f"e{i}",
                       "ts": self.first_ts + i * 0.001,
                       "features": {f"f{j}": float(values[row, j]) for j in range(FEATURES)},
                       "prediction": float(predictions[row]), "label": float(labels[row])}

    def encoded(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        for record in self.records(start, stop):
            yield json.dumps(record, separators=(",", ":")).encode()

    def validated(self, start: int = 0, stop: int | None = None) -> list[PredictionEvent]:
        return [PredictionEvent.model_validate(record) for record in self.records(start, stop)]


def envelope(encoded: list[bytes]) -> bytes:
    """The batch envelope, built from already-encoded events (what the SDK producer sends)."""
    return b'{"v":1,"batch":[' + b",".join(encoded) + b"]}"
