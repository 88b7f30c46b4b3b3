"""Lineage of a model version: which data trained it, how it was validated, and why it was asked for.

Carried by ModelDeployed and ModelRejected (schemas/events.py) and kept per model in Redis
(`<p>lineage:{<model>}`, agents/keys.py), so a version can be traced back to the alerts that asked
for it and its training set rebuilt from Kafka while the topics retain it (`driftline export`).
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.types import BoundedText, Identifier, ModelVersion, Timestamp

MAX_LINEAGE_ALERTS = 100
MAX_OFFSET_RANGES = 1_024

Metric = Literal["accuracy", "f1", "roc_auc", "mae", "rmse"]
LOWER_IS_BETTER: frozenset[str] = frozenset({"mae", "rmse"})


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class OffsetRange(_Record):
    """Records `start` (inclusive) to `end` (exclusive) of one partition, as read."""

    topic: Annotated[str, Field(min_length=1, max_length=249)]
    partition: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> "OffsetRange":
        if self.end < self.start:
            raise ValueError(f"offset range of {self.topic}[{self.partition}] ends at {self.end}, before {self.start}")
        return self


class TrainingData(_Record):
    """Where a training set came from: enough to read exactly the same examples again."""

    from_ts: Timestamp
    to_ts: Timestamp
    ranges: Annotated[list[OffsetRange], Field(max_length=MAX_OFFSET_RANGES)]
    examples: int = Field(ge=0, description="labelled examples read: training and validation together")
    validation_examples: int = Field(ge=0, description="the most recent of them, held out for the gate")
    fingerprint: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="SHA-256 of the examples in (ts, event_id) order (driftline/training_data.py)")


class Validation(_Record):
    """The gate's verdict: candidate and serving version scored on the same held-out slice."""

    metric: Metric
    candidate_score: float
    serving_score: float | None = Field(description="None when the serving version could not be scored")
    slice_size: int = Field(ge=0)
    margin: float = Field(ge=0.0, description="how much worse the candidate may be and still pass")
    passed: bool


class Lineage(_Record):
    """Why a version exists and what made it."""

    parent_version: ModelVersion | None = None
    request_id: Identifier | None = None
    alert_ids: Annotated[list[Identifier], Field(max_length=MAX_LINEAGE_ALERTS)] = Field(default_factory=list)
    training: TrainingData | None = None
    validation: Validation | None = None
    trainer_id: Identifier | None = None
    code_version: BoundedText | None = None
    rollback: bool = Field(default=False, description="this version is an earlier one brought back")
