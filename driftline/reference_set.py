"""`driftline reference set MODEL (FILE | --from-ts A --to-ts B)`: give a model the reference of a period
known to be normal, from a file or from its own history in Kafka.

The file's (or the topics') events of that model (JSONL, CSV or Parquet, as `driftline backtest` reads them) are
summarised per signal (detectors/reference.py: a 101-point quantile sketch, counts per category, a
rate) and sent as a ModelDeployed of the model's version with that `reference`: the worker (and a
backtest reading the same deployment) restarts the model's detectors calibrated from it at once, as
mature as the file is long, instead of learning from the first values after it.
"""

from dataclasses import dataclass
from pathlib import Path

from agents.partition_ends import read_topic
from detectors.reference import references_of
from driftline.event_files import BadRecord, read_events
from driftline.sdk.producer import EventProducer, ProducerConfig
from driftline.settings import Settings
from schemas.codec import DecodeError, decode_events
from schemas.events import FeatureEvent, PredictionEvent, ReferenceStats


@dataclass(frozen=True)
class GivenReference:
    model_id: str
    model_version: str
    events: int
    invalid: int
    reference: dict[str, ReferenceStats]

    def describe(self) -> list[str]:
        """One line a signal: its count and what it holds, with its size as the deployment carries it."""
        lines = []
        for signal, stats in sorted(self.reference.items()):
            shape = ("quantiles" if stats.quantiles is not None else
                     f"{len(stats.categories)} categories" if stats.categories else f"rate {stats.mean:.4g}")
            lines.append(f"  {signal:<28} {stats.count:>8} values  {shape:<16} "
                         f"{len(stats.model_dump_json())} bytes")
        return lines


def reference_from_file(path: Path | str, model_id: str, *, model_version: str | None = None,
                        error_threshold: float | None = None) -> GivenReference:
    """The reference of `model_id`'s prediction and feature events in the file (invalid records are
    counted and skipped); the version is the one given, else that of the model's last event there."""
    events: list[PredictionEvent | FeatureEvent] = []
    invalid = 0
    for item in read_events(path):
        if isinstance(item, BadRecord):
            invalid += 1
        elif isinstance(item, PredictionEvent | FeatureEvent) and item.model_id == model_id:
            events.append(item)
    if not events:
        raise ValueError(f"{path} holds no prediction or feature event of model {model_id!r}")
    return GivenReference(model_id, model_version or events[-1].model_version, len(events), invalid,
                          references_of(events, error_threshold=error_threshold))


def reference_from_kafka(settings: Settings, model_id: str, from_ts: float, to_ts: float, *,
                         model_version: str | None = None, error_threshold: float | None = None,
                         timeout: float = 120.0) -> GivenReference:
    """The reference of `model_id`'s prediction and feature events stamped within [from_ts, to_ts], read
    from the predictions and features topics as far as they are retained (messages that do not decode
    are counted and skipped). Each partition is read to its end, told by the broker's end-of-partition
    event rather than by its end offset (agents/partition_ends.py); a partition still unfinished after
    `timeout` seconds raises TimeoutError."""
    wanted: list[PredictionEvent | FeatureEvent] = []
    invalid = 0
    sources: list[tuple[str, type[PredictionEvent] | type[FeatureEvent]]] = [
        (settings.topics.predictions, PredictionEvent), (settings.topics.features, FeatureEvent)]
    for topic, event_type in sources:
        for raw in read_topic({**settings.kafka_client_config(), "group.id": "driftline-reference"}, topic,
                              timeout=timeout):
            try:
                events: list[PredictionEvent | FeatureEvent] = list(decode_events(raw, event_type))
            except DecodeError:
                invalid += 1
                continue
            wanted += [e for e in events if e.model_id == model_id and from_ts <= e.ts <= to_ts]
    if not wanted:
        raise ValueError(f"no prediction or feature event of model {model_id!r} stamped between {from_ts} and "
                         f"{to_ts} in {settings.topics.predictions} or {settings.topics.features}")
    wanted.sort(key=lambda e: e.ts)
    return GivenReference(model_id, model_version or wanted[-1].model_version, len(wanted), invalid,
                          references_of(wanted, error_threshold=error_threshold))


def send_reference(settings: Settings, given: GivenReference) -> None:
    """Publish the deployment that carries the reference; raises RuntimeError if Kafka did not take it."""
    producer = EventProducer(settings, ProducerConfig(when_full="block", block_timeout_seconds=60))
    try:
        producer.log_deployment(given.model_id, given.model_version, reference=given.reference)
    finally:
        producer.close(timeout=60)
    if producer.stats.snapshot()["sent"] != 1:
        raise RuntimeError(f"the deployment carrying the reference was not delivered to "
                           f"{settings.topics.deployments}")
