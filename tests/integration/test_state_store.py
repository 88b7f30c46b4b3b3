"""The worker's Redis writes against a real server: fencing, idempotent retries, the label join, the
legacy key layout. No Kafka: these are the store's own guarantees."""

import json
from collections.abc import AsyncIterator

import pytest
import redis

from agents.keys import RedisKeys
from agents.label_buffer import LabelChanges
from agents.store import (
    LOST_ROLLED_BACK,
    LOST_VANISHED,
    BatchWrite,
    FencedError,
    ModelWrite,
    OutboxItem,
    StateStore,
)
from detectors.monitor import PendingPrediction
from detectors.windows import WindowStats
from driftline.redis_connect import async_client
from driftline.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(settings: Settings, redis_client: redis.Redis) -> AsyncIterator[StateStore]:
    client = async_client(settings)
    yield StateStore(client, RedisKeys(settings.key_prefix), label_ttl_seconds=60)
    await client.aclose()


def window(signal: str = "feature:x") -> WindowStats:
    return WindowStats(signal=signal, first_index=0, last_index=9, from_ts=0.0, to_ts=9.0, count=10, mean=0.5,
                       variance=0.1, bin_edges=[0.0, 1.0], histogram=[10], psi=0.0, ks_statistic=0.1, ks_p_value=0.9)


def write(generation: int, seq: str, snapshot: bytes, offset: int = 5) -> ModelWrite:
    return ModelWrite(snapshot=snapshot, offsets={"t:0": offset}, generation=generation, seq=seq,
                      outbox=[OutboxItem("a1", 0, "alerts", "m", "{}")], windows=[window()])


async def test_loading_a_model_claims_a_new_generation(store: StateStore) -> None:
    first = (await store.load_models(["m"]))["m"]
    second = (await store.load_models(["m"]))["m"]
    assert second.generation > first.generation
    assert first.snapshot is None and first.offsets == {} and first.outbox == []


async def test_a_write_of_a_worker_that_lost_the_model_is_refused_and_the_owners_state_kept(
        store: StateStore, redis_client: redis.Redis) -> None:
    old = (await store.load_models(["m"]))["m"].generation
    new = (await store.load_models(["m"]))["m"].generation  # a second worker claimed it
    await store.commit(BatchWrite(models={"m": write(new, "b.1", b"owner's state")}))
    with pytest.raises(FencedError) as refused:
        await store.commit(BatchWrite(models={"m": write(old, "a.1", b"zombie's state", offset=9)}))
    assert "m" in refused.value.refused and "FENCED" in refused.value.refused["m"]
    saved = (await store.load_models(["m"]))["m"]
    assert saved.snapshot == b"owner's state" and saved.offsets == {"t:0": 5}


async def test_other_models_of_a_batch_are_written_when_one_is_fenced(store: StateStore) -> None:
    loaded = await store.load_models(["m", "n"])
    await store.load_models(["m"])
    batch = BatchWrite(models={"m": write(loaded["m"].generation, "x.1", b"m"),
                               "n": write(loaded["n"].generation, "x.2", b"n")})
    with pytest.raises(FencedError) as refused:
        await store.commit(batch)
    assert set(refused.value.refused) == {"m"}
    assert (await store.load_models(["n"]))["n"].snapshot == b"n"


async def test_a_retried_write_is_applied_once(store: StateStore, redis_client: redis.Redis) -> None:
    generation = (await store.load_models(["m"]))["m"].generation
    batch = BatchWrite(models={"m": write(generation, "g.1", b"s")})
    await store.commit(batch)
    await store.commit(batch)  # the reply was lost and the worker tried again
    assert redis_client.llen(store.keys.windows("m", "feature:x")) == 1
    await store.commit(BatchWrite(models={"m": write(generation, "g.2", b"s2")}))
    assert redis_client.llen(store.keys.windows("m", "feature:x")) == 2


async def test_a_state_that_vanished_is_reclaimed_by_its_holder_and_reported_lost(
        store: StateStore, redis_client: redis.Redis) -> None:
    generation = (await store.load_models(["m"]))["m"].generation
    first = write(generation, "g.1", b"s1")
    assert (await store.commit(BatchWrite(models={"m": first}))).lost == {}
    redis_client.delete(store.keys.monitor("m"))  # FLUSHALL, as far as this model is concerned
    second = write(generation, "g.2", b"s2")
    second.expected_seq = "g.1"
    result = await store.commit(BatchWrite(models={"m": second}))
    assert result.lost == {"m": LOST_VANISHED}
    assert redis_client.hget(store.keys.monitor("m"), "snapshot") == b"s2"
    assert redis_client.hget(store.keys.monitor("m"), "generation") == str(generation).encode(), "re-claimed"


async def test_a_state_older_than_the_holders_last_write_is_overwritten_and_reported_rolled_back(
        store: StateStore, redis_client: redis.Redis) -> None:
    generation = (await store.load_models(["m"]))["m"].generation
    await store.commit(BatchWrite(models={"m": write(generation, "g.1", b"s1")}))
    snapshot_of_redis = redis_client.hgetall(store.keys.monitor("m"))
    later = write(generation, "g.2", b"s2")
    later.expected_seq = "g.1"
    assert (await store.commit(BatchWrite(models={"m": later}))).lost == {}
    redis_client.hset(store.keys.monitor("m"), mapping=snapshot_of_redis)  # restored from the older snapshot
    latest = write(generation, "g.3", b"s3")
    latest.expected_seq = "g.2"
    assert (await store.commit(BatchWrite(models={"m": latest}))).lost == {"m": LOST_ROLLED_BACK}
    assert redis_client.hget(store.keys.monitor("m"), "snapshot") == b"s3"


async def test_a_generation_claimed_after_a_rollback_is_above_every_generation_before_it(
        store: StateStore, redis_client: redis.Redis) -> None:
    before = (await store.load_models(["m"]))["m"].generation
    older = redis_client.hgetall(store.keys.monitor("m"))
    live = (await store.load_models(["m"]))["m"].generation  # the worker that owns it now
    redis_client.hset(store.keys.monitor("m"), mapping=older)  # Redis goes back to before that claim
    after = (await store.load_models(["m"]))["m"].generation
    assert after > live > before, "a counter would have handed the live worker's token out again"
    with pytest.raises(FencedError):
        await store.commit(BatchWrite(models={"m": write(live, "x.1", b"zombie")}))


async def test_a_commit_returns_each_partitions_progress_as_it_was_before(
        store: StateStore, redis_client: redis.Redis) -> None:
    assert (await store.commit(BatchWrite(progress={"t:0": 9}))).progress_before == {"t:0": None}
    result = await store.commit(BatchWrite(progress={"t:0": 20, "t:1": 3}))
    assert result.progress_before == {"t:0": 9, "t:1": None}
    assert await store.load_progress(["t:0", "t:1", "t:2"]) == {"t:0": 20, "t:1": 3, "t:2": None}


async def test_progress_that_went_back_is_not_advanced_over_until_the_writer_expects_it(
        store: StateStore, redis_client: redis.Redis) -> None:
    await store.commit(BatchWrite(progress={"t:0": 9}))
    redis_client.hset(store.keys.progress, "t:0", 4)  # restored from an older snapshot
    result = await store.commit(BatchWrite(progress={"t:0": 20}, progress_expected={"t:0": 9}))
    assert result.progress_before == {"t:0": 4}
    assert await store.load_progress(["t:0"]) == {"t:0": 4}, "kept for the re-read, even if the writer dies now"
    await store.commit(BatchWrite(progress={"t:0": 12}, progress_expected={"t:0": 4}))  # the re-read's first part
    assert await store.load_progress(["t:0"]) == {"t:0": 12}


async def test_put_back_restores_a_model_as_it_was_loaded(store: StateStore, redis_client: redis.Redis) -> None:
    loaded = (await store.load_models(["m"]))["m"]
    await store.commit(BatchWrite(models={"m": write(loaded.generation, "g.1", b"s1")}))
    await store.put_back("m", loaded)
    again = (await store.load_models(["m"]))["m"]
    assert (again.snapshot, again.offsets, again.seq) == (None, {}, "")


async def test_the_label_join_is_written_with_its_models_state(store: StateStore, redis_client: redis.Redis) -> None:
    generation = (await store.load_models(["m"]))["m"].generation
    pending = PendingPrediction(event_id="e1", model_version="1", event_index=0, generation=0, ts=1.0,
                                prediction=1.0)
    redis_client.set(store.keys.early_label("m", "e0"), b"{}")
    labels = LabelChanges(predictions_held={("m", "e1"): pending}, labels_taken={("m", "e0")})
    await store.commit(BatchWrite(models={"m": write(generation, "g.1", b"s")}, labels=labels,
                                  counters={"events:t": 2}))
    found, _ = await store.load_labels([("m", "e1")], [])
    assert found == {("m", "e1"): pending}
    assert not redis_client.exists(store.keys.early_label("m", "e0"))
    assert 0 < redis_client.pttl(store.keys.pending("m", "e1")) <= 60_000
    assert redis_client.hget(store.keys.stats, "events:t") == b"2"
    assert redis_client.sismember(store.keys.models, "m")
    assert json.loads(redis_client.hget(store.keys.outbox("m"), "a1"))["id"] == "a1"  # type: ignore[arg-type]


async def test_label_changes_of_a_model_without_a_write_are_refused(store: StateStore) -> None:
    labels = LabelChanges(labels_taken={("m", "e0")})
    with pytest.raises(ValueError, match="without a write"):
        await store.commit(BatchWrite(labels=labels))


async def test_keys_of_the_first_layout_are_renamed_once(store: StateStore, redis_client: redis.Redis) -> None:
    p = store.keys.prefix
    redis_client.sadd(f"{p}models", "a", "a:b")
    redis_client.hset(f"{p}monitor:a", mapping={"snapshot": b"A", "offsets": "{}"})
    redis_client.hset(f"{p}monitor:a:b", mapping={"snapshot": b"AB", "offsets": "{}"})
    redis_client.hset(f"{p}outbox:a", "id", b"{}")
    redis_client.set(f"{p}pending:a:b:e1", b"{}")
    redis_client.set(f"{p}pending:a:e:2", b"{}")
    redis_client.lpush(f"{p}windows:a:feature:x", b"{}")

    assert await store.migrate_legacy_layout() == 6
    assert redis_client.hget(store.keys.monitor("a"), "snapshot") == b"A"
    assert redis_client.hget(store.keys.monitor("a:b"), "snapshot") == b"AB"
    assert redis_client.exists(store.keys.outbox("a"), store.keys.pending("a:b", "e1"), store.keys.pending("a", "e:2"),
                               store.keys.windows("a", "feature:x")) == 4
    assert not redis_client.exists(f"{p}monitor:a", f"{p}pending:a:b:e1")
    redis_client.hset(f"{p}monitor:late", "snapshot", b"L")
    assert await store.migrate_legacy_layout() == 0, "done once: the layout marker is set"
