"""The trainer SDK: consume retrain requests, run your training function, announce the outcome.

A training function returns a TrainedModel (announced as a ModelDeployed on the deployments topic)
or a RejectedModel (a candidate that failed validation: announced as a ModelRejected on the
rejections topic; the serving version stays and the request counts as answered). A request with
`rollback_to` (the post-deployment watch's recommendation) goes to the `rollback` function instead,
which by default announces that earlier version again.

Idempotent per request: a record in Redis (`<prefix>trainer:<request_id>`) remembers a request's
outcome, so a redelivered request is not trained twice, and a crash between training and
announcing re-announces the same outcome. The worker ignores a second ModelDeployed for the same
request_id, so even that cannot reset the detectors twice.
"""

import logging
import socket
import time
from collections.abc import Callable, Collection
from typing import Annotated, Literal

from confluent_kafka import Consumer, Producer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.keys import RedisKeys
from driftline import __version__
from driftline.redis_connect import sync_client
from driftline.settings import Settings
from schemas import encode_event
from schemas.events import ModelDeployed, ModelRejected, ReferenceStats, RetrainRequest
from schemas.lineage import Lineage, Validation
from schemas.lineage_log import LINEAGE_HISTORY, RejectionEntry

log = logging.getLogger(__name__)


class TrainedModel(BaseModel):
    """A version to deploy, with, optionally, its reference statistics, lineage and where it is kept."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["trained"] = "trained"
    model_version: str
    reference: dict[str, ReferenceStats] | None = None
    lineage: Lineage | None = None
    model_uri: str | None = None


class RejectedModel(BaseModel):
    """A candidate that failed validation: announced, never deployed."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["rejected"] = "rejected"
    candidate_version: str
    validation: Validation
    reason: str
    lineage: Lineage | None = None
    model_uri: str | None = None


Outcome = Annotated[TrainedModel | RejectedModel, Field(discriminator="kind")]


class _Record(BaseModel):
    state: Literal["trained", "announced"]
    outcome: Outcome

    @classmethod
    def parse(cls, saved: bytes) -> "_Record":
        """A record, or one an earlier driftline wrote (`state`, `model_version`, `reference`)."""
        try:
            return cls.model_validate_json(saved)
        except ValidationError:
            legacy = _LegacyRecord.model_validate_json(saved)
            return cls(state=legacy.state, outcome=TrainedModel(model_version=legacy.model_version,
                                                                reference=legacy.reference))


class _LegacyRecord(BaseModel):
    state: Literal["trained", "announced"]
    model_version: str
    reference: dict[str, ReferenceStats] | None = None


TrainFunction = Callable[[RetrainRequest], TrainedModel | RejectedModel]


def announce_rollback(request: RetrainRequest) -> TrainedModel:
    """The default answer to a rollback recommendation: deploy the earlier version again."""
    assert request.rollback_to is not None
    return TrainedModel(model_version=request.rollback_to)


class Trainer:
    """Serves the retrain topic; `model_ids` limits it to some models (one trainer per model family)."""

    def __init__(self, train: TrainFunction, settings: Settings | None = None, *,
                 group_id: str = "driftline-trainer", model_ids: Collection[str] | None = None,
                 record_ttl_seconds: int = 30 * 86_400, rollback: TrainFunction = announce_rollback,
                 trainer_id: str | None = None, code_version: str | None = None) -> None:
        self.train = train
        self.rollback = rollback
        self.model_ids = None if model_ids is None else frozenset(model_ids)
        self.settings = settings or Settings()
        self.record_ttl_seconds = record_ttl_seconds
        self.trainer_id = trainer_id or f"{group_id}@{socket.gethostname()}"[:200]
        self.code_version = code_version or f"driftline {__version__}"
        self._redis = sync_client(self.settings)
        self._consumer = Consumer({**self.settings.kafka_group_config(group_id), "max.poll.interval.ms": 3_600_000})
        self._consumer.subscribe([self.settings.topics.retrain])
        self._producer = Producer(self.settings.kafka_producer_config())
        self.deployed: list[ModelDeployed] = []
        self.rejected: list[ModelRejected] = []

    def run(self, *, stop: Callable[[], bool] | None = None, max_requests: int | None = None,
            timeout: float | None = None) -> int:
        """Serve retrain requests until `stop()` is true, `max_requests` are done or `timeout` passes."""
        done = 0
        deadline = None if timeout is None else time.monotonic() + timeout
        while (max_requests is None or done < max_requests) and (deadline is None or time.monotonic() < deadline):
            if stop is not None and stop():
                break
            message = self._consumer.poll(0.2)
            if message is None or message.error() or message.value() is None:
                continue
            try:
                request = RetrainRequest.model_validate_json(message.value())  # type: ignore[arg-type]
            except ValidationError as exc:
                log.error("skipping a retrain message that is not a RetrainRequest: %s", exc)
                self._consumer.commit(message=message, asynchronous=False)
                continue
            if self.model_ids is None or request.model_id in self.model_ids:
                self.handle(request)
                done += 1
            self._consumer.commit(message=message, asynchronous=False)
        return done

    def handle(self, request: RetrainRequest) -> ModelDeployed | ModelRejected:
        """Train (or roll back) once per request, then announce the outcome (again, after a crash)."""
        key = f"{self.settings.key_prefix}trainer:{request.request_id}"
        saved = self._redis.get(key)
        record = _Record.parse(saved) if isinstance(saved, bytes) else None
        if record is None:
            log.info("%s %s for request %s", "rolling back" if request.rollback_to else "training",
                     request.model_id, request.request_id)
            outcome = (self.rollback if request.rollback_to is not None else self.train)(request)
            record = _Record(state="trained", outcome=outcome.model_copy(update={
                "lineage": self._lineage(request, outcome.lineage)}))
            self._redis.set(key, record.model_dump_json(), ex=self.record_ttl_seconds)
        announced = self._announcement(request, record.outcome)
        if record.state != "announced":
            self._announce(announced)
            record = record.model_copy(update={"state": "announced"})
            self._redis.set(key, record.model_dump_json(), ex=self.record_ttl_seconds)
        if isinstance(announced, ModelDeployed):
            self.deployed.append(announced)
        else:
            self.rejected.append(announced)
        return announced

    def _lineage(self, request: RetrainRequest, given: Lineage | None) -> Lineage:
        """The training function's lineage, completed with what the request and this trainer know."""
        base = given or Lineage()
        return base.model_copy(update={
            "parent_version": base.parent_version or request.model_version,
            "request_id": request.request_id,
            "alert_ids": base.alert_ids or request.reasons[:100],
            "trainer_id": base.trainer_id or self.trainer_id,
            "code_version": base.code_version or self.code_version,
            "rollback": base.rollback or request.rollback_to is not None,
        })

    @staticmethod
    def _announcement(request: RetrainRequest, outcome: TrainedModel | RejectedModel) -> ModelDeployed | ModelRejected:
        if isinstance(outcome, TrainedModel):
            return ModelDeployed(model_id=request.model_id, model_version=outcome.model_version, ts=time.time(),
                                 reference=outcome.reference, request_id=request.request_id,
                                 lineage=outcome.lineage, model_uri=outcome.model_uri)
        return ModelRejected(model_id=request.model_id, candidate_version=outcome.candidate_version,
                             serving_version=request.model_version, request_id=request.request_id, ts=time.time(),
                             validation=outcome.validation, reason=outcome.reason[:1_000],
                             lineage=outcome.lineage, model_uri=outcome.model_uri)

    def _announce(self, event: ModelDeployed | ModelRejected) -> None:
        deployed = isinstance(event, ModelDeployed)
        topic = self.settings.topics.deployments if deployed else self.settings.topics.rejections
        self._producer.produce(topic, key=event.model_id.encode(), value=encode_event(event))
        if self._producer.flush(30) != 0:
            raise RuntimeError(f"the {'deployment' if deployed else 'rejection'} of {event.model_id} was not "
                               f"confirmed by {topic}")
        if isinstance(event, ModelRejected):  # the worker logs deployments; rejections never reach it
            key = RedisKeys(self.settings.key_prefix).lineage(event.model_id)
            pipe = self._redis.pipeline(transaction=False)
            pipe.lpush(key, RejectionEntry(rejected=event).model_dump_json())
            pipe.ltrim(key, 0, LINEAGE_HISTORY - 1)
            pipe.execute()

    def close(self) -> None:
        self._consumer.close()
        self._producer.flush(10)
        self._redis.close()

    def __enter__(self) -> "Trainer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
