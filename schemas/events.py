"""Event models of the v1 wire contract (DESIGN.md, "Event contract").

All inbound models are strict: unknown fields, booleans posing as numbers, NaN and infinity are
refused, because a silently coerced value would feed a detector a number nobody sent.
"""

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, model_validator

from schemas.limits import MAX_BATCH_EVENTS, MAX_FEATURES, MAX_ID_CHARS, MAX_STRING_VALUE_CHARS
from schemas.lineage import Lineage, Validation
from schemas.types import (
    BoundedText,
    EventId,
    FeatureValue,
    Identifier,
    ModelId,
    ModelVersion,
    Score,
    SignalName,
    Target,
    Timestamp,
)

SCHEMA_VERSION: Literal[1] = 1


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

    v: Literal[1] = SCHEMA_VERSION


Features = Annotated[dict[Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)], FeatureValue],
                     Field(max_length=MAX_FEATURES)]


class PredictionEvent(_Wire):
    """One prediction of a live model, with the features it saw and, if known at once, the label."""

    model_id: ModelId
    model_version: ModelVersion
    event_id: EventId
    ts: Timestamp
    features: Features = Field(default_factory=dict)
    prediction: Target
    label: Target | None = None
    score: Score | None = Field(default=None, description="probability of the positive class, or one per class")


class FeatureEvent(_Wire):
    """Features observed without a prediction (e.g. logged by a feature pipeline)."""

    model_id: ModelId
    model_version: ModelVersion
    event_id: EventId
    ts: Timestamp
    features: Features


class LabelEvent(_Wire):
    """Ground truth for an earlier prediction; may arrive late and out of order."""

    model_id: ModelId
    event_id: EventId = Field(description="event_id of the prediction this labels")
    label: Target
    ts: Timestamp


REFERENCE_QUANTILES = 101
"""A given reference's quantile sketch: the values at 0%, 1%, ..., 100%."""
REFERENCE_CATEGORIES = 64


class ReferenceStats(_Wire):
    """Summary of one signal's reference distribution, sent with a deployment (a trainer's validation
    data, or `driftline reference set`). With `quantiles` (numbers) or `categories` (text), or for a
    0/1 signal (`missing:*`, `error`: `mean` is its rate), the monitor calibrates every detector from
    it at once, as mature as `count` says, instead of waiting for its own first values."""

    count: StrictInt = Field(ge=1)
    mean: StrictFloat
    std: StrictFloat = Field(ge=0.0)
    quantiles: Annotated[list[StrictFloat], Field(min_length=REFERENCE_QUANTILES,
                                                  max_length=REFERENCE_QUANTILES)] | None = None
    categories: Annotated[dict[Annotated[str, Field(max_length=MAX_STRING_VALUE_CHARS)], Annotated[
        StrictInt, Field(ge=1)]], Field(min_length=1, max_length=REFERENCE_CATEGORIES)] | None = None

    @model_validator(mode="after")
    def _sorted_quantiles(self) -> "ReferenceStats":
        if self.quantiles is not None and any(b < a for a, b in zip(self.quantiles, self.quantiles[1:],
                                                                     strict=False)):
            raise ValueError("quantiles must not decrease")
        return self


class ModelDeployed(_Wire):
    """A new model version is live: its detectors and reference windows start afresh."""

    model_id: ModelId
    model_version: ModelVersion
    ts: Timestamp
    reference: Annotated[dict[SignalName, ReferenceStats], Field(max_length=MAX_FEATURES + 2)] | None = None
    request_id: Identifier | None = Field(default=None, description="RetrainRequest this deployment answers")
    lineage: Lineage | None = Field(default=None, description="what trained and validated this version")
    model_uri: BoundedText | None = Field(default=None, description="where the model is kept, e.g. models:/name/3")


class ModelRejected(_Wire):
    """A candidate version failed the validation gate: the serving version stays, the request is answered."""

    model_id: ModelId
    candidate_version: ModelVersion
    serving_version: ModelVersion
    request_id: Identifier
    ts: Timestamp
    validation: Validation
    reason: BoundedText
    lineage: Lineage | None = None
    model_uri: BoundedText | None = None


InboundEvent = PredictionEvent | FeatureEvent | LabelEvent | ModelDeployed | ModelRejected


class AlertKind(StrEnum):
    DATA = "data"
    PREDICTION = "prediction"
    CONCEPT = "concept"
    SYSTEM = "system"
    DEPLOYMENT = "deployment"


class Severity(StrEnum):
    WARNING = "warning"
    DRIFT = "drift"


class Evidence(BaseModel):
    """Detector statistics just before and just after the update that raised the alert."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    before: dict[str, float] = Field(default_factory=dict)
    after: dict[str, float] = Field(default_factory=dict)


class DriftAlert(_Wire):
    """A detector on one signal of one model changed state."""

    model_config = ConfigDict(extra="forbid", strict=False, allow_inf_nan=False, frozen=True)

    alert_id: Identifier
    model_id: ModelId
    model_version: ModelVersion
    signal: SignalName
    detector: Identifier
    kind: AlertKind
    severity: Severity
    event_index: int = Field(ge=0, description="0-based index in the model's stream since its last reset")
    event_id: EventId
    ts: Timestamp
    evidence: Evidence = Field(default_factory=Evidence)
    detected_at: Timestamp
    detail: BoundedText | None = Field(default=None, description="what happened, for `system` alerts")


class EventWindow(BaseModel):
    """Event-time span of the data a retrain request is about."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_ts: Timestamp
    to_ts: Timestamp

    @model_validator(mode="after")
    def _ordered(self) -> "EventWindow":
        if self.to_ts < self.from_ts:
            raise ValueError(f"window to_ts {self.to_ts} is before from_ts {self.from_ts}")
        return self


class RetrainRequest(_Wire):
    """Ask trainers for a new version of a model; at most one is open per model per cooldown."""

    model_config = ConfigDict(extra="forbid", strict=False, allow_inf_nan=False, frozen=True)

    request_id: Identifier
    model_id: ModelId
    model_version: ModelVersion
    reasons: list[Identifier] = Field(min_length=1, description="alert_ids that triggered the request")
    window: EventWindow
    requested_at: Timestamp
    rollback_to: ModelVersion | None = Field(
        default=None, description="recommend bringing this earlier version back instead of training a new one")


Event = InboundEvent | DriftAlert | RetrainRequest


class BatchEnvelope(BaseModel):
    """Many events of one topic in one Kafka message: `{"v":1,"batch":[event, ...]}`."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    v: Literal[1] = SCHEMA_VERSION
    batch: Annotated[list[InboundEvent], Field(min_length=1, max_length=MAX_BATCH_EVENTS)]
