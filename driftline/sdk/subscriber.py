"""Subscribe to alerts, retrain requests, deployments or rejected candidates with consumer-group semantics.

At least once: a message's offset is committed only after your callback returns (or, when
iterating, when you ask for the next event), so a crash redelivers what was not handled. Alert
and request ids are stable, so a handler can recognise a redelivery.
"""

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

from confluent_kafka import Consumer, Message
from pydantic import BaseModel, ValidationError

from driftline.settings import Settings
from schemas.events import DriftAlert, ModelDeployed, ModelRejected, RetrainRequest

Stream = Literal["alerts", "retrain", "deployments", "rejections"]
Received = DriftAlert | RetrainRequest | ModelDeployed | ModelRejected


class Subscriber:
    def __init__(self, settings: Settings | None = None, *, group_id: str,
                 streams: Sequence[Stream] = ("alerts",), from_beginning: bool = False) -> None:
        self.settings = settings or Settings()
        topics = self.settings.topics
        self._types: dict[str, type[BaseModel]] = {}
        catalog: dict[str, tuple[str, type[BaseModel]]] = {
            "alerts": (topics.alerts, DriftAlert), "retrain": (topics.retrain, RetrainRequest),
            "deployments": (topics.deployments, ModelDeployed), "rejections": (topics.rejections, ModelRejected)}
        for stream in streams:
            topic, model = catalog[stream]
            self._types[topic] = model
        self._consumer = Consumer(self.settings.kafka_group_config(group_id, from_beginning=from_beginning))
        self._consumer.subscribe(list(self._types))
        self.skipped = 0

    def events(self, *, timeout: float | None = None) -> Iterator[Received]:
        """Yield events; the previous one is committed when the next is asked for."""
        deadline = None if timeout is None else time.monotonic() + timeout
        previous: Message | None = None
        while deadline is None or time.monotonic() < deadline:
            message = self._consumer.poll(0.2)
            if message is None or message.error():
                continue
            if previous is not None:
                self._consumer.commit(message=previous, asynchronous=False)
                previous = None
            event = self._parse(message)
            if event is None:
                self._consumer.commit(message=message, asynchronous=False)
                continue
            yield event
            previous = message
        if previous is not None:
            self._consumer.commit(message=previous, asynchronous=False)

    def run(self, handle: Callable[[Received], None], *, timeout: float | None = None,
            max_events: int | None = None, stop: Callable[[], bool] | None = None) -> int:
        """Call `handle` for each event and commit after it returns; returns how many were handled."""
        handled = 0
        deadline = None if timeout is None else time.monotonic() + timeout
        while (max_events is None or handled < max_events) and (deadline is None or time.monotonic() < deadline):
            if stop is not None and stop():
                break
            message = self._consumer.poll(0.2)
            if message is None or message.error():
                continue
            event = self._parse(message)
            if event is not None:
                handle(event)
                handled += 1
            self._consumer.commit(message=message, asynchronous=False)
        return handled

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> "Subscriber":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _parse(self, message: Message) -> Received | None:
        model = self._types.get(message.topic() or "")
        value = message.value()
        if model is None or value is None:
            return None
        try:
            return model.model_validate_json(value)  # type: ignore[return-value]
        except ValidationError:
            self.skipped += 1
            return None
