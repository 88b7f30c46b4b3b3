"""Redis persistence of the worker: snapshots with the offsets they cover, the label join, windows
(of signals, and of performance), the per-model outbox, counters. Key names are in agents/keys.py.

One batch costs two round trips: a pipeline that reads what the batch needs, and a pipeline that
writes it. Each model's part of the write is one Lua script over keys of one hash slot, so it is
atomic on a single server and on a Redis Cluster alike, and the script refuses it unless this
worker still owns the model (fencing):

- Loading a model claims it: the monitor hash's `generation` becomes the larger of its old value
  plus one and the server's clock in microseconds, and that is the loader's token. A later loader
  (the partition's next owner, or a second worker fed the same model through another partition)
  takes a higher one, and every write still carrying the old token is refused with FENCED. The
  refused worker reloads the model and applies its batch to what the other wrote, so neither
  overwrites the other. The clock keeps tokens rising across a Redis restored from an older
  snapshot, where a counter would hand a live worker's token to the next loader.
- Every write carries a `seq` unique to it; a write whose `seq` is already stored was applied
  before (a retry after a lost reply) and is not applied twice.
- A write also says which `seq` it expects to find (the one this worker loaded or last wrote). A
  model whose keys are gone (Redis emptied) or whose generation or `seq` is older than the writer's
  (Redis restored from a snapshot) lost state, not its owner: the write goes through, re-claiming
  it with the worker's state, and is reported as LOST_VANISHED or LOST_ROLLED_BACK
  (agents/recovery.py then re-reads what the other models may have lost).
- `progress` holds, per partition, the last offset of the last saved batch. Its value before each
  write comes back, so a partition whose progress went back is seen even where no cached model
  touched it. A write advances it only from the value the writer expects (the one it last wrote),
  so progress that went back stays back, in Redis, until the lost range has been read again: a
  worker that crashes before then leaves its successor the same offset to re-read from.

Counters (`stats`) and the `models` set are shared by models, so they are written beside the
scripts, not inside them: they are operational counts and may over-count a batch that was retried.
"""

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from agents.keys import LAYOUT_VERSION, WINDOW_HISTORY, WINDOW_TTL_SECONDS, LegacyKeys, RedisKeys
from agents.label_buffer import Key, LabelChanges
from detectors.monitor import PENDING, PendingPrediction
from detectors.performance import PerformanceWindow
from detectors.windows import WindowStats
from driftline.redis_connect import AsyncClient, async_client
from driftline.settings import Settings
from schemas.events import LabelEvent
from schemas.lineage_log import LINEAGE_HISTORY, DeploymentEntry, RequestEntry

Offsets = dict[str, int]
T = TypeVar("T")

FENCED = "FENCED"

CLAIM_MODEL = """
local now = redis.call('TIME')
local clock = tonumber(now[1]) * 1000000 + tonumber(now[2])
local stored = tonumber(redis.call('HGET', KEYS[1], 'generation') or '0')
local token = math.max(stored + 1, clock)
redis.call('HSET', KEYS[1], 'generation', string.format('%.0f', token))
return string.format('%.0f', token)
"""

COMMIT_MODEL = """
local generation = redis.call('HGET', KEYS[1], 'generation')
local lost = 1
if not generation then
  lost = 2
elseif tonumber(generation) > tonumber(ARGV[1]) then
  return redis.error_reply('FENCED model state is now owned by generation ' .. tostring(generation) ..
                           ', this writer holds ' .. ARGV[1])
elseif tonumber(generation) < tonumber(ARGV[1]) then
  lost = 3
end
local seq = redis.call('HGET', KEYS[1], 'seq')
if seq and seq == ARGV[2] then
  return 0
end
if lost == 1 and ARGV[6] ~= '*' and (seq or '') ~= ARGV[6] then
  lost = 3
end
redis.call('HSET', KEYS[1], 'generation', ARGV[1], 'snapshot', ARGV[3], 'offsets', ARGV[4], 'seq', ARGV[2])
local ops = cjson.decode(ARGV[5])
for _, item in ipairs(ops.outbox) do
  redis.call('HSET', KEYS[2], item[1], item[2])
end
for _, window in ipairs(ops.windows) do
  local key = KEYS[window[1]]
  redis.call('LPUSH', key, window[2])
  redis.call('LTRIM', key, 0, ops.history - 1)
  redis.call('EXPIRE', key, ops.window_ttl)
end
for _, entry in ipairs(ops.lineage) do
  redis.call('LPUSH', KEYS[entry[1]], entry[2])
  redis.call('LTRIM', KEYS[entry[1]], 0, ops.lineage_history - 1)
end
for _, held in ipairs(ops.hold) do
  redis.call('SET', KEYS[held[1]], held[2], 'PX', ops.label_ttl_ms)
end
for _, index in ipairs(ops.drop) do
  redis.call('DEL', KEYS[index])
end
return lost
"""

ADVANCE_PROGRESS = """
local before = {}
for i = 1, #ARGV, 3 do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  before[#before + 1] = old or ''
  if ARGV[i + 2] == '*' or old == ARGV[i + 2] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return before
"""

PUT_BACK_MODEL = """
if ARGV[1] == '' then
  redis.call('HDEL', KEYS[1], 'snapshot', 'offsets', 'seq')
else
  redis.call('HSET', KEYS[1], 'snapshot', ARGV[1], 'offsets', ARGV[2], 'seq', ARGV[3])
end
return 1
"""

LOST_VANISHED = "vanished"
LOST_ROLLED_BACK = "rolled back"
_LOST_REPLIES = {2: LOST_VANISHED, 3: LOST_ROLLED_BACK}


class FencedError(Exception):
    """Another worker claimed these models since this one loaded them: their writes were refused."""

    def __init__(self, refused: dict[str, str]) -> None:
        super().__init__("; ".join(f"{model}: {why}" for model, why in refused.items()))
        self.refused = refused


@dataclass
class OutboxItem:
    """A message owed to Kafka, persisted before it is sent.

    Stored in a hash under its id (alert_id or request_id): writing it twice, as a retried
    write might, leaves one entry, and `order` keeps the publishing order."""

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
    generation: int  # the owner token this load claimed
    seq: str = ""  # id of the write this state came from ("" where none was saved)


@dataclass
class ModelWrite:
    snapshot: bytes
    offsets: Offsets
    generation: int
    seq: str
    outbox: list[OutboxItem] = field(default_factory=list)
    windows: list[WindowStats] = field(default_factory=list)
    performance: list[PerformanceWindow] = field(default_factory=list)
    lineage: list[RequestEntry | DeploymentEntry] = field(default_factory=list)
    expected_seq: str | None = None  # the seq this writer loaded or last wrote; None: not checked


@dataclass
class BatchWrite:
    models: dict[str, ModelWrite] = field(default_factory=dict)
    labels: LabelChanges = field(default_factory=LabelChanges)
    counters: dict[str, int] = field(default_factory=dict)
    progress: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> last offset of the batch
    progress_expected: dict[str, int] = field(default_factory=dict)  # the progress the writer last wrote there

    def count(self, name: str, by: int = 1) -> None:
        if by:
            self.counters[name] = self.counters.get(name, 0) + by


@dataclass(frozen=True)
class CommitResult:
    """What a commit found in Redis besides what it wrote: state that was lost before it."""

    lost: dict[str, str] = field(default_factory=dict)  # model -> LOST_VANISHED or LOST_ROLLED_BACK
    progress_before: dict[str, int | None] = field(default_factory=dict)  # partition -> saved offset, or none


def redis_client(settings: Settings) -> AsyncClient:
    return async_client(settings, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)


class StateStore:
    def __init__(self, client: AsyncClient, keys: RedisKeys, label_ttl_seconds: float) -> None:
        self.client = client
        self.keys = keys
        self.label_ttl_ms = max(1, int(label_ttl_seconds * 1000))
        self._shas: dict[str, str] = {}

    @property
    def is_cluster(self) -> bool:
        return isinstance(self.client, AsyncRedisCluster)

    async def load_models(self, model_ids: Iterable[str]) -> dict[str, SavedModel]:
        """Claim each model (a new owner generation) and read its state, in one round trip."""
        ids = list(model_ids)
        if not ids:
            return {}

        async def run() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for model_id in ids:
                self._script(pipe, CLAIM_MODEL, [self.keys.monitor(model_id)], [])
                pipe.hmget(self.keys.monitor(model_id), ["snapshot", "offsets", "seq"])
                pipe.hvals(self.keys.outbox(model_id))
            return await self._execute(pipe)

        replies = await self._with_scripts(run)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        saved = {}
        for i, model_id in enumerate(ids):
            generation, (snapshot, offsets, seq), outbox_values = replies[3 * i: 3 * i + 3]
            outbox = sorted((OutboxItem.decode(raw) for raw in outbox_values), key=lambda item: item.order)
            saved[model_id] = SavedModel(snapshot, json.loads(offsets) if offsets else {}, outbox, int(generation),
                                         _text(seq))
        return saved

    async def load_progress(self, partitions: Iterable[str]) -> dict[str, int | None]:
        """The last saved offset of each partition ("topic:partition"), None where Redis holds none."""
        wanted = list(partitions)
        if not wanted:
            return {}
        values = await self.client.hmget(self.keys.progress, wanted)
        return {tp: None if value is None else int(value) for tp, value in zip(wanted, values, strict=True)}

    async def put_back(self, model_id: str, saved: SavedModel) -> None:
        """Write a model's state back as it was loaded (none: its snapshot and offsets are removed), keeping
        the generation. For a model loaded just before Redis was found to have lost state: the batch
        applied on top of it missed what was lost, so it is re-read from the loaded state's offsets."""
        offsets = json.dumps(saved.offsets)
        await self._with_scripts(lambda: self._run_one(PUT_BACK_MODEL, [self.keys.monitor(model_id)],
                                                       [saved.snapshot or b"", offsets, saved.seq]))

    async def _run_one(self, script: str, keys: list[str], args: list[Any]) -> Any:
        pipe = self.client.pipeline(transaction=False)
        self._script(pipe, script, keys, args)
        reply = (await self._execute(pipe))[0]
        if isinstance(reply, Exception):
            raise reply
        return reply

    def _script(self, pipe: Any, script: str, keys: list[str], args: list[Any]) -> None:
        # execute_command, not pipe.evalsha: redis-py's cluster pipeline blocks the method, not the command
        pipe.execute_command("EVALSHA", self._shas[script], len(keys), *keys, *args)

    async def _with_scripts(self, run: Callable[[], Awaitable[T]]) -> T:
        """Run a pipeline that calls scripts, loading them first, and again if the server forgot them
        (a restarted or failed-over server)."""
        if len(self._shas) < len(_SCRIPTS):
            await self._load_scripts()
        try:
            return await run()
        except redis.exceptions.NoScriptError:
            await self._load_scripts()
            return await run()

    async def _load_scripts(self) -> None:
        for script in _SCRIPTS:
            self._shas[script] = await self.client.script_load(script)

    @staticmethod
    async def _execute(pipe: Any) -> list[Any]:
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, redis.exceptions.NoScriptError):
                raise reply
        return replies

    async def load_labels(self, predictions: Iterable[Key], labels: Iterable[Key]
                          ) -> tuple[dict[Key, PendingPrediction], dict[Key, LabelEvent]]:
        """The waiting predictions that these labels need, and the early labels these predictions need.

        One MGET per model: a model's keys share its hash slot, so this holds on a cluster too, and a
        command per key cost the worker more than the rest of a label's join."""
        wanted_predictions, wanted_labels = list(dict.fromkeys(predictions)), list(dict.fromkeys(labels))
        wanted = [(k, self.keys.pending(*k)) for k in wanted_predictions] + [
            (k, self.keys.early_label(*k)) for k in wanted_labels]
        if not wanted:
            return {}, {}
        by_model: dict[str, list[int]] = {}
        for at, ((model_id, _), _) in enumerate(wanted):
            by_model.setdefault(model_id, []).append(at)
        pipe = self.client.pipeline(transaction=False)
        for positions in by_model.values():  # execute_command: redis-py's cluster pipeline blocks pipe.mget
            pipe.execute_command("MGET", *[wanted[at][1] for at in positions])
        values: list[bytes | None] = [None] * len(wanted)
        for positions, found in zip(by_model.values(), await pipe.execute(), strict=True):
            for at, value in zip(positions, found, strict=True):
                values[at] = value
        split = len(wanted_predictions)
        found_predictions = {k: PENDING.validate_json(v)
                             for k, v in zip(wanted_predictions, values[:split], strict=True) if v}
        found_labels = {k: LabelEvent.model_validate_json(v)
                        for k, v in zip(wanted_labels, values[split:], strict=True) if v}
        return found_predictions, found_labels

    async def commit(self, batch: BatchWrite) -> CommitResult:
        """Write every model's part atomically (one script each), then the partitions' progress and the
        shared counters; says which models' state, and which partitions' progress, Redis had lost.

        Raises FencedError, after the other models were written, when some model is owned by
        another worker now; any other error is raised as it came (the caller retries: each
        model's write is idempotent)."""
        labels = _labels_by_model(batch.labels, self.keys)
        unowned = labels.keys() - batch.models.keys()
        if unowned:
            raise ValueError(f"label changes for models without a write: {sorted(unowned)}")
        replies = await self._with_scripts(lambda: self._run_commit(batch, labels))
        refused: dict[str, str] = {}
        lost: dict[str, str] = {}
        for model_id, reply in zip(batch.models, replies, strict=False):
            if isinstance(reply, redis.exceptions.ResponseError) and str(reply).startswith(FENCED):
                refused[model_id] = str(reply)
            elif isinstance(reply, Exception):
                raise reply
            elif reply in _LOST_REPLIES:
                lost[model_id] = _LOST_REPLIES[reply]
        rest = replies[len(batch.models):]
        for reply in rest:
            if isinstance(reply, Exception):
                raise reply
        progress_before: dict[str, int | None] = {}
        if batch.progress:
            before = rest[1 if batch.models else 0]
            progress_before = {tp: int(value) if value else None
                               for tp, value in zip(batch.progress, before, strict=True)}
        if refused:
            raise FencedError(refused)
        return CommitResult(lost, progress_before)

    async def _run_commit(self, batch: BatchWrite, labels: dict[str, "_ModelLabels"]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for model_id, write in batch.models.items():
            keys, args = self._model_script_call(model_id, write, labels.get(model_id))
            self._script(pipe, COMMIT_MODEL, keys, args)
        if batch.models:
            pipe.sadd(self.keys.models, *batch.models)
        if batch.progress:
            self._script(pipe, ADVANCE_PROGRESS, [self.keys.progress],
                         [part for tp, offset in batch.progress.items()
                          for part in (tp, offset, batch.progress_expected.get(tp, "*"))])
        for name, by in batch.counters.items():
            pipe.hincrby(self.keys.stats, name, by)
        return await self._execute(pipe)

    def _model_script_call(self, model_id: str, write: ModelWrite, labels: "_ModelLabels | None"
                           ) -> tuple[list[str], list[bytes | str | int]]:
        keys = [self.keys.monitor(model_id), self.keys.outbox(model_id)]

        def index_of(key: str) -> int:
            keys.append(key)
            return len(keys)  # Lua's KEYS is 1-based

        ops: dict[str, Any] = {
            "outbox": [[item.id, item.encode().decode()] for item in write.outbox],
            "windows": [[index_of(self.keys.windows(model_id, s.signal)), s.model_dump_json()] for s in write.windows]
            + [[index_of(self.keys.performance(model_id)), p.model_dump_json()] for p in write.performance],
            "lineage": [[index_of(self.keys.lineage(model_id)), e.model_dump_json()] for e in write.lineage],
            "hold": [], "drop": [], "lineage_history": LINEAGE_HISTORY,
            "history": WINDOW_HISTORY, "window_ttl": WINDOW_TTL_SECONDS, "label_ttl_ms": self.label_ttl_ms,
        }
        if labels is not None:
            ops["hold"] = [[index_of(key), value] for key, value in labels.hold]
            ops["drop"] = [index_of(key) for key in labels.drop]
        expected = "*" if write.expected_seq is None else write.expected_seq
        args: list[bytes | str | int] = [str(write.generation), write.seq, write.snapshot,
                                         json.dumps(write.offsets), json.dumps(ops), expected]
        return keys, args

    async def clear_outbox(self, sent: Iterable[tuple[str, str]]) -> None:
        """Forget outbox entries (model_id, item id) that Kafka has confirmed."""
        pipe = self.client.pipeline(transaction=False)
        for model_id, item_id in sent:
            pipe.hdel(self.keys.outbox(model_id), item_id)
        if len(pipe):
            await pipe.execute()

    async def migrate_legacy_layout(self) -> int:
        """Rename keys of the first layout (no hash tags) to the current one; returns how many moved.

        Runs at every worker start and costs one GET once done. The first layout never ran on a
        cluster, so a cluster has nothing to migrate. Stop workers of the old version first: one
        still running would keep writing the old names."""
        if self.is_cluster or await self.client.get(self.keys.layout) == LAYOUT_VERSION.encode():
            return 0
        legacy = LegacyKeys(self.keys.prefix)
        moved = 0
        members = await self.client.smembers(self.keys.models)
        models = sorted((m.decode() if isinstance(m, bytes) else m for m in members), key=len, reverse=True)
        for model_id in models:  # longest first: "a:b"'s keys also match model "a"'s patterns
            found = [key for key in legacy.singles(model_id) if await self.client.exists(key)]
            for pattern in legacy.patterns(model_id):
                found += [key.decode() async for key in self.client.scan_iter(match=pattern, count=1000)]
            for key in found:
                moved += int(await self.client.renamenx(key, legacy.renamed(key, model_id, self.keys)))
        await self.client.set(self.keys.layout, LAYOUT_VERSION)
        return moved


@dataclass
class _ModelLabels:
    """One model's share of a batch's label-join changes, as Redis keys."""

    hold: list[tuple[str, str]] = field(default_factory=list)  # (key, JSON value) to set with the label TTL
    drop: list[str] = field(default_factory=list)


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


_SCRIPTS = (CLAIM_MODEL, COMMIT_MODEL, ADVANCE_PROGRESS, PUT_BACK_MODEL)


def _labels_by_model(changes: LabelChanges, keys: RedisKeys) -> dict[str, _ModelLabels]:
    by_model: dict[str, _ModelLabels] = {}

    def of(model_id: str) -> _ModelLabels:
        return by_model.setdefault(model_id, _ModelLabels())

    for (model_id, event_id), pending in changes.predictions_held.items():
        of(model_id).hold.append((keys.pending(model_id, event_id), PENDING.dump_json(pending).decode()))
    for model_id, event_id in changes.predictions_taken:
        of(model_id).drop.append(keys.pending(model_id, event_id))
    for (model_id, event_id), label in changes.labels_held.items():
        of(model_id).hold.append((keys.early_label(model_id, event_id), label.model_dump_json()))
    for model_id, event_id in changes.labels_taken:
        of(model_id).drop.append(keys.early_label(model_id, event_id))
    return by_model
