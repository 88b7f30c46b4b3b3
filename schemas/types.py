"""Constrained field types shared by every event."""

import math
from datetime import datetime
from typing import Annotated, TypeVar

from pydantic import BeforeValidator, Field, StrictBool, StrictFloat, StringConstraints

from schemas.limits import MAX_CLASSES, MAX_EPOCH_SECONDS, MAX_ID_CHARS, MAX_STRING_VALUE_CHARS, MIN_EPOCH_SECONDS

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS, strip_whitespace=False)]
"""model_id, model_version, event_id: non-empty and bounded because they become Redis keys."""

ModelId = Identifier
EventId = Identifier
ModelVersion = Identifier

SignalName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS + 8)]
"""`feature:<name>`, `prediction` or `error`."""

BoundedText = Annotated[str, StringConstraints(max_length=MAX_STRING_VALUE_CHARS)]

FeatureValue = StrictFloat | StrictBool | BoundedText | None
"""A feature is a number, a category (text, or a JSON boolean: a feature of two categories, never a
number), or missing."""

Target = StrictFloat | Annotated[str, StringConstraints(min_length=1, max_length=MAX_STRING_VALUE_CHARS)]
"""A prediction or a label: a number (regression, score) or a class name."""

Probability = Annotated[StrictFloat, Field(ge=0.0, le=1.0)]
Score = Probability | Annotated[list[Probability], Field(min_length=2, max_length=MAX_CLASSES)]
"""A classifier's score: the probability of the positive class, or one probability per class."""


def _parse_timestamp(value: object) -> object:
    """Accept RFC 3339 strings and epoch seconds; always keep epoch seconds (float, UTC).

    Epoch seconds are what the detectors, windows and Redis TTLs work in, and unlike pydantic's
    own datetime coercion this never guesses milliseconds from the size of a number.
    """
    if isinstance(value, bool):
        raise ValueError("timestamp must be RFC 3339 text or epoch seconds, not a boolean")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"timestamp {value[:64]!r} is not RFC 3339 (e.g. 2026-01-31T12:00:00Z)") from exc
        if parsed.tzinfo is None:
            raise ValueError(f"timestamp {value[:64]!r} has no UTC offset; add 'Z' or '+00:00'")
        return parsed.timestamp()
    raise ValueError("timestamp must be RFC 3339 text or epoch seconds")


def _epoch_seconds(value: object) -> object:
    """`_parse_timestamp`, then the range check: one Python call per event, where two cost a tenth of
    decoding a 10-feature event. Non-finite numbers pass through for the float validator to refuse."""
    seconds = _parse_timestamp(value)
    if isinstance(seconds, float) and math.isfinite(seconds) and not MIN_EPOCH_SECONDS <= seconds <= MAX_EPOCH_SECONDS:
        raise ValueError(f"timestamp {seconds} is outside 1970..2200 (epoch seconds expected, not milliseconds)")
    return seconds


Timestamp = Annotated[
    float,
    BeforeValidator(_epoch_seconds),
    Field(description="Epoch seconds (UTC); RFC 3339 text is accepted on input."),
]


_Value = TypeVar("_Value")


def int_as_float(value: int | _Value) -> float | _Value:
    """Integers become floats: the schemas' numbers are strict floats, and a bool stays a bool to be refused.

    For callers that build events from Python values or CSV/Parquet rows, where 3 means 3.0."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value
