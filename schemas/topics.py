"""The topic catalog: one place that turns the configurable prefix into topic names."""

from pydantic import BaseModel, ConfigDict, Field


class TopicCatalog(BaseModel):
    """Topic names under a prefix (default `driftline.`)."""

    model_config = ConfigDict(frozen=True)

    prefix: str = Field(default="driftline.", pattern=r"^[A-Za-z0-9._-]{0,200}$")

    @property
    def predictions(self) -> str:
        return f"{self.prefix}predictions"

    @property
    def features(self) -> str:
        return f"{self.prefix}features"

    @property
    def labels(self) -> str:
        return f"{self.prefix}labels"

    @property
    def deployments(self) -> str:
        return f"{self.prefix}deployments"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}alerts"

    @property
    def retrain(self) -> str:
        return f"{self.prefix}retrain"

    @property
    def rejections(self) -> str:
        return f"{self.prefix}rejections"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}dlq"

    def inbound(self) -> list[str]:
        return [self.predictions, self.features, self.labels, self.deployments, self.rejections]

    def outbound(self) -> list[str]:
        return [self.alerts, self.retrain, self.dlq]

    def all(self) -> list[str]:
        return self.inbound() + self.outbound()
