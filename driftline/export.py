"""`driftline export`: write a model's labelled examples from Kafka to JSONL or Parquet: those stamped
in a window, or exactly those a version was trained and validated on (its lineage's offset ranges),
with their fingerprint, so any training set can be rebuilt while the topics retain it."""

from pathlib import Path

from driftline.lineage import read_lineage, version_lineage
from driftline.settings import Settings
from driftline.training_data import TrainingSet, read_examples, reread


def training_set_of(settings: Settings, model_id: str, *, version: str | None = None, from_ts: float | None = None,
                    to_ts: float | None = None) -> TrainingSet:
    if version is not None:
        lineage = version_lineage(read_lineage(settings, model_id), version)
        if lineage is None or lineage.training is None:
            raise ValueError(f"no recorded training data for version {version} of {model_id} "
                             f"(driftline lineage {model_id} shows what is recorded)")
        return reread(settings, model_id, lineage.training)
    if from_ts is None:
        raise ValueError("give --version, or --from-ts (and optionally --to-ts)")
    return read_examples(settings, model_id, from_ts, to_ts)


def write_examples(found: TrainingSet, path: Path | str) -> None:
    """Prediction events with their labels inline, as `driftline backtest` and `replay` read them. JSONL
    keeps each example exactly; Parquet has a column a feature, so a feature an event lacked reads back
    as missing (None)."""
    path = Path(path)
    events = [e.as_event(found.model_id) for e in found.examples]
    if path.suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ValueError("Parquet needs pyarrow: pip install 'driftline[parquet]'") from exc
        rows = [{"model_id": e.model_id, "model_version": e.model_version, "event_id": e.event_id, "ts": e.ts,
                 "prediction": e.prediction, "label": e.label, "score": e.score if isinstance(e.score, float) else None,
                 **e.features} for e in events]  # one column a feature, as `backtest` reads Parquet
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif path.suffix in (".jsonl", ".json"):
        path.write_text("".join(e.model_dump_json() + "\n" for e in events), encoding="utf-8")
    else:
        raise ValueError(f"write .jsonl or .parquet, not {path.suffix or 'a file without an extension'}")
