"""Redis persistence of the worker: snapshots with the offsets they cover, the label join, windows,
the per-model outbox, counters. Key names are in agents/keys.py.

One batch costs two round trips: a pipeline that reads what the batch needs, and a MULTI/EXEC
transaction that writes everything the batch changed, so a crash leaves either all of it or none.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from agents.keys import WINDOW_HISTORY, WINDOW_TTL_SECONDS, RedisKeys
from agents.label_buffer import Key, LabelChanges
from detectors.monitor import PendingPrediction
from detectors.windows import WindowStats
from driftline.settings import Settings
from schemas.events import LabelEvent

Offsets = dict[str, int]


def partition_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


@dataclass
class OutboxItem:
    """A message owed to Kafka, persisted before it is sent.

    Stored in a hash under its id (alert_id or request_id): writing it twice, as a retried
    transaction might, leaves one entry, and `order` keeps the publishing order."""

    id: str
    order: int
    topic: str
    key: str
    value: str

    def encode(self) -> bytes:
        return json.dumps({"id": self.id, "order": self.order, "topic": self.topic, "key": self.key,
                           "value": self.value}).encode()

    @classmethod
    def decode(cls, raw: bytes) -> "OutboxItem":
        data = json.loads(raw)
        return cls(id=data["id"], order=data["order"], topic=data["topic"], key=data["key"], value=data["value"])


@dataclass(frozen=True)
class SavedModel:
    snapshot: bytes | None
    offsets: Offsets
    outbox: list[OutboxItem]


@dataclass
class ModelWrite:
    snapshot: bytes
    offsets: Offsets
    outbox: list[OutboxItem] = field(default_factory=list)
    windows: list[WindowStats] = field(default_factory=list)


@dataclass
class BatchWrite:
    models: dict[str, ModelWrite] = field(default_factory=dict)
    labels: LabelChanges = field(default_factory=LabelChanges)
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, by: int = 1) -> None:
        if by:
            self.counters[name] = self.counters.get(name, 0) + by


def redis_client(settings: Settings) -> "aioredis.Redis":
    return aioredis.Redis.from_url(settings.redis_url, **settings.redis_client_options(),
                                   socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)


class StateStore:
    def __init__(self, client: "aioredis.Redis", keys: RedisKeys, label_ttl_seconds: float) -> None:
        self.client = client
        self.keys = keys
        self.label_ttl_ms = max(1, int(label_ttl_seconds * 1000))

    async def load_models(self, model_ids: Iterable[str]) -> dict[str, SavedModel]:
        ids = list(model_ids)
        if not ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for model_id in ids:
            pipe.hmget(self.keys.monitor(model_id), ["snapshot", "offsets"])
            pipe.hvals(self.outbox_key(model_id))
        replies = await pipe.execute()
        saved = {}
        for i, model_id in enumerate(ids):
            snapshot, offsets = replies[2 * i]
            outbox = sorted((OutboxItem.decode(raw) for raw in replies[2 * i + 1]), key=lambda item: item.order)
            saved[model_id] = SavedModel(snapshot, json.loads(offsets) if offsets else {}, outbox)
        return saved

    async def load_labels(self, predictions: Iterable[Key], labels: Iterable[Key]
                          ) -> tuple[dict[Key, PendingPrediction], dict[Key, LabelEvent]]:
        """The waiting predictions that these labels need, and the early labels these predictions need."""
        wanted_predictions, wanted_labels = list(dict.fromkeys(predictions)), list(dict.fromkeys(labels))
        keys = [self.keys.pending(*k) for k in wanted_predictions] + [self.keys.early_label(*k) for k in wanted_labels]
        if not keys:
            return {}, {}
        values = await self.client.mget(keys)
        found_predictions = {k: PendingPrediction.model_validate_json(v)
                             for k, v in zip(wanted_predictions, values[: len(wanted_predictions)], strict=True) if v}
        found_labels = {k: LabelEvent.model_validate_json(v)
                        for k, v in zip(wanted_labels, values[len(wanted_predictions):], strict=True) if v}
        return found_predictions, found_labels

    async def commit(self, batch: BatchWrite) -> None:
        pipe = self.client.pipeline(transaction=True)
        for model_id, write in batch.models.items():
            pipe.hset(self.keys.monitor(model_id), mapping={"snapshot": write.snapshot,
                                                             "offsets": json.dumps(write.offsets)})
            pipe.sadd(self.keys.models, model_id)
            if write.outbox:
                pipe.hset(self.outbox_key(model_id), mapping={item.id: item.encode() for item in write.outbox})
            for stats in write.windows:
                key = self.keys.windows(model_id, stats.signal)
                pipe.lpush(key, stats.model_dump_json())
                pipe.ltrim(key, 0, WINDOW_HISTORY - 1)
                pipe.expire(key, WINDOW_TTL_SECONDS)
        labels = batch.labels
        for (model_id, event_id), pending in labels.predictions_held.items():
            pipe.set(self.keys.pending(model_id, event_id), pending.model_dump_json(), px=self.label_ttl_ms)
        for taken in labels.predictions_taken:
            pipe.delete(self.keys.pending(*taken))
        for (model_id, event_id), label in labels.labels_held.items():
            pipe.set(self.keys.early_label(model_id, event_id), label.model_dump_json(), px=self.label_ttl_ms)
        for taken in labels.labels_taken:
            pipe.delete(self.keys.early_label(*taken))
        for name, by in batch.counters.items():
            pipe.hincrby(self.keys.stats, name, by)
        await pipe.execute()

    def outbox_key(self, model_id: str) -> str:
        return f"{self.keys.outbox}:{model_id}"

    async def clear_outbox(self, sent: Iterable[tuple[str, str]]) -> None:
        """Forget outbox entries (model_id, item id) that Kafka has confirmed."""
        pipe = self.client.pipeline(transaction=False)
        for model_id, item_id in sent:
            pipe.hdel(self.outbox_key(model_id), item_id)
        if len(pipe):
            await pipe.execute()

    async def count(self, counters: dict[str, int]) -> None:
        if counters:
            pipe = self.client.pipeline(transaction=False)
            for name, by in counters.items():
                pipe.hincrby(self.keys.stats, name, by)
            await pipe.execute()
