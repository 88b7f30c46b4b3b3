"""`driftline notify --webhook URL`: forward alerts, retrain requests and rejected candidates to a
webhook (Slack's incoming webhooks, or any HTTP endpoint taking JSON).

At least once: a consumer group reads the topics, and a message's offset is committed only after
the webhook answered 2xx. Until it does, the same event is posted again, with a backoff from 1 s up
to `max_backoff_seconds`, however long the webhook is away; a restart resumes from the last event
the webhook took. A receiver can recognise a repeat by `alert_id` / `request_id`.
"""

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from confluent_kafka import Consumer, Message
from pydantic import BaseModel, ValidationError

from driftline.settings import Settings
from schemas.codec import DecodeError, decode_events
from schemas.events import DriftAlert, ModelRejected, RetrainRequest, Severity

log = logging.getLogger(__name__)

Format = Literal["slack", "json"]
Stream = Literal["alerts", "retrain", "rejections"]
Notice = DriftAlert | RetrainRequest | ModelRejected


@dataclass
class NotifyStats:
    posted: int = 0
    retries: int = 0
    skipped: int = 0  # not an event of the stream's type, or below the severity asked for


class Notifier:
    def __init__(self, settings: Settings, webhook: str, *, format: Format = "json",
                 streams: Sequence[Stream] = ("alerts", "retrain", "rejections"), group_id: str = "driftline-notify",
                 min_severity: Severity = Severity.WARNING, from_beginning: bool = False,
                 timeout_seconds: float = 10.0, max_backoff_seconds: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.webhook, self.format, self.min_severity = webhook, format, min_severity
        self.timeout_seconds, self.max_backoff_seconds, self.sleep = timeout_seconds, max_backoff_seconds, sleep
        topics = settings.topics
        catalog: dict[str, tuple[str, type[BaseModel]]] = {
            "alerts": (topics.alerts, DriftAlert), "retrain": (topics.retrain, RetrainRequest),
            "rejections": (topics.rejections, ModelRejected)}
        self._types = dict(catalog[stream] for stream in streams)
        self._consumer = Consumer(settings.kafka_group_config(group_id, from_beginning=from_beginning))
        self._consumer.subscribe(list(self._types))
        self.stats = NotifyStats()

    def run(self, *, stop: Callable[[], bool] | None = None, timeout: float | None = None) -> NotifyStats:
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            if stop is not None and stop():
                break
            message = self._consumer.poll(0.2)
            if message is None or message.error() or message.value() is None:
                continue
            for notice in self._notices(message):
                self._post_until_taken(notice, stop)
            self._consumer.commit(message=message, asynchronous=False)
        return self.stats

    def _notices(self, message: Message) -> list[Notice]:
        kind = self._types[str(message.topic())]
        value: bytes = message.value()  # type: ignore[assignment]
        try:  # rejections are inbound events: one a message, or an SDK producer's batch envelope
            notices: list[Notice] = (list(decode_events(value, ModelRejected)) if kind is ModelRejected
                                     else [kind.model_validate_json(value)])  # type: ignore[list-item]
        except (DecodeError, ValidationError):
            notices = []
        if not notices:
            log.warning("skipping a message on %s that is not a %s", message.topic(), kind.__name__)
            self.stats.skipped += 1
        wanted = [n for n in notices if not (isinstance(n, DriftAlert) and n.severity == Severity.WARNING
                                             and self.min_severity == Severity.DRIFT)]
        self.stats.skipped += len(notices) - len(wanted)
        return wanted

    def _post_until_taken(self, notice: Notice, stop: Callable[[], bool] | None) -> None:
        body = json.dumps(payload(notice, self.format)).encode()
        backoff = 1.0
        while True:
            failure = self._post(body)
            if failure is None:
                self.stats.posted += 1
                return
            if stop is not None and stop():
                raise InterruptedError("stopped before the webhook took the event; it is sent again on restart")
            self.stats.retries += 1
            log.warning("the webhook did not take the event (%s); posting it again in %.0fs", failure, backoff)
            self.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff_seconds)

    def _post(self, body: bytes) -> str | None:
        request = urllib.request.Request(self.webhook, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                return None if 200 <= response.status < 300 else f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        self._consumer.close()


def payload(notice: Notice, format: Format) -> dict[str, object]:
    """JSON: the event and its type. Slack: one line of text an operator reads first."""
    if format == "json":
        return {"type": type(notice).__name__, "event": notice.model_dump(mode="json")}
    return {"text": summary(notice)}


def summary(notice: Notice) -> str:
    if isinstance(notice, DriftAlert):
        detail = f": {notice.detail}" if notice.detail else ""
        return (f"[{notice.severity.value}] {notice.model_id} v{notice.model_version}: {notice.kind.value} on "
                f"{notice.signal} ({notice.detector}) at event {notice.event_index}{detail} (alert {notice.alert_id})")
    if isinstance(notice, RetrainRequest):
        what = f"roll back to v{notice.rollback_to}" if notice.rollback_to else "retrain"
        return (f"[retrain] {notice.model_id} v{notice.model_version}: {what}, because of "
                f"{len(notice.reasons)} alert(s) (request {notice.request_id})")
    return (f"[rejected] {notice.model_id}: candidate v{notice.candidate_version} kept out, "
            f"v{notice.serving_version} still serves: {notice.reason} (request {notice.request_id})")
