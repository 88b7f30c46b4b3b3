"""The broker away for 30 s, then Redis away for 30 s, while services keep producing.

The worker must keep running (same process), wait with backoff, resume, and end with exactly the
backtest's alerts and every event counted once; the SDK producer must stay within its bounds and
report what it could not deliver. A private broker, Redis and worker: the session's are shared.
"""

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from detectors.config import MonitoringConfig
from driftline.backtest import run_backtest
from driftline.embedded import EmbeddedBroker, free_port
from driftline.kafka_admin import ensure_topics
from driftline.sdk import DeliveryFailure, EventProducer, ProducerConfig
from driftline.settings import Settings
from schemas import DriftAlert, PredictionEvent
from tests.live import WorkerProcess, collect, http_get, metric_samples, wait_for_events, wait_until
from tests.outages import DurableRedis, TcpGate
from tests.streams import two_regimes

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 30.0


@dataclass
class Site:
    gate: TcpGate
    redis: DurableRedis
    settings: Settings
    worker: WorkerProcess


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    gate_port = free_port()
    with EmbeddedBroker(advertised_port=gate_port) as broker:
        gate = TcpGate(broker.port, port=gate_port).open()
        store = DurableRedis(tmp_path_factory.mktemp("redis")).start()
        settings = Settings(broker=f"kafka://127.0.0.1:{gate.port}", redis_url=store.url, topic_prefix="outage.",
                            key_prefix="outage:", kafka_session_timeout_seconds=6.0, state_key="outage-state-key",
                            partitions=2)
        ensure_topics(settings, settings.topics.all(), partitions=settings.partitions)
        worker = WorkerProcess(settings, tmp_path_factory.mktemp("worker") / "worker.log").start()
        try:
            yield Site(gate, store, settings, worker)
        finally:
            worker.stop()
            gate.cut()
            store.stop()


def stream(model_id: str) -> list[PredictionEvent]:
    return [PredictionEvent(model_id=model_id, model_version="1", event_id=f"e{i}", ts=float(i),
                            features={"x": v}, prediction=v) for i, v in enumerate(two_regimes())]


def produce_steadily(producer: EventProducer, events: list[PredictionEvent], seconds: float) -> threading.Thread:
    def run() -> None:
        pause = seconds / len(events)
        for event in events:
            assert producer.send(event), "a producer with room in its queue accepts every event"
            time.sleep(pause)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def ready_status(worker: WorkerProcess) -> int:
    return http_get(worker, "/ready")[0]


def metric(worker: WorkerProcess, name: str) -> float:
    """The sum over every label set of one sample name."""
    return sum(value for (sample, _), value in metric_samples(worker).items() if sample == name)


def assert_complete(site: Site, model_id: str, events: list[PredictionEvent]) -> None:
    expected = run_backtest(events, MonitoringConfig()).alerts
    assert expected, "the stream drifts"
    assert wait_for_events(site.settings, model_id, len(events), timeout=180).event_count == len(events)
    live = collect(site.settings, site.settings.topics.alerts, DriftAlert, lambda a: a.model_id == model_id,  # type: ignore[attr-defined]
                   until=lambda found: len(found) >= len(expected), timeout=60, settle=3.0)
    assert sorted((a.signal, a.detector, a.event_index) for a in live) == sorted(  # type: ignore[attr-defined]
        (a.signal, a.detector, a.event_index) for a in expected)
    assert len({a.alert_id for a in live}) == len(live)  # type: ignore[attr-defined]


def test_broker_away_for_30s_the_worker_waits_and_the_producer_buffers_then_nothing_is_lost(site: Site) -> None:
    pid = site.worker.process.pid if site.worker.process else None
    events = stream("broker-outage")
    failures: list[DeliveryFailure] = []
    patient = EventProducer(site.settings, ProducerConfig(batch_size=50, delivery_timeout_seconds=180))
    impatient = EventProducer(site.settings, ProducerConfig(delivery_timeout_seconds=5), on_error=failures.append)
    bounded = EventProducer(site.settings, ProducerConfig(max_queue=200, max_buffer_kbytes=64, batch_size=10))
    try:
        sender = produce_steadily(patient, events, seconds=45)
        time.sleep(5)
        site.gate.cut()
        cut_at = time.monotonic()
        doomed = stream("broker-outage-undelivered")[:100]
        for event in doomed:
            impatient.send(event)
        offered = stream("broker-outage-bounded") * 5
        accepted = sum(bounded.send(event) for event in offered)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))
        assert site.worker.running, "the worker kept running through the outage"
        assert impatient.flush(10) == 0
        site.gate.open()
        sender.join(60)
        assert patient.flush(120) == 0
        assert bounded.flush(120) == 0
    finally:
        for producer in (patient, impatient, bounded):
            producer.close(5)

    assert patient.stats.snapshot() == {"queued": len(events), "sent": len(events), "failed": 0, "dropped": 0}
    assert impatient.stats.snapshot()["failed"] == len(doomed)
    assert sum(f.events for f in failures) == len(doomed), "every undeliverable event was reported"
    bounded_stats = bounded.stats.snapshot()
    assert bounded_stats["dropped"] > 0, "a full buffer drops (and counts) rather than growing"
    assert bounded_stats["queued"] == accepted and bounded_stats["dropped"] == len(offered) - accepted
    assert bounded_stats["sent"] == accepted, "everything accepted was delivered once the broker came back"
    assert_complete(site, "broker-outage", events)
    assert site.worker.process is not None and site.worker.process.pid == pid and site.worker.running


def test_redis_away_for_30s_the_worker_waits_with_backoff_then_nothing_is_lost(site: Site) -> None:
    pid = site.worker.process.pid if site.worker.process else None
    events = stream("redis-outage")
    errors_before = metric(site.worker, "driftline_redis_errors_total")
    with EventProducer(site.settings, ProducerConfig(batch_size=50)) as producer:
        sender = produce_steadily(producer, events, seconds=40)
        time.sleep(5)
        site.redis.stop()
        stopped_at = time.monotonic()
        wait_until(lambda: ready_status(site.worker) == 503, timeout=20, what="/ready reports the outage")
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))
        assert site.worker.running, "the worker kept running through the outage"
        errors_during = metric(site.worker, "driftline_redis_errors_total") - errors_before
        site.redis.start()
        sender.join(60)
        assert producer.flush(60) == 0

    assert_complete(site, "redis-outage", events)
    assert 3 <= errors_during <= OUTAGE_SECONDS, "it retried, backing off to a few seconds between tries"
    wait_until(lambda: ready_status(site.worker) == 200, timeout=30, what="/ready recovers")
    assert site.worker.process is not None and site.worker.process.pid == pid and site.worker.running
