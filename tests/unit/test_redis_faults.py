"""Pure parts of fault handling: the Redis URL forms, error text safe to log, legacy key names."""

import pytest
import redis

from agents.keys import LegacyKeys, RedisKeys
from agents.processor import _is_transient, describe_error
from driftline.redis_connect import parse_redis_url
from driftline.settings import Settings


def test_a_plain_redis_url_names_one_server() -> None:
    target = parse_redis_url("rediss://u:p@host:6380/2")
    assert not target.cluster and target.url == "rediss://u:p@host:6380/2"


def test_a_cluster_url_names_its_seed_nodes() -> None:
    target = parse_redis_url("redis+cluster://user:secret@n1:7000,n2:7001,n3:7002")
    assert target.cluster
    assert target.url == "redis://user:secret@n1:7000"
    assert target.more_nodes == (("n2", 7001), ("n3", 7002))
    assert parse_redis_url("rediss+cluster://n1:7000").url == "rediss://n1:7000"


def test_a_cluster_url_with_a_database_other_than_0_is_refused() -> None:
    with pytest.raises(ValueError, match="only database 0"):
        parse_redis_url("redis+cluster://n1:7000/3")


def test_producers_partition_with_murmur2_like_java_and_faust() -> None:
    assert Settings().kafka_producer_config()["partitioner"] == "murmur2_random"


def test_an_error_is_described_without_the_pipeline_command_redis_py_quotes() -> None:
    snapshot = b"\x80\x04SECRET-SNAPSHOT-BYTES" * 40
    exc = redis.exceptions.OutOfMemoryError(
        f"Command # 1 (EVALSHA abc 7 k1 k2 1 1.x {snapshot!r}) of pipeline caused error: "
        "command not allowed when used memory > 'maxmemory'.")
    text = describe_error(exc)
    assert text == "OutOfMemoryError: command not allowed when used memory > 'maxmemory'."
    assert "SECRET" not in describe_error(redis.exceptions.ResponseError("x" * 5_000 + "SECRET"))


def test_lost_connections_are_waited_out_quietly_but_server_errors_are_not() -> None:
    assert _is_transient(redis.ConnectionError("refused"))
    assert _is_transient(redis.TimeoutError("slow"))
    assert not _is_transient(redis.exceptions.OutOfMemoryError("OOM"))
    assert not _is_transient(redis.exceptions.ReadOnlyError("READONLY"))
    assert not _is_transient(redis.exceptions.MovedError("3999 127.0.0.1:7001"))
    assert not _is_transient(redis.exceptions.NoPermissionError("NOPERM"))
    assert not _is_transient(redis.AuthenticationError("WRONGPASS"))


def test_every_key_of_a_model_carries_its_hash_tag() -> None:
    keys = RedisKeys("p:")
    names = [keys.monitor("m:1"), keys.outbox("m:1"), keys.pending("m:1", "e"), keys.early_label("m:1", "e"),
             keys.windows("m:1", "feature:x")]
    assert all("{m:1}" in name and name.startswith("p:") for name in names)


def test_legacy_keys_map_to_their_hash_tagged_names() -> None:
    legacy, keys = LegacyKeys("p:"), RedisKeys("p:")
    assert legacy.renamed("p:monitor:a:b", "a:b", keys) == keys.monitor("a:b")
    assert legacy.renamed("p:pending:a:b:e:1", "a:b", keys) == keys.pending("a:b", "e:1")
    assert legacy.renamed("p:windows:a:feature:x", "a", keys) == keys.windows("a", "feature:x")
    assert legacy.patterns("a*")[0] == "p:pending:a\\*:*"
