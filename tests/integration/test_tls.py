"""Kafka over real TLS: a test CA, stunnel in front of a private Tansu, every driftline client through it.

The SDK producer, the worker, a subscriber, a trainer and the CLI all connect with
DRIFTLINE_KAFKA_SECURITY_PROTOCOL=SSL and the test CA; a client given another CA fails with an
error that says the certificate was not trusted.
"""

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftline.embedded import EmbeddedBroker, EmbeddedRedis, free_port
from driftline.kafka_admin import ensure_topics
from driftline.sdk import EventProducer, Subscriber, TrainedModel, Trainer
from driftline.settings import Settings
from driftline.worker_process import WorkerProcess, child_environment
from schemas import DriftAlert, ModelDeployed, RetrainRequest
from tests.live import monitor_state, wait_until
from tests.streams import error_bits
from tests.tls import Stunnel, make_ca, make_server_cert, tls_tools_missing

pytestmark = pytest.mark.integration


@dataclass
class TlsSite:
    settings: Settings
    wrong_ca: Path


@pytest.fixture(scope="module")
def tls_site(redis_service: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsSite]:
    missing = tls_tools_missing()
    if missing:
        pytest.skip(f"Kafka TLS test skipped: {missing}")
    directory = tmp_path_factory.mktemp("tls")
    ca = make_ca(directory, "driftline-test-ca")
    wrong_ca = make_ca(directory / "other", "someone-else-ca")
    cert, key = make_server_cert(ca, directory)
    tls_port = free_port()
    with EmbeddedBroker(advertised_port=tls_port) as broker:
        stunnel = Stunnel(tls_port, broker.port, cert, key, directory).start()
        prefix = f"tls{uuid.uuid4().hex[:8]}"
        settings = Settings(broker=f"kafka://127.0.0.1:{tls_port}", redis_url=redis_service.url,
                            topic_prefix=f"{prefix}.", key_prefix=f"{prefix}:", kafka_security_protocol="SSL",
                            kafka_ssl_cafile=ca, kafka_session_timeout_seconds=6.0, state_key="tls-state-key")
        try:
            ensure_topics(settings, settings.topics.all(), partitions=settings.partitions)
            yield TlsSite(settings, wrong_ca)
        finally:
            stunnel.stop()


def test_producer_worker_subscriber_trainer_and_cli_all_work_through_tls(tls_site: TlsSite, tmp_path: Path) -> None:
    settings = tls_site.settings
    model_id = "tls-model"
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()  # its readiness probe also crosses TLS
    stop = threading.Event()
    trainer = Trainer(lambda request: TrainedModel(model_version="2"), settings, group_id="tls-trainer",
                      model_ids={model_id})
    serving = threading.Thread(target=trainer.run, kwargs={"stop": stop.is_set}, daemon=True)
    serving.start()
    subscriber = Subscriber(settings, group_id="tls-watch", streams=("alerts", "retrain", "deployments"),
                            from_beginning=True)
    try:
        with EventProducer(settings) as producer:
            for i, bit in enumerate(error_bits()):
                producer.log_prediction(model_id, "1", {}, prediction="a", label="b" if bit else "a",
                                        event_id=f"e{i}", ts=float(i))
        assert producer.stats.snapshot()["failed"] == 0
        kinds: set[type] = set()
        for event in subscriber.events(timeout=120):
            if event.model_id == model_id:
                kinds.add(type(event))
            if kinds == {DriftAlert, RetrainRequest, ModelDeployed}:
                break
        assert kinds == {DriftAlert, RetrainRequest, ModelDeployed}, "alert, request and deployment crossed TLS"
        wait_until(lambda: (state := monitor_state(settings, model_id)) is not None and state.model_version == "2",
                   timeout=60, what="the worker applying the deployment it read over TLS")

        cli = subprocess.run([sys.executable, "-m", "driftline.cli", "tail", "alerts", "--from-beginning",
                              "--max", "1", "--timeout", "60"], env=child_environment(settings),
                             capture_output=True, text=True, timeout=120)
        assert cli.returncode == 0, cli.stderr
        assert DriftAlert.model_validate_json(cli.stdout.splitlines()[0]).model_id == model_id
    finally:
        stop.set()
        serving.join(10)
        trainer.close()
        subscriber.close()
        worker.stop()


def test_a_client_that_does_not_trust_the_brokers_certificate_says_so(tls_site: TlsSite) -> None:
    wrong = tls_site.settings.model_copy(update={"kafka_ssl_cafile": tls_site.wrong_ca})
    cli = subprocess.run([sys.executable, "-m", "driftline.cli", "tail", "alerts", "--max", "1", "--timeout", "20"],
                         env=child_environment(wrong), capture_output=True, text=True, timeout=120)
    assert cli.returncode != 0
    assert "certificate verify failed" in cli.stderr
    assert "Traceback" not in cli.stderr
