"""The benchmark workloads: numeric features, a numeric prediction and an inline label per event.

- **W1** (`Workload.w1`): one model, ten numeric features. With the default config that is 12
  detector updates per event: ADWIN on each feature, Page-Hinkley on the prediction, DDM on the
  error bit.
- **W100** (`Workload.w100`): one model, 100 numeric and 5 categorical features (categories are
  carried and decoded; the zero-config monitor does not watch them yet).
- **WM** (`Workload.wm`): 1,000 models of ten numeric features each, traffic Zipf-skewed over them
  (the busiest model gets about 1 event in 7), sent over 8 partitions keyed by model.
- **WL** (`Workload.wl`): W1's predictions without their labels, each label sent as its own event
  (to the labels topic) 2,000 predictions later, as when truth arrives late. Its values are W1's.

At `shift_at` (default: half-way) three numeric features move by one standard deviation, one
categorical feature's mix changes, and the concept changes (the error rate goes from 10% to 40%).
`shift_every` instead alternates that every so many events, which gives the latency benchmark a
steady supply of alerts. Events are built as plain dicts and JSON bytes (fast enough to make
millions) and as validated PredictionEvents only when asked. Random numbers are drawn per aligned
block, so any slice holds the same events as the whole stream.
"""

import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from schemas import LabelEvent, PredictionEvent

SHIFTED = 3
CATEGORIES = 8
BLOCK = 50_000


@dataclass(frozen=True)
class Workload:
    events: int
    model_id: str = "w1"
    numeric: int = 10
    categorical: int = 0
    models: int = 1
    zipf: float = 0.0
    """Exponent of the models' traffic shares (share of the k-th busiest ~ 1 / k**zipf); 0: even."""
    shift_at: int | None = None
    shift_every: int | None = None
    seed: int = 0
    first_ts: float = 1_700_000_000.0
    label_delay: int | None = None
    """Labels as their own events, this many predictions late; None: inline."""

    @classmethod
    def w1(cls, events: int, **options: object) -> "Workload":
        return cls(events, **options)  # type: ignore[arg-type]

    @classmethod
    def w100(cls, events: int, **options: object) -> "Workload":
        return cls(events, **{"model_id": "w100", "numeric": 100, "categorical": 5, **options})  # type: ignore[arg-type]

    @classmethod
    def wm(cls, events: int, **options: object) -> "Workload":
        return cls(events, **{"model_id": "wm", "models": 1_000, "zipf": 1.1, **options})  # type: ignore[arg-type]

    @classmethod
    def wl(cls, events: int, **options: object) -> "Workload":
        return cls(events, **{"model_id": "wl", "label_delay": 2_000, **options})  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        if self.models > 1:
            return "WM"
        if self.label_delay is not None:
            return "WL"
        return "W100" if self.numeric >= 100 else "W1"

    def model_ids(self) -> list[str]:
        if self.models == 1:
            return [self.model_id]
        return [f"{self.model_id}-{k:04d}" for k in range(self.models)]

    def shifted(self, index: np.ndarray) -> np.ndarray:
        if self.shift_every:
            alternate: np.ndarray = (index // self.shift_every) % 2 == 1
            return alternate
        at = self.events // 2 if self.shift_at is None else self.shift_at
        after: np.ndarray = index >= at
        return after

    def _model_shares(self) -> np.ndarray:
        weights = 1.0 / np.arange(1, self.models + 1) ** self.zipf
        shares: np.ndarray = weights / weights.sum()
        return shares

    @property
    def stream_events(self) -> int:
        """Events on the wire: each prediction, and its label where that is an event of its own."""
        return self.events * (1 if self.label_delay is None else 2)

    def inline(self) -> "Workload":
        """The same predictions with their labels inline (what river's loop and the oracle take)."""
        return replace(self, label_delay=None)

    def records(self, start: int = 0, stop: int | None = None) -> Iterator[dict[str, object]]:
        """Events as dicts, in order; any slice gives the same predictions as the whole stream (with
        `label_delay`, the labels of the slice's own predictions: a label record has no `features`)."""
        if self.label_delay is None:
            yield from self._records(start, stop)
            return
        held: deque[dict[str, object]] = deque()
        for record in self._records(start, stop):
            label = record.pop("label")
            yield record
            held.append({"model_id": record["model_id"], "event_id": record["event_id"], "label": label,
                         "ts": float(record["ts"]) + self.label_delay * 0.001})  # type: ignore[arg-type]
            if len(held) > self.label_delay:
                yield held.popleft()
        yield from held

    def _records(self, start: int, stop: int | None) -> Iterator[dict[str, object]]:
        stop = self.events if stop is None else stop
        names = [f"f{j}" for j in range(self.numeric)]
        categorical = [f"c{j}" for j in range(self.categorical)]
        model_ids = self.model_ids()
        for low in range(start - start % BLOCK, stop, BLOCK):
            high = min(low + BLOCK, self.events)
            rng = np.random.default_rng([self.seed, low])
            index = np.arange(low, high)
            shifted = self.shifted(index)
            values = rng.normal(size=(high - low, self.numeric))
            values[:, :SHIFTED] += shifted[:, None] * 1.0
            labels = rng.integers(0, 2, size=high - low).astype(float)
            wrong = rng.random(high - low) < np.where(shifted, 0.4, 0.1)
            predictions = np.where(wrong, 1.0 - labels, labels)
            models = (rng.choice(self.models, size=high - low, p=self._model_shares()) if self.models > 1
                      else np.zeros(high - low, dtype=np.int64))
            codes = rng.integers(0, CATEGORIES, size=(high - low, self.categorical))
            if self.categorical:  # the first categorical feature piles onto one category after the shift
                codes[:, 0] = np.where(shifted & (rng.random(high - low) < 0.5), 0, codes[:, 0])
            for row in range(max(start, low) - low, min(stop, high) - low):
                i = low + row
                features: dict[str, object] = dict(zip(names, values[row].tolist(), strict=True))
                for j, name in enumerate(categorical):
                    features[name] = f"k{codes[row, j]}"
                yield {"model_id": model_ids[models[row]], "model_version": "1", "event_id": f"e{i}",
                       "ts": self.first_ts + i * 0.001, "features": features,
                       "prediction": float(predictions[row]), "label": float(labels[row])}

    def encoded(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        for record in self.records(start, stop):
            yield json.dumps(record, separators=(",", ":")).encode()

    def validated(self, start: int = 0, stop: int | None = None) -> list[PredictionEvent]:
        """The predictions, labels inline."""
        return [PredictionEvent.model_validate(record) for record in self.inline().records(start, stop)]

    def validated_stream(self) -> list[PredictionEvent | LabelEvent]:
        """The events as sent: predictions, and labels as events of their own where `label_delay` says so."""
        return [PredictionEvent.model_validate(record) if "features" in record else LabelEvent.model_validate(record)
                for record in self.records()]


def envelope(encoded: list[bytes]) -> bytes:
    """The batch envelope, built from already-encoded events (what the SDK producer sends)."""
    return b'{"v":1,"batch":[' + b",".join(encoded) + b"]}"
