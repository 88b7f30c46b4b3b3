"""Reading event files (JSONL, CSV, Parquet) for `driftline backtest` and `driftline replay`.

JSONL: one event per line, its type told by its fields (a prediction has `prediction`, a feature
event `features` only, a label `label` but no features, a deployment `model_version` but no
`event_id`). CSV and Parquet: one prediction (or feature) event per row; the columns model_id,
model_version, event_id, ts, prediction, label and score are fields, every other column is a feature.
"""

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schemas.events import FeatureEvent, InboundEvent, LabelEvent, ModelDeployed, ModelRejected, PredictionEvent
from schemas.types import int_as_float

ROW_FIELDS = ("model_id", "model_version", "event_id", "ts", "prediction", "label", "score")


@dataclass(frozen=True)
class BadRecord:
    """A line or row that is not a valid event: where it is and why."""

    location: str
    reason: str


def event_type_of(record: dict[str, Any]) -> type[InboundEvent]:
    if "prediction" in record:
        return PredictionEvent
    if "features" in record:
        return FeatureEvent
    if "label" in record:
        return LabelEvent
    if "candidate_version" in record:
        return ModelRejected
    if "model_version" in record and "event_id" not in record:
        return ModelDeployed
    raise ValueError("cannot tell the event type: no prediction, features, label or deployment fields")


def read_events(path: Path | str) -> Iterator[InboundEvent | BadRecord]:
    """Events in file order; invalid records come through as BadRecord so callers can count them."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        yield from _read_jsonl(path)
    elif suffix == ".csv":
        yield from _read_rows(path, _csv_rows(path))
    elif suffix in (".parquet", ".pq"):
        yield from _read_rows(path, _parquet_rows(path))
    else:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use .jsonl, .csv or .parquet")


def count_records(path: Path | str) -> int | None:
    """Records in the file (for a progress bar), without validating them; None if it cannot tell cheaply."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        with path.open("rb") as lines:
            return sum(1 for line in lines if line.strip())
    if suffix == ".csv":
        return sum(1 for _ in _csv_rows(path))
    if suffix in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            return None
        return int(pq.ParquetFile(path).metadata.num_rows)
    return None


def _likely_type(line: bytes) -> type[InboundEvent] | None:
    """A guess from the raw bytes, confirmed only by the event validating as that type: a valid
    prediction has a `prediction` key, a valid feature event `features` and no `prediction`, a valid
    label `label` and neither, so a guess that validates is what `event_type_of` would say."""
    if b'"prediction"' in line:
        return PredictionEvent
    if b'"features"' in line:
        return FeatureEvent
    if b'"label"' in line:
        return LabelEvent
    return None


def _read_jsonl(path: Path) -> Iterator[InboundEvent | BadRecord]:
    """Each line is validated straight from its bytes when its type can be guessed (one parse, in
    Rust); the rest, and every line that fails, take the exact path that says what is wrong."""
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            likely = _likely_type(line)
            if likely is not None:
                try:
                    yield likely.model_validate_json(line)
                    continue
                except ValueError:
                    pass
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("a line must hold one JSON object")
                yield event_type_of(record).model_validate_json(line)
            except (ValueError, ValidationError) as exc:
                yield BadRecord(f"{path}:{number}", _short(exc))


def _csv_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            yield {key: _csv_value(value) for key, value in row.items() if key is not None}


def _csv_value(text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ValueError("reading Parquet needs pyarrow: pip install 'driftline[parquet]'") from exc
    for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
        yield from batch.to_pylist()


def _read_rows(path: Path, rows: Iterator[dict[str, Any]]) -> Iterator[InboundEvent | BadRecord]:
    for number, row in enumerate(rows, start=2 if path.suffix.lower() == ".csv" else 1):
        try:
            yield _row_event(row)
        except (ValueError, ValidationError) as exc:
            yield BadRecord(f"{path}:{number}", _short(exc))


def _row_event(row: dict[str, Any]) -> InboundEvent:
    fields = {key: row.get(key) for key in ROW_FIELDS}
    features = {key: int_as_float(value) for key, value in row.items() if key not in ROW_FIELDS}
    for key in ("model_id", "model_version", "event_id"):
        value = fields[key]
        if isinstance(value, float) and value.is_integer():
            fields[key] = str(int(value))
    common = {"model_id": fields["model_id"], "model_version": fields["model_version"],
              "event_id": fields["event_id"], "ts": fields["ts"], "features": features}
    if fields["prediction"] is None:
        return FeatureEvent.model_validate(common)
    label, score = int_as_float(fields["label"]), int_as_float(fields["score"])
    return PredictionEvent.model_validate({**common, "prediction": int_as_float(fields["prediction"]),
                                           **({"label": label} if label is not None else {}),
                                           **({"score": score} if score is not None else {})})


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3])
    return str(exc)[:300]
