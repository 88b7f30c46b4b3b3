"""Redis faults that are not a lost connection: out of memory, a read-only replica, a cluster node
answering MOVED.

Before, each crashed the Faust agent, whose batch was then acked and committed with nothing saved:
the events were gone after a restart, while /ready said 200. Now the worker acks nothing, says why
on /ready and in the outage gauge, raises a `system` alert, and resumes by itself once the cause
clears. Each test has a private Redis (or cluster) and worker on the session broker.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from detectors.config import MonitoringConfig
from driftline.backtest import run_backtest
from driftline.embedded import EmbeddedBroker
from schemas import DriftAlert, LabelEvent, PredictionEvent
from tests.faults import committed_offsets, log_text, metric, private_settings, readiness, system_alerts
from tests.live import WorkerProcess, collect, monitor_state, produce, signal_updates, wait_for_events, wait_until
from tests.outages import DurableRedis
from tests.redis_cluster import LocalCluster
from tests.streams import error_bits, labelled_predictions, two_regimes

pytestmark = pytest.mark.integration


def stream(model_id: str, count: int | None = None) -> list[PredictionEvent]:
    values = two_regimes()[:count] if count else two_regimes()
    return [PredictionEvent(model_id=model_id, model_version="1", event_id=f"e{i}", ts=float(i),
                            features={"x": v}, prediction=v) for i, v in enumerate(values)]


def wait_for_problem(worker: WorkerProcess, text: str) -> str:
    found = ""

    def named() -> bool:
        nonlocal found
        status, found = readiness(worker)
        return status == 503 and text in found

    wait_until(named, timeout=90, what=f"/ready answering 503 naming {text}")
    return found


@dataclass(frozen=True)
class WriteFault:
    """A way to make a real Redis refuse writes, the error it answers with, and how to clear it."""

    error: str
    start: Callable[[redis.Redis], object]
    clear: Callable[[redis.Redis], object]


WRITE_FAULTS = {
    "out-of-memory": WriteFault(
        "OutOfMemoryError",
        lambda c: (c.config_set("maxmemory-policy", "noeviction"), c.config_set("maxmemory", 1)),
        lambda c: c.config_set("maxmemory", 0)),
    "read-only-replica": WriteFault(  # a replica whose primary is gone, as after a failover gone wrong
        "ReadOnlyError",
        lambda c: c.execute_command("REPLICAOF", "127.0.0.1", "1"),
        lambda c: c.execute_command("REPLICAOF", "NO", "ONE")),
}


@pytest.mark.parametrize("fault", list(WRITE_FAULTS.values()), ids=list(WRITE_FAULTS))
def test_a_redis_refusing_writes_acks_nothing_says_so_and_resumes_without_losing_an_event(
        broker: EmbeddedBroker, tmp_path: Path, fault: WriteFault) -> None:
    store = DurableRedis(tmp_path / "redis").start()
    worker = None
    model = f"refused-{fault.error}"
    try:
        settings = private_settings(broker.url, store.url, partitions=2)
        worker = WorkerProcess(settings, tmp_path / "worker.log").start()
        client = redis.Redis.from_url(store.url)
        fault.start(client)  # every write is refused from now on
        events = stream(model, 400)
        produce(settings, settings.topics.predictions, events, batch=10)

        problem = wait_for_problem(worker, fault.error)
        assert metric(worker, "driftline_outage") == 1
        alert = system_alerts(settings, model, "worker")[0]
        assert alert.detector == "redis" and fault.error in (alert.detail or "")
        time.sleep(4)  # longer than Faust's commit interval: an ack would have been committed by now
        assert all(offset < 0 for offset in committed_offsets(settings, settings.topics.predictions)), problem

        fault.clear(client)
        assert wait_for_events(settings, model, len(events), timeout=90).event_count == len(events)
        wait_until(lambda: readiness(worker)[0] == 200, timeout=30, what="/ready back to 200")  # type: ignore[union-attr]
        assert metric(worker, "driftline_outage") == 0
        log = log_text(worker.log_path)
        assert fault.error in log
        assert "EVALSHA" not in log and "of pipeline caused error" not in log, "no command or snapshot bytes logged"
        client.close()
    finally:
        if worker is not None:
            worker.stop()
        store.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    running = LocalCluster(tmp_path_factory.mktemp("cluster")).start()
    yield running
    running.stop()


def test_a_worker_on_a_redis_cluster_raises_the_backtests_alerts(
        broker: EmbeddedBroker, cluster: LocalCluster, tmp_path: Path) -> None:
    """Three models of feature drift, one with inline labels and one whose labels come on the labels
    topic (the first 50 before their predictions): the label join's keys of several models are read
    a model at a time, each model's from the node that owns its slot."""
    settings = private_settings(broker.url, cluster.url)
    models = [f"cluster-values-{i}" for i in range(3)]
    values = [event for model in models for event in stream(model)]
    errors = labelled_predictions(error_bits(), model_id="cluster-errors")
    apart = labelled_predictions(error_bits(), model_id="cluster-labels")
    bare = [event.model_copy(update={"label": None}) for event in apart]
    labels = [LabelEvent(model_id="cluster-labels", event_id=e.event_id, label=e.label, ts=e.ts + 1.0)  # type: ignore[arg-type]
              for e in apart]
    expected = run_backtest(values + errors + labels[:50] + bare + labels[50:], MonitoringConfig()).alerts
    assert any(a.model_id == "cluster-labels" and a.signal == "error" for a in expected), "could not fail"
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        produce(settings, settings.topics.predictions, values, batch=50)
        produce(settings, settings.topics.predictions, errors, batch=20)
        produce(settings, settings.topics.labels, labels[:50], batch=10)
        wait_until(lambda: (state := monitor_state(settings, "cluster-labels")) is not None
                   and state.early_labels_held == 50, timeout=120, what="the early labels held")
        produce(settings, settings.topics.predictions, bare, batch=20)
        assert wait_for_events(settings, "cluster-labels", len(bare), timeout=120).early_labels_held == 0
        produce(settings, settings.topics.labels, labels[50:], batch=20)
        for model in models:
            assert wait_for_events(settings, model, 2_000, timeout=120).event_count == 2_000
        assert wait_for_events(settings, "cluster-errors", len(errors), timeout=120).event_count == len(errors)
        wait_until(lambda: signal_updates(settings, "cluster-labels", "error") == len(labels), timeout=120,
                   what="every label joined")
        live = collect(settings, settings.topics.alerts, DriftAlert, lambda a: True,
                       until=lambda found: len(found) >= len(expected), timeout=60, settle=3.0)
    finally:
        worker.stop()
    assert sorted(a.alert_id for a in live) == sorted(a.alert_id for a in expected)  # type: ignore[attr-defined]
    ports_used = {cluster.node_owning(f"{{{model}}}") for model in [*models, "cluster-errors", "cluster-labels"]}
    assert len(ports_used) > 1, "the models' state is spread over more than one node"


def test_a_cluster_node_given_as_a_plain_url_stalls_the_worker_and_no_event_is_lost(
        broker: EmbeddedBroker, cluster: LocalCluster, tmp_path: Path) -> None:
    node = cluster.ports[0]
    model = next(f"moved-{i}" for i in range(1_000) if cluster.node_owning(f"{{moved-{i}}}") != node)
    plain = private_settings(broker.url, f"redis://127.0.0.1:{node}/0")
    events = stream(model, 300)
    produce(plain, plain.topics.predictions, events, batch=10)
    worker = WorkerProcess(plain, tmp_path / "plain.log").start(wait_ready=False)
    try:
        wait_for_problem(worker, "MovedError")
        assert metric(worker, "driftline_outage") == 1
        alert = system_alerts(plain, model, "worker")[0]
        assert "MovedError" in (alert.detail or "")
        time.sleep(4)
        assert all(offset < 0 for offset in committed_offsets(plain, plain.topics.predictions))
    finally:
        worker.stop()

    fixed = plain.model_copy(update={"redis_url": cluster.url})
    worker = WorkerProcess(fixed, tmp_path / "fixed.log").start()
    try:
        assert wait_for_events(fixed, model, len(events), timeout=90).event_count == len(events)
    finally:
        worker.stop()
