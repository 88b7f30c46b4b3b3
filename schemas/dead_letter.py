"""The dead-letter record: what was refused, where it came from, and why."""

import base64
import time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.limits import MAX_MESSAGE_BYTES


class DeadLetterReason(StrEnum):
    """Why a message was refused; the label of the dead-letter counter too."""

    OVERSIZED = "oversized"
    INVALID_JSON = "invalid_json"
    NON_FINITE_NUMBER = "non_finite_number"
    BATCH_TOO_LARGE = "batch_too_large"
    SCHEMA_VIOLATION = "schema_violation"
    UNKNOWN_MODEL = "unknown_model"
    DUPLICATE_EVENT_ID = "duplicate_event_id"
    PROCESSING_ERROR = "processing_error"


class DeadLetter(BaseModel):
    """One refused message. `payload_b64` holds the original bytes so it can be fixed and replayed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int = 1
    reason: DeadLetterReason
    detail: str = Field(max_length=4_096)
    topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    payload_b64: str
    payload_bytes: int = Field(ge=0, description="size of the original message value")
    payload_truncated: bool = False
    dead_lettered_at: float

    @classmethod
    def of(
        cls,
        *,
        reason: DeadLetterReason,
        detail: str,
        payload: bytes,
        topic: str,
        partition: int | None = None,
        offset: int | None = None,
        key: bytes | None = None,
    ) -> "DeadLetter":
        """Build a record, keeping at most MAX_MESSAGE_BYTES/2 of the payload so the record itself fits."""
        kept = payload[: MAX_MESSAGE_BYTES // 2]
        return cls(
            reason=reason,
            detail=detail[:4_096],
            topic=topic,
            partition=partition,
            offset=offset,
            key=key.decode("utf-8", "replace")[:512] if key is not None else None,
            payload_b64=base64.b64encode(kept).decode("ascii"),
            payload_bytes=len(payload),
            payload_truncated=len(kept) < len(payload),
            dead_lettered_at=time.time(),
        )

    def payload(self) -> bytes:
        return base64.b64decode(self.payload_b64)
