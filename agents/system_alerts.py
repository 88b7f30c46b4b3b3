"""Alerts of kind `system`: the worker telling operators about itself rather than about the data.

| signal | detector | raised when |
|---|---|---|
| `state` | `snapshot` | a model's saved detector state was refused; its monitor restarts from scratch |
| `state` | `fencing` | another worker claimed the model while this one held it: this one's write was refused |
| `state` | `rewrite` | Redis lost the model's state (emptied, an older snapshot restored); its worker wrote it back |
| `state` | `rebuild` | Redis lost the model's state and no worker held it: its partition was read again from Kafka |
| `worker` | `redis` / `processing` | Redis answered with an error, or a bug failed a batch: consuming stopped |
| `partitioning` | `producer` | one model arrived on two partitions of a topic: a producer partitions wrongly |

Every id is a hash of what caused the alert, so the same cause replayed after a crash repeats the id.
"""

import hashlib
import time

from schemas.events import AlertKind, DriftAlert, InboundEvent, Severity

STATE_SIGNAL = "state"
SNAPSHOT_DETECTOR = "snapshot"
FENCING_DETECTOR = "fencing"
REWRITE_DETECTOR = "rewrite"
REBUILD_DETECTOR = "rebuild"
WORKER_SIGNAL = "worker"
PARTITIONING_SIGNAL = "partitioning"
PRODUCER_DETECTOR = "producer"


def _digest(*parts: bytes) -> str:
    return hashlib.blake2b(b"\x1f".join(parts), digest_size=12).hexdigest()


def _alert(alert_id: str, model_id: str, event: InboundEvent | None, signal: str, detector: str,
           detail: str) -> DriftAlert:
    version = getattr(event, "model_version", None) or "unknown"  # a label carries no version
    event_id = getattr(event, "event_id", None) or f"deployment-{version}"
    now = time.time()
    return DriftAlert(alert_id=alert_id, model_id=model_id, model_version=version, signal=signal, detector=detector,
                      kind=AlertKind.SYSTEM, severity=Severity.WARNING, event_index=0, event_id=event_id,
                      ts=event.ts if event is not None else now, detected_at=now, detail=detail[:2_000])


def snapshot_refused(model_id: str, first_event: InboundEvent, refused: bytes, reason: str) -> DriftAlert:
    """The model's saved detector state was refused (tampered, foreign key, other version); it starts afresh.

    The id depends on the refused bytes, so a batch replayed after a crash raises the same alert id."""
    return _alert(f"s-{_digest(model_id.encode(), refused)}", model_id, first_event, STATE_SIGNAL,
                  SNAPSHOT_DETECTOR, f"saved detector state refused, monitor reset from scratch: {reason}")


def write_fenced(model_id: str, event: InboundEvent | None, worker: str, cause: str) -> DriftAlert:
    return _alert(f"f-{_digest(model_id.encode(), worker.encode(), cause.encode())}", model_id, event,
                  STATE_SIGNAL, FENCING_DETECTOR,
                  f"worker {worker} lost ownership of this model's state ({cause}); its write was refused and the "
                  "batch is applied again on top of the new owner's state. Frequent alerts like this mean two "
                  "workers receive this model: see the `partitioning` alert and the producer rule in the README")


def state_rewritten(model_id: str, event: InboundEvent | None, worker: str, how: str, seq: str) -> DriftAlert:
    """Redis lost what it held of a model that this worker held in memory; the id depends on the write that
    found it, so a retried write repeats it."""
    return _alert(f"l-{_digest(model_id.encode(), how.encode(), seq.encode())}", model_id, event, STATE_SIGNAL,
                  REWRITE_DETECTOR,
                  f"this model's state in Redis was lost ({how}: Redis emptied, or restored from an older snapshot); "
                  f"worker {worker} held its detectors in memory and wrote them back whole. Lost with it, where "
                  "Redis was emptied: its closed-window history and the predictions then waiting for labels (their "
                  "labels will find no prediction)")


def state_rebuilt(model_id: str, event: InboundEvent | None, partition: str, start: int, end: int,
                  description: str) -> DriftAlert:
    """Redis lost a model's state and no worker held it; the id depends on the range re-read."""
    return _alert(f"b-{_digest(model_id.encode(), partition.encode(), str(start).encode(), str(end).encode())}",
                  model_id, event, STATE_SIGNAL, REBUILD_DETECTOR,
                  f"this model's state in Redis was lost and has been rebuilt from Kafka: {description}")


def worker_fault(model_id: str, event: InboundEvent | None, worker: str, detector: str, cause: str,
                 since: float) -> DriftAlert:
    return _alert(f"w-{_digest(model_id.encode(), worker.encode(), repr(since).encode())}", model_id, event,
                  WORKER_SIGNAL, detector,
                  f"worker {worker} stopped consuming this model's partition: {cause}. Nothing is acknowledged "
                  "until the cause clears; the worker retries with backoff and resumes by itself")


def split_partitions(model_id: str, event: InboundEvent, topic: str, partitions: list[int]) -> DriftAlert:
    shown = ", ".join(str(p) for p in partitions)
    return _alert(f"p-{_digest(model_id.encode(), topic.encode(), shown.encode())}", model_id, event,
                  PARTITIONING_SIGNAL, PRODUCER_DETECTOR,
                  f"model {model_id!r} arrived on partitions {shown} of {topic}. Producers must key every message "
                  "by model_id and use the murmur2 partitioner (Java's default; librdkafka and confluent-kafka: "
                  "partitioner=murmur2_random, not the default consistent_random). Expected once after the "
                  "topic's partition count grew")
