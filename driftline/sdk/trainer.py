"""The trainer SDK: consume retrain requests, run your training function, announce the new version.

Idempotent per request: a record in Redis (`<prefix>trainer:<request_id>`) remembers a request's
trained version, so a redelivered request is not trained twice, and a crash between training and
announcing re-announces the same version. The worker ignores a second ModelDeployed for the same
request_id, so even that cannot reset the detectors twice.
"""

import logging
import time
from collections.abc import Callable, Collection

from confluent_kafka import Consumer, Producer
from pydantic import BaseModel, ConfigDict, ValidationError

from driftline.redis_connect import sync_client
from driftline.settings import Settings
from schemas import encode_event
from schemas.events import ModelDeployed, ReferenceStats, RetrainRequest

log = logging.getLogger(__name__)


class TrainedModel(BaseModel):
    """What a training function returns: the new version and, optionally, its reference statistics."""

    model_config = ConfigDict(extra="forbid")

    model_version: str
    reference: dict[str, ReferenceStats] | None = None


class _Record(BaseModel):
    state: str
    model_version: str
    reference: dict[str, ReferenceStats] | None = None


TrainFunction = Callable[[RetrainRequest], TrainedModel]


class Trainer:
    """Serves the retrain topic; `model_ids` limits it to some models (one trainer per model family)."""

    def __init__(self, train: TrainFunction, settings: Settings | None = None, *,
                 group_id: str = "driftline-trainer", model_ids: Collection[str] | None = None,
                 record_ttl_seconds: int = 30 * 86_400) -> None:
        self.train = train
        self.model_ids = None if model_ids is None else frozenset(model_ids)
        self.settings = settings or Settings()
        self.record_ttl_seconds = record_ttl_seconds
        self._redis = sync_client(self.settings)
        self._consumer = Consumer({**self.settings.kafka_group_config(group_id), "max.poll.interval.ms": 3_600_000})
        self._consumer.subscribe([self.settings.topics.retrain])
        self._producer = Producer(self.settings.kafka_producer_config())
        self.deployed: list[ModelDeployed] = []

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

    def handle(self, request: RetrainRequest) -> ModelDeployed:
        key = f"{self.settings.key_prefix}trainer:{request.request_id}"
        saved = self._redis.get(key)
        record = _Record.model_validate_json(saved) if isinstance(saved, bytes) else None
        if record is None:
            log.info("training %s for request %s", request.model_id, request.request_id)
            trained = self.train(request)
            record = _Record(state="trained", model_version=trained.model_version, reference=trained.reference)
            self._redis.set(key, record.model_dump_json(), ex=self.record_ttl_seconds)
        deployed = ModelDeployed(model_id=request.model_id, model_version=record.model_version, ts=time.time(),
                                 reference=record.reference, request_id=request.request_id)
        if record.state != "announced":
            self._producer.produce(self.settings.topics.deployments, key=request.model_id.encode(),
                                   value=encode_event(deployed))
            if self._producer.flush(30) != 0:
                raise RuntimeError(f"the deployment of {request.model_id} {record.model_version} was not confirmed")
            record = record.model_copy(update={"state": "announced"})
            self._redis.set(key, record.model_dump_json(), ex=self.record_ttl_seconds)
        self.deployed.append(deployed)
        return deployed

    def close(self) -> None:
        self._consumer.close()
        self._producer.flush(10)
        self._redis.close()

    def __enter__(self) -> "Trainer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
