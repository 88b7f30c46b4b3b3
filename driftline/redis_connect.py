"""Redis clients for every part of driftline, from one URL: a single server or a Redis Cluster.

`redis://` and `rediss://` (TLS) name one server; `redis+cluster://` and `rediss+cluster://` name a
cluster by one or more of its nodes (`redis+cluster://user:pass@node1:7000,node2:7001`), from which
the client learns the rest. Every key of one model carries the model's hash tag (agents/keys.py), so
a model's writes stay in one slot and one transaction whichever form is used.
"""

from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import ClusterNode, RedisCluster

from driftline.settings import Settings

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

SyncClient = redis.Redis | RedisCluster
AsyncClient = aioredis.Redis | AsyncRedisCluster


@dataclass(frozen=True)
class RedisTarget:
    """What a DRIFTLINE_REDIS_URL names: a plain redis-py URL and, for a cluster, its other seed nodes."""

    url: str
    cluster: bool
    more_nodes: tuple[tuple[str, int], ...] = ()


def parse_redis_url(url: str) -> RedisTarget:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"Redis URL {url!r} has no scheme (expected redis://, rediss:// or redis+cluster://)")
    plain_scheme = CLUSTER_SCHEMES.get(scheme.lower())
    if plain_scheme is None:
        return RedisTarget(url=url, cluster=False)
    auth, at, hosts_and_tail = rest.rpartition("@")
    hosts, slash, tail = hosts_and_tail.partition("/")
    nodes = [h.strip() for h in hosts.split(",") if h.strip()]
    if not nodes:
        raise ValueError("a redis+cluster:// URL needs at least one host:port")
    more = []
    for node in nodes[1:]:
        host, _, port = node.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"cluster node {node!r} is not host:port")
        more.append((host, int(port)))
    if tail.split("?")[0] not in ("", "0"):
        raise ValueError("Redis Cluster has only database 0; drop the /N from the URL")
    first = f"{plain_scheme}://{auth}{at}{nodes[0]}{slash}{tail}"
    return RedisTarget(url=first, cluster=True, more_nodes=tuple(more))


def sync_client(settings: Settings, **options: Any) -> SyncClient:
    """A blocking client (CLI, SDK, trainer): one server or a cluster, as the URL says."""
    target = parse_redis_url(settings.redis_url)
    options = {**settings.redis_client_options(), **options}
    if not target.cluster:
        return redis.Redis.from_url(target.url, **options)
    nodes = [ClusterNode(host, port) for host, port in target.more_nodes]  # type: ignore[no-untyped-call]
    return RedisCluster.from_url(target.url, startup_nodes=nodes or None, **options)


def async_client(settings: Settings, **options: Any) -> AsyncClient:
    """An asyncio client (the worker)."""
    target = parse_redis_url(settings.redis_url)
    options = {**settings.redis_client_options(), **options}
    if not target.cluster:
        return aioredis.Redis.from_url(target.url, **options)
    options.pop("health_check_interval", None)  # per-connection option the cluster client does not take
    nodes = [AsyncClusterNode(host, port) for host, port in target.more_nodes]
    return AsyncRedisCluster.from_url(target.url, startup_nodes=nodes or None, **options)
