"""Alerts of kind `system`: the worker telling operators about itself rather than about the data."""

import hashlib
import time

from schemas.events import AlertKind, DriftAlert, InboundEvent, Severity

STATE_SIGNAL = "state"
SNAPSHOT_DETECTOR = "snapshot"


def snapshot_refused(model_id: str, first_event: InboundEvent, refused: bytes, reason: str) -> DriftAlert:
    """The model's saved detector state was refused (tampered, foreign key, other version); it starts afresh.

    The id depends on the refused bytes, so a batch replayed after a crash raises the same alert id."""
    digest = hashlib.blake2b(model_id.encode() + b"\x1f" + refused, digest_size=12).hexdigest()
    version = getattr(first_event, "model_version", None) or "unknown"  # a label carries no version
    event_id = getattr(first_event, "event_id", None) or f"deployment-{version}"
    return DriftAlert(
        alert_id=f"s-{digest}",
        model_id=model_id,
        model_version=version,
        signal=STATE_SIGNAL,
        detector=SNAPSHOT_DETECTOR,
        kind=AlertKind.SYSTEM,
        severity=Severity.WARNING,
        event_index=0,
        event_id=event_id,
        ts=first_event.ts,
        detected_at=time.time(),
        detail=f"saved detector state refused, monitor reset from scratch: {reason}",
    )
