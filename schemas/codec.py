"""Bytes on a topic <-> validated events.

A message is one event or a batch envelope `{"v":1,"batch":[...]}`. Decoding either returns every
event or raises DecodeError with a reason code and a readable detail; it never raises anything
else, whatever the bytes (property-tested), so a worker can dead-letter and move on.
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError

from schemas.dead_letter import DeadLetterReason
from schemas.events import BatchEnvelope, InboundEvent
from schemas.limits import MAX_BATCH_EVENTS, MAX_MESSAGE_BYTES

E = TypeVar("E", bound=BaseModel)


class _Envelope(BaseModel, Generic[E]):
    model_config = ConfigDict(extra="forbid", strict=True)

    v: Literal[1]
    batch: Annotated[list[E], Field(min_length=1, max_length=MAX_BATCH_EVENTS)]


@dataclass(frozen=True)
class DecodeFailure:
    reason: DeadLetterReason
    detail: str


class DecodeError(ValueError):
    """The message is not a valid event or envelope of the expected type."""

    def __init__(self, failure: DecodeFailure) -> None:
        super().__init__(f"{failure.reason}: {failure.detail}")
        self.failure = failure


def _shape(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "batch" in value else "single"


_ENVELOPE_HEAD = re.compile(rb'\s*\{\s*"v"\s*:\s*1\s*,\s*"batch"\s*:')
"""How an envelope starts when written as the SDKs write it; other key orders take the general path."""


@cache
def _envelope_adapter(event_type: type[BaseModel]) -> TypeAdapter[Any]:
    return TypeAdapter(_Envelope[event_type])  # type: ignore[valid-type]


@cache
def _single_adapter(event_type: type[BaseModel]) -> TypeAdapter[Any]:
    return TypeAdapter(event_type)


@cache
def _adapter(event_type: type[BaseModel]) -> TypeAdapter[Any]:
    return TypeAdapter(
        Annotated[  # type: ignore[arg-type]
            Annotated[_Envelope[event_type], Tag("batch")]  # type: ignore[valid-type]
            | Annotated[event_type, Tag("single")],
            Discriminator(_shape),
        ]
    )


def decode_events(raw: bytes, event_type: type[E], *, max_bytes: int = MAX_MESSAGE_BYTES) -> list[E]:
    """Decode one Kafka message value into events of `event_type`."""
    if len(raw) > max_bytes:
        raise DecodeError(
            DecodeFailure(
                DeadLetterReason.OVERSIZED,
                f"message is {len(raw)} bytes, over the {max_bytes}-byte limit; split it into smaller batches",
            )
        )
    fast = _envelope_adapter(event_type) if _ENVELOPE_HEAD.match(raw) else _single_adapter(event_type)
    try:  # the discriminated union below parses the JSON twice (its tag is a Python function of a dict)
        decoded = fast.validate_json(raw)
    except (ValidationError, ValueError, RecursionError, UnicodeError):
        pass  # what is wrong is said by the general path, with the same errors as ever
    else:
        return list(decoded.batch) if isinstance(decoded, _Envelope) else [decoded]
    try:
        decoded = _adapter(event_type).validate_json(raw)
    except ValidationError as exc:
        raise DecodeError(_describe(exc, event_type)) from None
    except (ValueError, RecursionError, UnicodeError) as exc:  # defensive: pydantic wraps these today
        raise DecodeError(DecodeFailure(DeadLetterReason.INVALID_JSON, str(exc)[:512])) from None
    if isinstance(decoded, _Envelope):
        return list(decoded.batch)
    return [decoded]


@dataclass(frozen=True)
class RejectedEvent:
    """One element of a batch envelope that failed validation, with its own JSON."""

    failure: DecodeFailure
    payload: bytes


def decode_batch_elements(raw: bytes, event_type: type[E]) -> tuple[list[E], list[RejectedEvent]] | None:
    """Validate the elements of an envelope one by one, so one bad event does not sink the others.

    Returns None when `raw` is not an envelope whose `batch` is a list (the whole message is bad).
    """
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("v") != 1 or set(data) != {"v", "batch"}:
        return None
    batch = data["batch"]
    if not isinstance(batch, list) or not 0 < len(batch) <= MAX_BATCH_EVENTS:
        return None
    adapter = TypeAdapter(event_type)
    events: list[E] = []
    rejected = []
    for index, element in enumerate(batch):
        try:
            events.append(adapter.validate_python(element))
        except ValidationError as exc:
            failure = _describe(exc, event_type)
            rejected.append(RejectedEvent(DecodeFailure(failure.reason, f"batch[{index}]: {failure.detail}"),
                                          json.dumps(element, allow_nan=True).encode()))
    return events, rejected


def _describe(exc: ValidationError, event_type: type[BaseModel]) -> DecodeFailure:
    errors = exc.errors(include_url=False, include_context=False)
    types = {err["type"] for err in errors}
    if "json_invalid" in types or "json_type" in types:
        reason = DeadLetterReason.INVALID_JSON
    elif "finite_number" in types:
        reason = DeadLetterReason.NON_FINITE_NUMBER
    elif any(err["type"] == "too_long" and err["loc"][-1:] == ("batch",) for err in errors):
        reason = DeadLetterReason.BATCH_TOO_LARGE
    else:
        reason = DeadLetterReason.SCHEMA_VIOLATION
    parts = []
    for err in errors[:5]:
        loc_parts = err["loc"][1:] if err["loc"][:1] in (("single",), ("batch",)) else err["loc"]
        loc = ".".join(str(p) for p in loc_parts)
        shown = repr(err.get("input"))[:80] if err["type"] not in ("json_invalid", "missing") else ""
        parts.append(f"{loc or '<message>'}: {err['msg']}" + (f" (got {shown})" if shown else ""))
    more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
    return DecodeFailure(reason, f"not a valid {event_type.__name__}: " + "; ".join(parts) + more)


def encode_event(event: BaseModel) -> bytes:
    """One event as one message value."""
    return event.model_dump_json().encode("utf-8")


def encode_batch(events: Sequence[InboundEvent]) -> bytes:
    """Many events of one type as a batch envelope."""
    return BatchEnvelope(batch=list(events)).model_dump_json().encode("utf-8")
