"""Entries of a model's lineage log in Redis (`<p>lineage:{<model>}`, newest first): the worker records
each retrain request with the alerts behind it and each deployment it applied, with what the
monitor saw of the version it replaced; a trainer records each rejected candidate.
`driftline lineage MODEL` reads them back as one chain."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import ModelDeployed, ModelRejected, RetrainRequest

LINEAGE_HISTORY = 1_000
"""Entries kept per model: the oldest go first."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class AlertRef(_Entry):
    alert_id: str
    signal: str
    ts: float


class VersionSummary(_Entry):
    """What the monitor saw of a version, from its deployment to its replacement."""

    model_version: str
    events: int
    drift_alerts: int
    retrain_requests: int


class RequestEntry(_Entry):
    kind: Literal["request"] = "request"
    request: RetrainRequest
    alerts: list[AlertRef] = Field(default_factory=list)


class DeploymentEntry(_Entry):
    kind: Literal["deployed"] = "deployed"
    deployed: ModelDeployed
    generation: int
    replaced: VersionSummary | None = None


class RejectionEntry(_Entry):
    kind: Literal["rejected"] = "rejected"
    rejected: ModelRejected


LineageEntry = Annotated[RequestEntry | DeploymentEntry | RejectionEntry, Field(discriminator="kind")]
