"""`driftline worker` as a child process, configured through the environment as in production.

Used by `driftline demo` and by the integration tests, so both run the worker the way users do.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import Producer
from pydantic import SecretStr

from agents.keys import RedisKeys
from driftline.embedded import free_port
from driftline.redis_connect import sync_client
from driftline.settings import Settings
from schemas import ModelDeployed, encode_event

WORKER_START_TIMEOUT = 90.0


def child_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with every setting as its DRIFTLINE_* variable, secrets included:
    a child `driftline` command runs exactly as these settings say, whatever this process's own DRIFTLINE_*."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DRIFTLINE_")}
    for name, value in settings:
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"DRIFTLINE_{name.upper()}"] = str(value)
    return env


class WorkerProcess:
    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.web_port = free_port()  # several workers may run on one machine (tests, the demo)

    def environment(self) -> dict[str, str]:
        return {**child_environment(self.settings), "DRIFTLINE_WEB_PORT": str(self.web_port)}

    def start(self, *, wait_ready: bool = True) -> "WorkerProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "driftline.cli", "worker"],
                                            env=self.environment(), stdout=log, stderr=subprocess.STDOUT)
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = WORKER_START_TIMEOUT) -> None:
        """Ready once it has handled a probe deployment: it has joined the group and owns partitions."""
        probe = f"probe-{time.time_ns()}"
        producer = Producer(self.settings.kafka_producer_config())
        producer.produce(self.settings.topics.deployments, key=probe.encode(),
                         value=encode_event(ModelDeployed(model_id=probe, model_version="0", ts=time.time())))
        producer.flush(30)
        client = sync_client(self.settings)
        key = RedisKeys(self.settings.key_prefix).monitor(probe)
        deadline = time.monotonic() + timeout
        try:
            while not client.hexists(key, "snapshot"):
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"the worker exited with {self.process.returncode}; see {self.log_path}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the worker was not ready within {timeout}s; see {self.log_path}")
                time.sleep(0.2)
            client.delete(key)
            client.srem(RedisKeys(self.settings.key_prefix).models, probe)
        finally:
            client.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None
